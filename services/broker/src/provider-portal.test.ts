import { createApiToken, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInvoicing } from './billing/domain/invoicing.js';
import { runPayouts } from './billing/domain/payouts.js';
import {
  type CatalogFixture,
  type FakeProvider,
  seedAppsWithAddons,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
} from './testing.js';

// A provider's own data (docs/provider-portal.md): its installations and its money, read
// with its own token; another provider's token, an org token and a publishing-only token
// see none of it. Revenue and payouts are checked against the ledger invoicing froze.

describe.each(testDatabaseKinds('provider portal'))('provider portal ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let a: CatalogFixture;
  let b: CatalogFixture;
  let orgA: string;
  let orgB: string;
  const tokens: Record<string, string> = {};

  const get = async (token: string | undefined, path: string) => {
    const response = await fetch(`${broker.url}/v1/providers${path}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  const orgOf = async (fixture: CatalogFixture) =>
    (
      await database.db
        .selectFrom('platform_organizations')
        .select('organization_id')
        .where('platform_id', '=', fixture.platformId)
        .executeTakeFirstOrThrow()
    ).organization_id;

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'u', password: 'p' } });
    // Ledger-only: payouts show what would be paid.
    broker = await startTestBroker(database, { BILLING_DEFAULT_REVENUE_SHARE: '0.8', BILLING_JOBS_MS: '3600000' });
    const fixture = (plans: { slug: string; free: boolean }[]) =>
      seedCatalog(database.db, broker.secretBox, {
        providerUrl: provider.url,
        auth: { kind: 'basic', username: 'u', password: 'p' },
        plans,
      });
    a = await fixture([
      { slug: 'small', free: false },
      { slug: 'large', free: false },
    ]);
    b = await fixture([{ slug: 'small', free: false }]);
    orgA = await orgOf(a);
    orgB = await orgOf(b);
    await database.db
      .updateTable('plans')
      .set({ regions: ['eu-west'] })
      .where('id', '=', a.plans.small?.id as string)
      .execute();
    // Provider A: two add-ons in org A (small), one in org B (large); provider B: one in org B.
    await seedAppsWithAddons(database.db, broker.secretBox, {
      fixture: a,
      plan: 'small',
      organizationId: orgA,
      prefix: 'a-web',
      apps: 2,
      addonsPerApp: 1,
    });
    await seedAppsWithAddons(database.db, broker.secretBox, {
      fixture: a,
      plan: 'large',
      organizationId: orgB,
      prefix: 'b-api',
      apps: 1,
      addonsPerApp: 1,
    });
    await seedAppsWithAddons(database.db, broker.secretBox, {
      fixture: b,
      plan: 'small',
      organizationId: orgB,
      prefix: 'b-own',
      apps: 1,
      addonsPerApp: 1,
    });
    await database.db
      .updateTable('addons')
      .set({ state: 'failed', last_error: 'provider answered 500: disk full' })
      .where('name', '=', 'b-api-0-db0')
      .execute();
    tokens.a = (await createApiToken(database.db, { kind: 'provider', name: 'a', providerId: a.providerId })).token;
    tokens.b = (await createApiToken(database.db, { kind: 'provider', name: 'b', providerId: b.providerId })).token;
    tokens.publishOnly = (
      await createApiToken(database.db, {
        kind: 'provider',
        name: 'publish',
        providerId: a.providerId,
        scopes: ['catalog:publish'],
      })
    ).token;
    tokens.org = (await createApiToken(database.db, { kind: 'org', name: 'o', organizationId: orgA })).token;
    tokens.admin = (await createApiToken(database.db, { kind: 'admin', name: 'admin' })).token;
  }, 60_000);
  afterAll(async () => {
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  it("lists the provider's add-ons with the organization's name and apps count only, filtered and paged", async () => {
    const all = await get(tokens.a, `/${a.providerSlug}/installations`);
    expect(all.status).toBe(200);
    expect(all.body.totalCount).toBe(3);
    expect(all.body.nextCursor).toBeNull();
    const names = all.body.installations.map((i: { name: string }) => i.name);
    expect(names.sort()).toEqual(['a-web-0-db0', 'a-web-1-db0', 'b-api-0-db0']);
    const failed = all.body.installations.find((i: { name: string }) => i.name === 'b-api-0-db0');
    expect(failed).toEqual({
      id: expect.any(String),
      name: 'b-api-0-db0',
      service: expect.stringMatching(/-db$/),
      plan: 'large',
      state: 'failed',
      region: null,
      organization: { name: 'Acme', apps: 2 },
      lastError: 'provider answered 500: disk full',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      destroyedAt: null,
      cursor: expect.any(String),
    });
    const small = all.body.installations.find((i: { name: string }) => i.name === 'a-web-0-db0');
    expect(small).toMatchObject({ region: 'eu-west', organization: { name: 'Acme', apps: 2 } });
    // Nothing of the organization beyond its name and apps count: no slug, app, config or parameters.
    const text = JSON.stringify(all.body);
    expect(text).not.toContain('a-web-0"');
    expect(text).not.toContain('postgres://');
    expect(text).not.toContain('-acme');

    expect((await get(tokens.a, `/${a.providerSlug}/installations?state=failed`)).body.totalCount).toBe(1);
    const byPlan = await get(tokens.a, `/${a.providerSlug}/installations?plan=small`);
    expect(byPlan.body.installations.map((i: { plan: string }) => i.plan)).toEqual(['small', 'small']);

    // Pages: newest first, stable, each row once.
    const first = await get(tokens.a, `/${a.providerSlug}/installations?first=2`);
    expect(first.body.installations).toHaveLength(2);
    expect(first.body.totalCount).toBe(3);
    const second = await get(
      tokens.a,
      `/${a.providerSlug}/installations?first=2&after=${encodeURIComponent(first.body.nextCursor)}`,
    );
    expect(second.body.installations).toHaveLength(1);
    expect(second.body.nextCursor).toBeNull();
    expect([...first.body.installations, ...second.body.installations].map((i: { id: string }) => i.id)).toEqual(
      all.body.installations.map((i: { id: string }) => i.id),
    );
  });

  it('refuses bad filters and cursors, naming them', async () => {
    const badState = await get(tokens.a, `/${a.providerSlug}/installations?state=running`);
    expect(badState).toMatchObject({ status: 400, body: { error: 'invalid_input', field: 'state' } });
    const badCursor = await get(tokens.a, `/${a.providerSlug}/installations?after=bm9wZQ`);
    expect(badCursor).toMatchObject({ status: 400, body: { error: 'invalid_input', field: 'after' } });
    const tooMany = await get(tokens.a, `/${a.providerSlug}/installations?first=1000`);
    expect(tooMany).toMatchObject({ status: 400, body: { field: 'first' } });
  });

  it("shows a provider's data to that provider and admins only", async () => {
    for (const path of ['installations', 'installations/activity', 'revenue']) {
      expect((await get(tokens.b, `/${a.providerSlug}/${path}`)).body).toEqual({
        error: 'not_found',
        message: `no provider ${a.providerSlug} you can see`,
      });
      expect((await get(tokens.org, `/${a.providerSlug}/${path}`)).status).toBe(401);
      expect((await get(undefined, `/${a.providerSlug}/${path}`)).status).toBe(401);
      expect(await get(tokens.publishOnly, `/${a.providerSlug}/${path}`)).toMatchObject({
        status: 403,
        body: { error: 'forbidden', scope: 'provider:read' },
      });
      expect((await get(tokens.admin, `/${a.providerSlug}/${path}`)).status).toBe(200);
    }
    const own = await get(tokens.b, `/${b.providerSlug}/installations`);
    expect(own.body.installations.map((i: { name: string }) => i.name)).toEqual(['b-own-0-db0']);
  });

  it('counts live add-ons per day from their creation and destruction', async () => {
    const activity = await get(tokens.a, `/${a.providerSlug}/installations/activity?days=3`);
    expect(activity.body.days).toHaveLength(3);
    // Two live; the failed one does not count.
    expect(activity.body.days.at(-1)).toEqual({ day: new Date().toISOString().slice(0, 10), active: 2 });
    await database.db
      .updateTable('addons')
      .set({ state: 'destroyed', destroyed_at: new Date() })
      .where('name', '=', 'a-web-1-db0')
      .execute();
    const after = await get(tokens.a, `/${a.providerSlug}/installations/activity?days=3`);
    expect(after.body.days.at(-1).active).toBe(1);
    await database.db
      .updateTable('addons')
      .set({ state: 'provisioned', destroyed_at: null })
      .where('name', '=', 'a-web-1-db0')
      .execute();
  });

  it('shows revenue and payouts equal to what invoicing and payouts computed from the ledger', async () => {
    const addons = await database.db
      .selectFrom('addons')
      .select(['id', 'organization_id', 'app_id', 'plan_id', 'service_id'])
      .execute();
    // September 2026: every add-on runs 10 days (1500 a month → 500 each).
    await database.db
      .insertInto('usage_intervals')
      .values(
        addons.map((addon) => ({
          addon_id: addon.id,
          organization_id: addon.organization_id,
          app_id: addon.app_id,
          plan_id: addon.plan_id,
          provider_id: addon.service_id === a.serviceId ? a.providerId : b.providerId,
          price_cents: 1500,
          currency: 'usd',
          started_at: new Date('2026-09-01T00:00:00Z'),
          ended_at: new Date('2026-09-11T00:00:00Z'),
        })),
      )
      .execute();
    const ctx = broker.broker.context;
    const now = new Date('2026-11-15T00:00:00Z');
    await runInvoicing(ctx, '2026-09', now);
    // Org B's invoice fails first: the month's first payout counts org A's only.
    await database.db
      .updateTable('invoices')
      .set({ state: 'payment_failed' })
      .where('organization_id', '=', orgB)
      .execute();
    await runPayouts(ctx, '2026-09', now);
    const before = await get(tokens.a, `/${a.providerSlug}/revenue`);
    expect(before.body.mode).toBe('ledger-only');
    expect(before.body.revenueShare).toBe(0.8);
    expect(before.body.months).toHaveLength(1);
    expect(before.body.months[0]).toMatchObject({
      period: '2026-09',
      currency: 'usd',
      grossCents: 1500,
      collectedCents: 1000,
      shareCents: 800,
      adjustmentsCents: 0,
      unpaidOutCents: 0,
    });
    // Paid later: a further payout of the month, shown as an adjustment.
    await database.db.updateTable('invoices').set({ state: 'paid' }).where('organization_id', '=', orgB).execute();
    await runPayouts(ctx, '2026-09', now);
    const revenue = await get(tokens.a, `/${a.providerSlug}/revenue`);
    const [month] = revenue.body.months;

    // The sums, from the ledger: the provider's lines on the month's invoices, and its payout rows.
    const invoices = await database.db
      .selectFrom('invoices')
      .select(['lines', 'state'])
      .where('period', '=', '2026-09')
      .execute();
    const lines = invoices.flatMap((i) => i.lines.filter((l) => l.providerId === a.providerId));
    const payouts = await database.db
      .selectFrom('provider_payouts')
      .selectAll()
      .where('provider_id', '=', a.providerId)
      .orderBy('sequence')
      .execute();
    expect(month.grossCents).toBe(lines.reduce((sum, l) => sum + l.cents, 0));
    expect(month.shareCents).toBe(payouts.reduce((sum, p) => sum + p.amount_cents, 0));
    expect(month).toMatchObject({ grossCents: 1500, collectedCents: 1500, shareCents: 1200, adjustmentsCents: 400 });
    expect(month.payouts).toEqual(
      payouts.map((p) => ({
        id: p.id,
        period: '2026-09',
        currency: 'usd',
        sequence: p.sequence,
        grossCents: p.gross_cents,
        revenueShare: 0.8,
        amountCents: p.amount_cents,
        state: 'ledger_only',
        stripeTransfer: null,
        createdAt: p.created_at.toISOString(),
        paidAt: null,
      })),
    );
    expect(month.payouts.map((p: { sequence: number }) => p.sequence)).toEqual([1, 2]);
    // Provider B sees only its own month: 500 gross.
    const other = await get(tokens.b, `/${b.providerSlug}/revenue`);
    expect(other.body.months).toMatchObject([{ period: '2026-09', grossCents: 500, shareCents: 400 }]);
    expect((await get(tokens.a, `/${a.providerSlug}/revenue?months=0`)).body).toMatchObject({ field: 'months' });
  });
});

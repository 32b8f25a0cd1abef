import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CatalogFixture,
  type FakeProvider,
  seedAppsWithAddons,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
} from '@annex/broker/testing';
import { type Catalog, createCatalog, loadCatalogConfig } from '@annex/catalog';
import { createApiToken, createLogger, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { type CliIo, runCli } from '@annex/sdk/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `annex-provider installs` and `annex-provider payouts` against a running catalog and broker
// (docs/provider-portal.md): what a provider's token reads, as a table and as --json, and
// the money equal to the ledger invoicing and payouts made.

function captureIo(env: Record<string, string> = {}): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, cwd: process.cwd(), env, stdout: (l) => out.push(l), stderr: (l) => err.push(l) };
}

describe.each(testDatabaseKinds('annex-provider portal commands'))('annex-provider portal commands ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let catalog: Catalog;
  let close: () => Promise<void>;
  let catalogUrl = '';
  let fx: CatalogFixture;
  let token = '';
  let otherToken = '';

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'u', password: 'p' } });
    broker = await startTestBroker(database);
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'u', password: 'p' },
      plans: [
        { slug: 'small', free: false },
        { slug: 'large', free: false },
      ],
    });
    const other = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'u', password: 'p' },
      plans: [{ slug: 'small' }],
    });
    const org = (
      await database.db
        .selectFrom('platform_organizations')
        .select('organization_id')
        .where('platform_id', '=', fx.platformId)
        .executeTakeFirstOrThrow()
    ).organization_id;
    await seedAppsWithAddons(database.db, broker.secretBox, {
      fixture: fx,
      plan: 'small',
      organizationId: org,
      prefix: 'shop',
      apps: 3,
      addonsPerApp: 1,
    });
    await database.db
      .updateTable('addons')
      .set({ state: 'failed', last_error: 'provider answered 500' })
      .where('name', '=', 'shop-2-db0')
      .execute();
    catalog = createCatalog(
      loadCatalogConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', CATALOG_BROKER_URL: broker.url }),
      {
        database,
        logger: createLogger('catalog', 'silent'),
        secretBox: broker.secretBox,
      },
    );
    await catalog.start();
    const server = createServer(catalog.app).listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    catalogUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    close = () => new Promise<void>((r) => server.close(() => r()));
    token = (await createApiToken(database.db, { kind: 'provider', name: 'cli', providerId: fx.providerId })).token;
    otherToken = (await createApiToken(database.db, { kind: 'provider', name: 'other', providerId: other.providerId }))
      .token;

    // September 2026 invoiced and paid out (ledger-only): 10 days of each add-on at 15.00 a month.
    const addons = await database.db.selectFrom('addons').selectAll().where('service_id', '=', fx.serviceId).execute();
    await database.db
      .insertInto('usage_intervals')
      .values(
        addons.map((addon) => ({
          addon_id: addon.id,
          organization_id: addon.organization_id,
          app_id: addon.app_id,
          plan_id: addon.plan_id,
          provider_id: fx.providerId,
          price_cents: 1500,
          currency: 'usd',
          started_at: new Date('2026-09-01T00:00:00Z'),
          ended_at: new Date('2026-09-11T00:00:00Z'),
        })),
      )
      .execute();
    const admin = (await createApiToken(database.db, { kind: 'admin', name: 'jobs' })).token;
    for (const job of ['invoicing', 'payouts']) {
      const response = await fetch(`${broker.url}/v1/billing/jobs/${job}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ period: '2026-09' }),
      });
      expect(response.status, job).toBe(200);
    }
  }, 60_000);
  afterAll(async () => {
    await close?.();
    await catalog?.close();
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  const cli = async (args: string[], env: Record<string, string> = {}) => {
    const io = captureIo({ ANNEX_CATALOG_URL: catalogUrl, ANNEX_TOKEN: token, ...env });
    const code = await runCli(args, io);
    return { code, out: io.out.join('\n'), err: io.err.join('\n') };
  };

  it('lists the installations as a table and as JSON, filtered', async () => {
    const listed = await cli(['installs', '--provider', fx.providerSlug]);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(
      /^ADD-ON\s+SERVICE\s+PLAN\s+STATE\s+REGION\s+ORGANIZATION\s+APPS\s+CREATED\s+LAST ERROR/,
    );
    expect(listed.out).toMatch(
      /shop-2-db0\s+\S+-db\s+small\s+failed\s+-\s+Acme\s+3\s+\d{4}-\d\d-\d\d\s+provider answered 500/,
    );
    expect(listed.out).toContain('3 installations');
    const json = await cli(['installs', '--provider', fx.providerSlug, '--state', 'failed', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toEqual({
      provider: fx.providerSlug,
      totalCount: 1,
      installations: [
        expect.objectContaining({
          name: 'shop-2-db0',
          plan: 'small',
          state: 'failed',
          organization: { name: 'Acme', apps: 3 },
          lastError: 'provider answered 500',
        }),
      ],
    });
    const none = await cli(['installs', '--provider', fx.providerSlug, '--plan', 'large']);
    expect(none.out).toBe(`${fx.providerSlug} has no installations matching the filters`);
  });

  it('shows the payouts equal to the ledger, as a table and as JSON', async () => {
    const json = await cli(['payouts', '--provider', fx.providerSlug, '--json']);
    expect(json.code).toBe(0);
    const answer = JSON.parse(json.out);
    const invoices = await database.db.selectFrom('invoices').select('lines').where('period', '=', '2026-09').execute();
    const gross = invoices
      .flatMap((i) => i.lines)
      .filter((l) => l.providerId === fx.providerId)
      .reduce((sum, l) => sum + l.cents, 0);
    const payouts = await database.db
      .selectFrom('provider_payouts')
      .select('amount_cents')
      .where('provider_id', '=', fx.providerId)
      .execute();
    expect(gross).toBe(1500);
    expect(answer).toMatchObject({
      provider: fx.providerSlug,
      mode: 'ledger-only',
      months: [
        {
          period: '2026-09',
          grossCents: gross,
          shareCents: payouts.reduce((sum, p) => sum + p.amount_cents, 0),
          payouts: [{ sequence: 1, amountCents: 1200, state: 'ledger_only', stripeTransfer: null }],
        },
      ],
    });
    const table = await cli(['payouts', '--provider', fx.providerSlug]);
    expect(table.out).toContain('share 80% (ledger-only: payouts show what would be paid; nothing is transferred)');
    expect(table.out).toMatch(/2026-09\s+15\.00 USD\s+15\.00 USD\s+12\.00 USD\s+0\.00 USD\s+0\.00 USD/);
    expect(table.out).toMatch(/2026-09\s+1\s+12\.00 USD\s+ledger_only\s+-\s+-/);
  });

  it("refuses another provider's token, bad flags and no provider, saying what is wrong", async () => {
    const other = await cli(['installs', '--provider', fx.providerSlug], { ANNEX_TOKEN: otherToken });
    expect(other.code).toBe(1);
    expect(other.err).toMatch(
      /^error: the catalog answered: provider \S+'s own data is not for another provider's token/,
    );
    const badState = await cli(['installs', '--provider', fx.providerSlug, '--state', 'running']);
    expect(badState).toMatchObject({ code: 2, err: expect.stringContaining('--state must be one of') });
    const badMonths = await cli(['payouts', '--provider', fx.providerSlug, '--months', 'lots']);
    expect(badMonths).toMatchObject({ code: 2, err: expect.stringContaining('--months must be a whole number') });
    const noProvider = await cli(['payouts']);
    expect(noProvider).toMatchObject({ code: 2, err: expect.stringContaining('pass --provider SLUG') });
    const fromEnv = await cli(['payouts', '--json'], { ANNEX_PROVIDER: fx.providerSlug });
    expect(fromEnv.code).toBe(0);
  });
});

import { createApiToken, createJobRunner, createLogger, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { createBrokerClient } from '@annex/sdk';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CatalogFixture,
  type FakeProvider,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
} from '../testing.js';
import { lockOrgMonth } from './db/locks.js';
import { recordPaymentMethod, stripeReadBegins } from './domain/accounts.js';
import { runDunning } from './domain/dunning.js';
import { runInvoicing } from './domain/invoicing.js';
import { runPayouts } from './domain/payouts.js';
import { runReconciliation } from './domain/reconciliation.js';
import { type BillingJobKinds, billingJobKinds, billingSchedules, runBillingJob } from './domain/worker.js';
import { type FakeStripe, startFakeStripe } from './testing/fake-stripe.js';

// Billing end to end: a real broker (Stripe mode) driving the official SDK over HTTP against
// a local fake Stripe, a fake OSB provider, and PGlite / PostgreSQL (docs/billing.md).
const WEBHOOK_SECRET = 'whsec_test_billing_secret';
const signer = new Stripe('sk_test_signer_only');

describe.each(testDatabaseKinds('billing'))('billing ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let stripe: FakeStripe;
  let broker: TestBroker;
  let ledgerOnly: TestBroker;
  let fx: CatalogFixture;
  let orgId: string;
  let orgToken: string;
  let adminToken: string;
  let providerToken: string;
  let serviceSlug: string;
  const app = `bill-${kind.name}`;

  type Answer = { status: number; body: any };
  const call = async (
    base: TestBroker,
    token: string | undefined,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Answer> => {
    const response = await fetch(`${base.url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const api = (method: string, path: string, body?: unknown) => call(broker, orgToken, method, `/v1${path}`, body);
  const until = async (what: string, check: () => Promise<boolean>, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  const addonState = async (id: string) =>
    (await database.db.selectFrom('addons').select('state').where('id', '=', id).executeTakeFirstOrThrow()).state;
  const sendEvent = async (
    type: string,
    object: Record<string, unknown>,
    options: { created?: number; id?: string } = {},
  ) => {
    const payload = JSON.stringify({
      id: options.id ?? `evt_${Math.random().toString(36).slice(2)}`,
      object: 'event',
      api_version: '2026-10-28.endive',
      created: options.created ?? Math.floor(Date.now() / 1000),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
      data: { object },
    });
    const header = signer.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
    const response = await fetch(`${broker.url}/v1/billing/stripe/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': header },
      body: payload,
    });
    return { status: response.status, body: (await response.json()) as any, payload };
  };

  beforeAll(async () => {
    database = await kind.open();
    stripe = await startFakeStripe({ apiKey: 'sk_test_annex' });
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'u', password: 'p' } });
    const env = {
      APPS_RECONCILE_MS: '50',
      STRIPE_SECRET_KEY: 'sk_test_annex',
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_API_BASE: stripe.url,
      BILLING_GRACE_DAYS: '3',
      BILLING_DEFAULT_REVENUE_SHARE: '0.8',
      BILLING_JOBS_MS: '3600000',
    };
    broker = await startTestBroker(database, env);
    stripe.sendEventsTo(`${broker.url}/v1/billing/stripe/webhook`, WEBHOOK_SECRET);
    ledgerOnly = await startTestBroker(database, { APPS_RECONCILE_MS: '50', BILLING_JOBS_MS: '3600000' });
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'u', password: 'p' },
      plans: [
        { slug: 'free', free: true, planUpdateable: true },
        { slug: 'paid', free: false, planUpdateable: true },
      ],
    });
    await database.db
      .updateTable('plans')
      .set({ metered: JSON.stringify([{ unit: '1k_tokens', price: 2 }]) })
      .where('service_id', '=', fx.serviceId)
      .execute();
    serviceSlug = (
      await database.db.selectFrom('services').select('slug').where('id', '=', fx.serviceId).executeTakeFirstOrThrow()
    ).slug;
    orgId = (
      await database.db
        .selectFrom('platform_organizations')
        .select('organization_id')
        .where('platform_id', '=', fx.platformId)
        .executeTakeFirstOrThrow()
    ).organization_id;
    orgToken = (await createApiToken(database.db, { kind: 'org', name: 'o', organizationId: orgId })).token;
    adminToken = (await createApiToken(database.db, { kind: 'admin', name: 'a' })).token;
    providerToken = (await createApiToken(database.db, { kind: 'provider', name: 'p', providerId: fx.providerId }))
      .token;
    expect((await api('POST', '/apps', { name: app })).status).toBe(201);
  });
  afterAll(async () => {
    await broker?.close();
    await ledgerOnly?.close();
    await provider?.close();
    await stripe?.close();
    await database?.close();
  });

  let paidAddonId: string;
  /** The id the provider knows the add-on's instance by (what usage and allowance name). */
  let paidInstanceId: string;

  it('refuses a paid attach without a payment method and creates nothing; free plans need nothing', async () => {
    const preflight = await api('POST', `/apps/${app}/addons/preflight`, { plan: `${serviceSlug}:paid` });
    expect(preflight.body).toMatchObject({ ok: false, billingMode: 'stripe', paymentRequired: true });
    expect(preflight.body.proration.cents).toBeGreaterThan(0);
    expect(preflight.body.proration.cents).toBeLessThanOrEqual(1500);
    const addonsBefore = await database.db
      .selectFrom('addons')
      .select('id')
      .where('plan_id', '=', fx.plans.paid?.id as string)
      .execute();
    const providerCalls = provider.requests.length;
    const refused = await api('POST', `/apps/${app}/addons`, { plan: `${serviceSlug}:paid`, as: 'PAID' });
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ error: 'payment_required', field: 'plan' });
    const addonsAfter = await database.db
      .selectFrom('addons')
      .select('id')
      .where('plan_id', '=', fx.plans.paid?.id as string)
      .execute();
    expect(addonsAfter.length).toBe(addonsBefore.length);
    expect(provider.requests.length).toBe(providerCalls);
    const attachments = await database.db.selectFrom('attachments').select('id').where('name', '=', 'PAID').execute();
    expect(attachments).toEqual([]);

    const free = await api('POST', `/apps/${app}/addons`, { plan: `${serviceSlug}:free`, as: 'FREE' });
    expect(free.status, JSON.stringify(free.body)).toBe(201);
    // Changing the free add-on to the paid plan is refused the same way.
    const upgrade = await api('PATCH', `/addons/${free.body.addon.name}`, { plan: 'paid' });
    expect(upgrade.status).toBe(402);
    expect(await addonState(free.body.addon.id)).toBe('provisioned');

    // Ledger-only: the same paid attach is allowed, with a clear notice.
    const notice = await call(ledgerOnly, orgToken, 'POST', `/v1/apps/${app}/addons/preflight`, {
      plan: `${serviceSlug}:paid`,
      as: 'LEDGER',
    });
    expect(notice.body).toMatchObject({ ok: true, billingMode: 'ledger-only', paymentRequired: false });
    expect(notice.body.billingNotice).toMatch(/ledger-only/);
  });

  it('takes a payment method (SetupIntent, default method) and then attaches a paid plan', async () => {
    const intent = await api('POST', '/billing/setup-intent');
    expect(intent.status).toBe(201);
    expect(intent.body.clientSecret).toMatch(/^seti_.*_secret_/);
    const declined = await api('PUT', '/billing/payment-method', { paymentMethod: 'pm_card_chargeDeclined' });
    expect(declined.status).toBe(400);
    expect(declined.body).toMatchObject({ error: 'invalid_input', field: 'paymentMethod' });
    const set = await api('PUT', '/billing/payment-method', { paymentMethod: 'pm_card_visa' });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body.paymentMethod).toEqual({
      id: 'pm_card_visa',
      brand: 'visa',
      last4: '4242',
      expMonth: 12,
      expYear: 2034,
    });
    const customers = stripe.list('customer');
    expect(customers).toHaveLength(1);
    expect((customers[0]?.invoice_settings as any).default_payment_method).toBe('pm_card_visa');

    const created = await api('POST', `/apps/${app}/addons`, { plan: `${serviceSlug}:paid`, as: 'PAID' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    paidAddonId = created.body.addon.id;
    paidInstanceId = (
      await database.db
        .selectFrom('service_instances')
        .select('provider_instance_id')
        .where('id', '=', paidAddonId)
        .executeTakeFirstOrThrow()
    ).provider_instance_id as string;
    const intervals = await database.db
      .selectFrom('usage_intervals')
      .selectAll()
      .where('addon_id', '=', paidAddonId)
      .execute();
    expect(intervals).toHaveLength(1);
    expect(intervals[0]).toMatchObject({ price_cents: 1500, ended_at: null });
  });

  it("mirrors a default payment method changed in Stripe's dashboard, whatever the events' order", async () => {
    const customer = stripe.list('customer')[0] as unknown as {
      id: string;
      invoice_settings: { default_payment_method: string | null };
    };
    const client = broker.broker.context.billing.stripe as NonNullable<typeof broker.broker.context.billing.stripe>;
    await client.paymentMethods.attach('pm_card_dashboard', { customer: customer.id });
    await client.customers.update(customer.id, { invoice_settings: { default_payment_method: 'pm_card_dashboard' } });
    const changed = await sendEvent('customer.updated', { id: customer.id, object: 'customer' });
    expect(changed.body.outcome).toBe('applied: default payment method mirrored');
    expect((await api('GET', '/billing/account')).body.paymentMethod).toEqual({
      id: 'pm_card_dashboard',
      brand: 'visa',
      last4: '4242',
      expMonth: 12,
      expYear: 2034,
    });
    // An older event delivered late is read against Stripe's current state: nothing goes back.
    const late = await sendEvent(
      'customer.updated',
      { id: customer.id, object: 'customer', invoice_settings: { default_payment_method: 'pm_card_visa' } },
      { created: Math.floor(Date.now() / 1000) - 3600 },
    );
    expect(late.body.outcome).toBe('applied: default payment method mirrored');
    expect((await api('GET', '/billing/account')).body.paymentMethod.id).toBe('pm_card_dashboard');
    // Removed in the dashboard: the account has none; a paid attach would be refused again.
    customer.invoice_settings.default_payment_method = null;
    const removed = await sendEvent('customer.updated', { id: customer.id, object: 'customer' });
    expect(removed.body.outcome).toBe('applied: default payment method removed');
    expect((await api('GET', '/billing/account')).body.paymentMethod).toBeNull();
    // Back to the card the later tests use.
    await client.customers.update(customer.id, { invoice_settings: { default_payment_method: 'pm_card_visa' } });
    await sendEvent('customer.updated', { id: customer.id, object: 'customer' });
    expect((await api('GET', '/billing/account')).body.paymentMethod.id).toBe('pm_card_visa');
  });

  it('keeps the later of two reads of Stripe when replicas mirror them out of order', async () => {
    const customerId = (stripe.list('customer')[0] as { id: string }).id;
    const db = broker.broker.context.db;
    // Replica A begins reading Stripe, replica B begins later and sees a newer default; A's
    // answer, slower, is applied last. A's read is the older one: it changes nothing.
    const readByA = await stripeReadBegins(db);
    const readByB = await stripeReadBegins(db);
    expect(readByB.getTime()).toBeGreaterThanOrEqual(readByA.getTime());
    const newer = { id: 'pm_card_visa', brand: 'visa', last4: '4242', expMonth: 12, expYear: 2034 };
    const older = { id: 'pm_card_dashboard', brand: 'visa', last4: '4242', expMonth: 12, expYear: 2034 };
    expect(await recordPaymentMethod(db, customerId, newer, readByB)).toBe('applied');
    const aBefore = new Date(readByB.getTime() - 1);
    expect(await recordPaymentMethod(db, customerId, older, aBefore)).toBe('stale');
    expect((await api('GET', '/billing/account')).body.paymentMethod.id).toBe('pm_card_visa');
    // Through the webhook: the event whose read of Stripe began later is the one mirrored,
    // and one that began earlier (A, still above) is reported and ignored.
    const current = await sendEvent('customer.updated', { id: customerId, object: 'customer' });
    expect(current.body.outcome).toBe('applied: default payment method mirrored');
    expect(await recordPaymentMethod(db, customerId, older, readByB)).toBe('stale');
    expect(await recordPaymentMethod(db, 'cus_nobody', older, new Date())).toBe('unknown customer');
    expect((await api('GET', '/billing/account')).body.paymentMethod.id).toBe('pm_card_visa');
  });

  it("sets a SetupIntent's card as the default for our customers only, and never over a newer one", async () => {
    const customer = stripe.list('customer')[0] as unknown as {
      id: string;
      invoice_settings: { default_payment_method: string | null };
    };
    const client = broker.broker.context.billing.stripe as NonNullable<typeof broker.broker.context.billing.stripe>;
    const changedAt = async () =>
      (
        await database.db
          .selectFrom('billing_accounts')
          .select('payment_method_changed_at')
          .where('stripe_customer_id', '=', customer.id)
          .executeTakeFirstOrThrow()
      ).payment_method_changed_at;
    const intent = (id: string, customerId: string, method: string, created: number) => ({
      id,
      object: 'setup_intent',
      customer: customerId,
      payment_method: method,
      status: 'succeeded',
      created,
    });
    const nowSeconds = () => Math.floor(Date.now() / 1000);
    // A mirror that finds the same default leaves "changed" alone.
    const before = await changedAt();
    await sendEvent('customer.updated', { id: customer.id, object: 'customer' });
    expect(await changedAt()).toEqual(before);

    await client.paymentMethods.attach('pm_card_setup', { customer: customer.id });
    const set = await sendEvent(
      'setup_intent.succeeded',
      intent('seti_fresh', customer.id, 'pm_card_setup', nowSeconds()),
    );
    expect(set.body.outcome).toBe('applied: default payment method set');
    expect(customer.invoice_settings.default_payment_method).toBe('pm_card_setup');
    expect((await api('GET', '/billing/account')).body.paymentMethod.id).toBe('pm_card_setup');

    // A SetupIntent that succeeded an hour ago, delivered now (Stripe retried it for a while):
    // the card set since stays the default, in Stripe and in the ledger.
    const late = await sendEvent(
      'setup_intent.succeeded',
      intent('seti_late', customer.id, 'pm_card_visa', nowSeconds() - 3700),
      { created: nowSeconds() - 3600 },
    );
    expect(late.body.outcome).toBe('ignored: another default payment method was set after this SetupIntent succeeded');
    expect(customer.invoice_settings.default_payment_method).toBe('pm_card_setup');
    expect((await api('GET', '/billing/account')).body.paymentMethod.id).toBe('pm_card_setup');

    // Another product's customer on the same Stripe account is not touched.
    const stranger = await client.customers.create({ name: 'not ours' });
    await client.paymentMethods.attach('pm_card_stranger', { customer: stranger.id });
    const foreign = await sendEvent(
      'setup_intent.succeeded',
      intent('seti_foreign', stranger.id, 'pm_card_stranger', nowSeconds()),
    );
    expect(foreign.body.outcome).toBe('ignored: not an Annex customer');
    expect((await client.customers.retrieve(stranger.id)) as Stripe.Customer).toMatchObject({
      invoice_settings: { default_payment_method: null },
    });

    // Detached in Stripe: removed, and a read begun before the detach is not mirrored over it.
    const beforeDetach = await stripeReadBegins(broker.broker.context.db);
    customer.invoice_settings.default_payment_method = null; // as Stripe does when the default goes
    const detached = await sendEvent('payment_method.detached', { id: 'pm_card_setup', object: 'payment_method' });
    expect(detached.body.outcome).toBe('applied: default payment method removed');
    const stale = { id: 'pm_card_setup', brand: 'visa', last4: '4242', expMonth: 12, expYear: 2034 };
    expect(await recordPaymentMethod(broker.broker.context.db, customer.id, stale, beforeDetach)).toBe('stale');
    expect((await api('GET', '/billing/account')).body.paymentMethod).toBeNull();

    // Back to the card the later tests use, through the API (a write, then a read).
    const back = await api('PUT', '/billing/payment-method', { paymentMethod: 'pm_card_visa' });
    expect(back.body.paymentMethod.id).toBe('pm_card_visa');
    expect((await changedAt())?.getTime()).toBeGreaterThan((before as Date).getTime());
  });

  it('splits the interval on a plan change and closes it in the destroy transaction', async () => {
    const free = await api('POST', `/apps/${app}/addons`, { plan: `${serviceSlug}:paid`, as: 'SHORT' });
    const id = free.body.addon.id as string;
    const changed = await api('PATCH', `/addons/${id}`, { plan: 'free' });
    expect(changed.status, JSON.stringify(changed.body)).toBeLessThan(300);
    await until('the plan change', async () => (await addonState(id)) === 'provisioned');
    const split = await database.db
      .selectFrom('usage_intervals')
      .selectAll()
      .where('addon_id', '=', id)
      .orderBy('started_at')
      .orderBy('ended_at', (ob) => ob.nullsLast())
      .execute();
    expect(split.map((i) => i.price_cents)).toEqual([1500, 0]);
    expect(split[0]?.ended_at?.getTime()).toBe(split[1]?.started_at.getTime());
    await api('DELETE', `/apps/${app}/attachments/SHORT`);
    const destroyed = await api('DELETE', `/addons/${id}`);
    expect(destroyed.status).toBeLessThan(300);
    await until('destroyed', async () => (await addonState(id)) === 'destroyed');
    const addon = await database.db.selectFrom('addons').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const closed = await database.db.selectFrom('usage_intervals').selectAll().where('addon_id', '=', id).execute();
    expect(closed.every((i) => i.ended_at !== null)).toBe(true);
    expect(Math.max(...closed.map((i) => i.ended_at?.getTime() ?? 0))).toBe(addon.destroyed_at?.getTime());
  });

  it('stores metered usage once per key, refuses bad batches whole, and enforces spend caps', async () => {
    const usage = (records: unknown[]) => call(broker, providerToken, 'POST', '/v1/provider/usage', { records });
    const at = new Date().toISOString();
    const first = await usage([
      { idempotencyKey: `k1-${kind.name}`, instanceId: paidInstanceId, unit: '1k_tokens', quantity: 100, at },
      { idempotencyKey: `k2-${kind.name}`, instanceId: paidInstanceId, unit: '1k_tokens', quantity: 50, at },
      // A key repeated within one batch is stored once too.
      { idempotencyKey: `k2-${kind.name}`, instanceId: paidInstanceId, unit: '1k_tokens', quantity: 50, at },
    ]);
    expect(first).toMatchObject({ status: 202, body: { accepted: 2, duplicates: 1 } });
    const again = await usage([
      { idempotencyKey: `k1-${kind.name}`, instanceId: paidInstanceId, unit: '1k_tokens', quantity: 100, at },
    ]);
    expect(again.body).toEqual({ accepted: 0, duplicates: 1 });
    const bad = await usage([
      { idempotencyKey: `k3-${kind.name}`, instanceId: paidInstanceId, unit: '1k_tokens', quantity: 1, at },
      { idempotencyKey: `k4-${kind.name}`, instanceId: paidInstanceId, unit: 'gigabytes', quantity: 1, at },
    ]);
    expect(bad.status).toBe(400);
    expect(bad.body.description).toMatch(/records\.1\.unit/);
    const stored = await database.db
      .selectFrom('usage_records')
      .select('idempotency_key')
      .where('addon_id', '=', paidAddonId)
      .execute();
    expect(stored.map((r) => r.idempotency_key).sort()).toEqual([`k1-${kind.name}`, `k2-${kind.name}`]);
    expect((await call(broker, orgToken, 'POST', '/v1/provider/usage', { records: [] })).status).toBe(401);

    const allowance = () =>
      call(broker, providerToken, 'GET', `/v1/provider/instances/${paidInstanceId}/allowance?unit=1k_tokens`);
    expect((await allowance()).body).toEqual({ allowed: true });
    // 150 units × 2 cents = 300 cents spent; a 500-cent cap leaves 100 units and passed 50 %.
    const cap = await api('PUT', '/billing/spend-caps', { limitCents: 500 });
    expect(cap.status).toBe(200);
    expect(cap.body.spendCaps).toEqual([{ app: null, limitCents: 500, spentCents: 300 }]);
    expect((await allowance()).body).toMatchObject({ allowed: true, remaining: 100 });
    await usage([
      { idempotencyKey: `k5-${kind.name}`, instanceId: paidInstanceId, unit: '1k_tokens', quantity: 100, at },
    ]);
    const over = await allowance();
    expect(over.body).toMatchObject({ allowed: false, remaining: 0 });
    const account = await api('GET', '/billing/account');
    expect(account.body.alerts.map((a: any) => a.threshold).sort()).toEqual([100, 50, 80].sort());
    // The app's own cap applies too; removing caps answers allowed again.
    expect((await api('PUT', '/billing/spend-caps', { limitCents: null })).body.spendCaps).toEqual([]);
    expect((await allowance()).body).toEqual({ allowed: true });
    const bad2 = await call(
      broker,
      providerToken,
      'GET',
      `/v1/provider/instances/${paidInstanceId}/allowance?unit=nope`,
    );
    expect(bad2.status).toBe(400);
    const usageView = await api('GET', `/billing/usage?app=${app}`);
    expect(usageView.body.metered).toEqual([expect.objectContaining({ unit: '1k_tokens', quantity: 250, cents: 500 })]);

    // The month's running total is kept by the database itself: a record stored by anyone
    // (a replica of the previous version during a deploy, a hand correction) counts too.
    const totalOf = async (period = at.slice(0, 7)) =>
      Number(
        (
          await database.db
            .selectFrom('usage_totals')
            .select('cents')
            .where('organization_id', '=', orgId)
            .where('period', '=', period)
            .executeTakeFirstOrThrow()
        ).cents,
      );
    expect(await totalOf()).toBe(500);
    const record = await database.db
      .selectFrom('usage_records')
      .selectAll()
      .where('idempotency_key', '=', `k1-${kind.name}`)
      .executeTakeFirstOrThrow();
    const { id: _id, created_at: _created, ...copy } = record;
    await database.db
      .insertInto('usage_records')
      .values({ ...copy, idempotency_key: `by-hand-${kind.name}`, quantity: 0.5, unit_price: 0.3 })
      .execute();
    expect(await totalOf()).toBeCloseTo(500.15, 10);
    // Corrected by hand, then removed (a refund): the total follows the records both times.
    await database.db
      .updateTable('usage_records')
      .set({ quantity: 2 })
      .where('idempotency_key', '=', `by-hand-${kind.name}`)
      .execute();
    expect(await totalOf()).toBeCloseTo(500.6, 10);
    // Moved to the month before: one total loses it, the other gains it, in one statement.
    const previous = new Date(Date.UTC(Number(at.slice(0, 4)), Number(at.slice(5, 7)) - 2, 15));
    await database.db
      .updateTable('usage_records')
      .set({ at: previous })
      .where('idempotency_key', '=', `by-hand-${kind.name}`)
      .execute();
    expect(await totalOf()).toBeCloseTo(500, 10);
    expect(await totalOf(previous.toISOString().slice(0, 7))).toBeCloseTo(0.6, 10);
    await database.db.deleteFrom('usage_records').where('idempotency_key', '=', `by-hand-${kind.name}`).execute();
    expect(await totalOf(previous.toISOString().slice(0, 7))).toBeCloseTo(0, 10);
    expect(await totalOf()).toBeCloseTo(500, 10);
  });

  let invoiceId: string;

  it('invoices a past month once, in Stripe too, however often it reruns', async () => {
    // A whole past month on the paid plan: 31 days, capped at 1500.
    await database.db
      .insertInto('usage_intervals')
      .values({
        addon_id: paidAddonId,
        organization_id: orgId,
        app_id: (await database.db.selectFrom('apps').select('id').where('name', '=', app).executeTakeFirstOrThrow())
          .id,
        plan_id: fx.plans.paid?.id as string,
        provider_id: fx.providerId,
        price_cents: 1500,
        currency: 'usd',
        started_at: new Date('2026-08-20T00:00:00Z'),
        ended_at: new Date('2026-10-01T00:00:00Z'),
      })
      .execute();
    const ctx = broker.broker.context;
    const now = new Date('2026-11-15T00:00:00Z');
    const report = await runInvoicing(ctx, '2026-08', now);
    expect(report.created).toBe(1);
    const first = await runInvoicing(ctx, '2026-09', now);
    expect(first.created).toBe(1);
    const invoices = stripe.list('invoice');
    const items = stripe.list('invoiceitem');
    const rerun = await runInvoicing(ctx, '2026-09', now);
    expect(rerun.created).toBe(0);
    // Usage reported into an invoiced month would never be billed: refused, naming the record.
    const late = await call(broker, providerToken, 'POST', '/v1/provider/usage', {
      records: [
        {
          idempotencyKey: `late-${kind.name}`,
          instanceId: paidInstanceId,
          unit: '1k_tokens',
          quantity: 1,
          at: '2026-09-15T00:00:00Z',
        },
      ],
    });
    expect(late.status).toBe(400);
    expect(late.body.description).toMatch(/^records\.0\.at: 2026-09 is already invoiced/);
    // An invoiced org's month is not computed again on the next hourly run: three queries
    // (the orgs still to invoice, the drafts to push, the report), none per org.
    let queries = 0;
    const counted = ctx.db.withPlugin({
      transformQuery: (args) => {
        queries++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    expect((await runInvoicing({ ...ctx, db: counted }, '2026-09', now)).created).toBe(0);
    expect(queries).toBe(3);
    expect(stripe.list('invoice')).toHaveLength(invoices.length);
    expect(stripe.list('invoiceitem')).toHaveLength(items.length);
    const row = await database.db
      .selectFrom('invoices')
      .selectAll()
      .where('organization_id', '=', orgId)
      .where('period', '=', '2026-09')
      .executeTakeFirstOrThrow();
    invoiceId = row.id;
    expect(row).toMatchObject({ state: 'open', total_cents: 1500 });
    expect(row.lines[0]).toMatchObject({ kind: 'plan', seconds: 30 * 86_400, cents: 1500 });
    const august = await database.db
      .selectFrom('invoices')
      .select('total_cents')
      .where('organization_id', '=', orgId)
      .where('period', '=', '2026-08')
      .executeTakeFirstOrThrow();
    expect(august.total_cents).toBe(600); // 12 days × 50 cents
    const pushed = stripe.list('invoice').find((i) => (i.metadata as any).annex_invoice === row.id);
    expect(pushed).toMatchObject({ status: 'open', total: 1500, id: row.stripe_invoice_id });
    // A draft left by a crash is pushed with the same keys: Stripe replays, nothing new.
    await database.db.updateTable('invoices').set({ state: 'draft' }).where('id', '=', row.id).execute();
    const replayedBefore = stripe.requests.filter((r) => r.replayed).length;
    await runInvoicing(ctx, '2026-09', now);
    expect(stripe.list('invoice')).toHaveLength(invoices.length);
    expect(stripe.list('invoiceitem')).toHaveLength(items.length);
    expect(stripe.requests.filter((r) => r.replayed).length).toBeGreaterThan(replayedBefore);
    await expect(runInvoicing(ctx, '2026-11', now)).rejects.toThrow(/not ended/);
    const listed = await api('GET', '/billing/invoices');
    expect(listed.body.invoices.map((i: any) => i.period)).toEqual(expect.arrayContaining(['2026-09', '2026-08']));
  });

  it('orders usage against the invoicing of its month: on the invoice or refused, never left off', async () => {
    const now = new Date();
    const previous = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 20));
    const period = previous.toISOString().slice(0, 7);
    const report = (key: string, at: Date) =>
      call(broker, providerToken, 'POST', '/v1/provider/usage', {
        records: [
          { idempotencyKey: `${key}-${kind.name}`, instanceId: paidInstanceId, unit: '1k_tokens', quantity: 1, at },
        ],
      });
    // Invoicing holds the org's month while it freezes it: a batch for that month waits,
    // then finds the month invoiced and is refused, with nothing stored. (On PostgreSQL this
    // shows the lock; PGlite's one connection would make the batch wait anyway.)
    let settled = false;
    let pending: ReturnType<typeof report> | undefined;
    const invoice = await database.db.transaction().execute(async (trx) => {
      await lockOrgMonth(trx, orgId, period, 'exclusive');
      pending = report('racing', previous);
      void pending.then(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(settled).toBe(false);
      return trx
        .insertInto('invoices')
        .values({
          organization_id: orgId,
          period,
          currency: 'usd',
          state: 'ledger_only',
          total_cents: 0,
          lines: JSON.stringify([]),
          stripe_invoice_id: null,
          paid_at: null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
    });
    const raced = await (pending as ReturnType<typeof report>);
    expect(raced.status).toBe(400);
    expect(raced.body.description).toMatch(new RegExp(`^records\\.0\\.at: ${period} is already invoiced`));
    const stored = await database.db
      .selectFrom('usage_records')
      .select('id')
      .where('idempotency_key', '=', `racing-${kind.name}`)
      .execute();
    expect(stored).toEqual([]);
    await database.db.deleteFrom('invoices').where('id', '=', invoice.id).execute();
    // A month before the previous one is closed for everyone, invoiced or not: no run bills it.
    const older = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 2, 10));
    const closed = await report('too-old', older);
    expect(closed.status).toBe(400);
    expect(closed.body.description).toMatch(
      /^records\.0\.at: \d{4}-\d{2} is closed; usage is accepted for this month and the previous one/,
    );

    // Usage for the previous month, from an org with nothing else in it, after that month's
    // last hourly run: the next month's first run invoices it with the month before.
    const lastHour = await report('last-hour', previous);
    expect(lastHour.status).toBe(202);
    const ctx = {
      ...broker.broker.context,
      billing: { ...broker.broker.context.billing, mode: 'ledger-only' as const },
    };
    const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1, 1));
    const current = now.toISOString().slice(0, 7);
    try {
      const run = await runBillingJob(ctx, 'invoicing', { now: nextMonth });
      expect(run.period).toBe(current);
      expect(run.monthBefore).toMatchObject({ period, created: 1 });
      const caught = await database.db
        .selectFrom('invoices')
        .select('lines')
        .where('organization_id', '=', orgId)
        .where('period', '=', period)
        .executeTakeFirstOrThrow();
      expect(caught.lines).toEqual([expect.objectContaining({ kind: 'metered', unit: '1k_tokens', quantity: 1 })]);
    } finally {
      // The later tests report usage for this month: its invoices, made here ahead of time, go.
      await database.db.deleteFrom('invoices').where('period', 'in', [period, current]).execute();
      await database.db.deleteFrom('usage_records').where('idempotency_key', '=', `last-hour-${kind.name}`).execute();
    }
  });

  it('verifies and deduplicates webhooks; failure, grace, suspension, restore on payment', async () => {
    const row = await database.db
      .selectFrom('invoices')
      .selectAll()
      .where('id', '=', invoiceId)
      .executeTakeFirstOrThrow();
    const invoice = {
      id: row.stripe_invoice_id,
      object: 'invoice',
      status: 'open',
      metadata: { annex_invoice: row.id },
    };
    const forged = await fetch(`${broker.url}/v1/billing/stripe/webhook`, {
      method: 'POST',
      headers: { 'stripe-signature': 't=1,v1=deadbeef', 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'evt_forged', type: 'invoice.paid', data: { object: invoice } }),
    });
    expect(forged.status).toBe(400);
    expect(await database.db.selectFrom('stripe_events').select('id').where('id', '=', 'evt_forged').execute()).toEqual(
      [],
    );

    const failedAt = Math.floor(Date.now() / 1000) - 60;
    const failed = await sendEvent('invoice.payment_failed', invoice, {
      id: `evt_fail_${kind.name}`,
      created: failedAt,
    });
    expect(failed.body).toMatchObject({ duplicate: false });
    const dup = await sendEvent('invoice.payment_failed', invoice, { id: `evt_fail_${kind.name}`, created: failedAt });
    expect(dup.body).toMatchObject({ duplicate: true });
    let account = (await api('GET', '/billing/account')).body;
    expect(account.status).toBe('past_due');

    const ctx = broker.broker.context;
    expect((await runDunning(ctx, new Date(Date.now() + 2 * 86_400_000))).suspendedAddons).toBe(0);
    expect(await addonState(paidAddonId)).toBe('provisioned');
    const dunning = await runDunning(ctx, new Date(Date.now() + 4 * 86_400_000));
    expect(dunning.suspendedAddons).toBeGreaterThanOrEqual(2);
    expect(await addonState(paidAddonId)).toBe('suspended');
    expect(
      await database.db.selectFrom('addons').select('id').where('id', '=', paidAddonId).executeTakeFirst(),
    ).toBeDefined();
    const allowance = await call(
      broker,
      providerToken,
      'GET',
      `/v1/provider/instances/${paidInstanceId}/allowance?unit=1k_tokens`,
    );
    expect(allowance.body).toMatchObject({ allowed: false });
    account = (await api('GET', '/billing/account')).body;
    expect(account.status).toBe('suspended');
    // The preflight and the attach agree: a suspended account takes no new paid add-on.
    const preflight = await api('POST', `/apps/${app}/addons/preflight`, { plan: `${serviceSlug}:paid` });
    expect(preflight.body).toMatchObject({ ok: false, paymentRequired: true });
    expect(preflight.body.billingNotice).toMatch(/suspended for an unpaid invoice/);
    const attach = await api('POST', `/apps/${app}/addons`, { plan: `${serviceSlug}:paid`, as: 'SUSPENDED' });
    expect(attach.status).toBe(402);
    expect(attach.body.message).toBe(preflight.body.billingNotice);

    const paid = await sendEvent('invoice.paid', { ...invoice, status: 'paid' }, { id: `evt_paid_${kind.name}` });
    expect(paid.body.outcome).toMatch(/restored/);
    expect(await addonState(paidAddonId)).toBe('provisioned');
    expect((await api('GET', '/billing/account')).body).toMatchObject({ status: 'good', pastDueSince: null });

    // Reordered: an older failure delivered after the payment changes nothing.
    const late = await sendEvent('invoice.payment_failed', invoice, {
      id: `evt_late_${kind.name}`,
      created: failedAt - 30,
    });
    expect(late.body.outcome).toMatch(/already paid/);
    expect((await api('GET', '/billing/account')).body.status).toBe('good');
    const stored = await database.db
      .selectFrom('invoices')
      .select('state')
      .where('id', '=', invoiceId)
      .executeTakeFirstOrThrow();
    expect(stored.state).toBe('paid');
  });

  it('pays each provider its share of every invoice once, however often and whenever it is paid', async () => {
    // While an invoice of the month is still being collected, the month's first payout
    // waits (computed now, it would hold only what was paid so far) — for PAYOUT_WAIT_DAYS.
    const paid = await database.db
      .selectFrom('invoices')
      .select('id')
      .where('period', '=', '2026-09')
      .where('state', '=', 'paid')
      .executeTakeFirstOrThrow();
    await database.db.updateTable('invoices').set({ state: 'open' }).where('id', '=', paid.id).execute();
    const waiting = await runPayouts(broker.broker.context, '2026-09', new Date('2026-10-05T00:00:00Z'));
    expect(waiting).toMatchObject({ waitingFor: 1, created: 0, payouts: [], transfers: 0 });
    // After that it pays what is paid; an invoice still open comes later (nothing here yet).
    const after = await runPayouts(broker.broker.context, '2026-09', new Date('2026-10-12T00:00:00Z'));
    expect(after).toMatchObject({ waitingFor: 0, created: 0, payouts: [], transfers: 0 });
    await database.db.updateTable('invoices').set({ state: 'paid' }).where('id', '=', paid.id).execute();
    const noAccount = await runPayouts(broker.broker.context, '2026-09');
    expect(noAccount.payouts).toEqual([
      expect.objectContaining({ provider: fx.providerSlug, grossCents: 1500, amountCents: 1200, state: 'no_account' }),
    ]);
    const forbidden = await api('PUT', `/billing/providers/${fx.providerSlug}`, { stripeAccount: 'acct_123' });
    expect(forbidden.status).toBe(403);
    const set = await call(broker, adminToken, 'PUT', `/v1/billing/providers/${fx.providerSlug}`, {
      stripeAccount: 'acct_provider1',
      revenueShare: 0.7,
    });
    expect(set.body).toEqual({ provider: fx.providerSlug, revenueShare: 0.7, stripeAccount: 'acct_provider1' });
    // A run that made the transfer and then crashed before marking the row paid: the next
    // run finds the transfer at Stripe (by the row's id in its metadata) and makes no other.
    const row = await database.db
      .selectFrom('provider_payouts')
      .select(['id', 'amount_cents'])
      .where('provider_id', '=', fx.providerId)
      .where('period', '=', '2026-09')
      .executeTakeFirstOrThrow();
    const stripeClient = broker.broker.context.billing.stripe as NonNullable<
      typeof broker.broker.context.billing.stripe
    >;
    const crashed = await stripeClient.transfers.create({
      amount: row.amount_cents,
      currency: 'usd',
      destination: 'acct_provider1',
      transfer_group: 'annex-2026-09',
      metadata: { annex_payout: row.id, annex_period: '2026-09', annex_sequence: '1' },
    });
    const first = await call(broker, adminToken, 'POST', '/v1/billing/jobs/payouts', { period: '2026-09' });
    expect(first.body.transfers).toBe(1);
    expect(
      (
        await database.db
          .selectFrom('provider_payouts')
          .select('stripe_transfer_id')
          .where('id', '=', row.id)
          .executeTakeFirstOrThrow()
      ).stripe_transfer_id,
    ).toBe(crashed.id);
    const second = await runPayouts(broker.broker.context, '2026-09');
    expect(second.transfers).toBe(0);
    const transfers = stripe.list('transfer');
    expect(transfers).toHaveLength(1);
    // The row was computed at the share of its first run (0.8).
    expect(transfers[0]).toMatchObject({ amount: 1200, destination: 'acct_provider1', currency: 'usd' });

    // An invoice of September that failed and is paid after the month's payout ran, and
    // after the job moved on to October: a further payout of September, at today's share.
    const lateOrg = (
      await database.db
        .insertInto('organizations')
        .values({ slug: `late-${kind.name}`, name: 'Late payer' })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    const line = {
      kind: 'plan',
      addonId: paidAddonId,
      addon: 'late-addon',
      appId: lateOrg,
      app: 'late-app',
      plan: 'paid',
      providerId: fx.providerId,
      description: 'late-addon (paid) on late-app',
      seconds: 86_400,
      cents: 1000,
    };
    const late = await database.db
      .insertInto('invoices')
      .values({
        organization_id: lateOrg,
        period: '2026-09',
        currency: 'usd',
        state: 'payment_failed',
        total_cents: 1000,
        lines: JSON.stringify([line]),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(await runPayouts(broker.broker.context, '2026-10')).toMatchObject({ created: 0, transfers: 0 });
    await database.db
      .updateTable('invoices')
      .set({ state: 'paid', paid_at: new Date() })
      .where('id', '=', late.id)
      .execute();
    // Stripe refuses the transfer (here: a destination it does not know): reported, the row
    // stays due, and the next run pays it.
    await database.db
      .updateTable('provider_billing')
      .set({ stripe_account_id: 'bogus_account' })
      .where('provider_id', '=', fx.providerId)
      .execute();
    const refused = await runPayouts(broker.broker.context, '2026-10');
    expect(refused).toMatchObject({ created: 1, transfers: 0 });
    expect(refused.transferFailures).toEqual([
      { provider: fx.providerSlug, period: '2026-09', error: expect.stringMatching(/No such destination/) },
    ]);
    await database.db
      .updateTable('provider_billing')
      .set({ stripe_account_id: 'acct_provider1' })
      .where('provider_id', '=', fx.providerId)
      .execute();
    expect(await runPayouts(broker.broker.context, '2026-10')).toMatchObject({
      created: 0,
      transfers: 1,
      transferFailures: [],
    });
    await expect(runPayouts(broker.broker.context, '2099-12')).rejects.toThrow(/has not ended/);
    const september = await runPayouts(broker.broker.context, '2026-09');
    expect(september).toMatchObject({ created: 0, transfers: 0 });
    expect(september.payouts).toEqual([
      expect.objectContaining({ sequence: 1, grossCents: 1500, amountCents: 1200, state: 'paid' }),
      expect.objectContaining({ sequence: 2, grossCents: 1000, amountCents: 700, state: 'paid' }),
    ]);
    expect(stripe.list('transfer')).toHaveLength(2);
    expect(stripe.list('transfer')[1]).toMatchObject({ amount: 700, destination: 'acct_provider1' });
    const counted = await database.db
      .selectFrom('invoices')
      .select(['id', 'paid_out_at'])
      .where('id', 'in', [paid.id, late.id])
      .execute();
    expect(counted.every((invoice) => invoice.paid_out_at !== null)).toBe(true);
  });

  it('reconciles: closes intervals of deleted add-ons, opens missing ones, audit-logs both', async () => {
    const created = await api('POST', `/apps/${app}/addons`, { plan: `${serviceSlug}:free`, as: 'RECON' });
    const live = created.body.addon.id as string;
    await database.db.deleteFrom('usage_intervals').where('addon_id', '=', live).execute();
    // A destroyed add-on whose interval stayed open (as a bug or a hand edit would leave it).
    await database.db
      .insertInto('usage_intervals')
      .values({
        addon_id: (
          await database.db.selectFrom('addons').select('id').where('state', '=', 'destroyed').executeTakeFirstOrThrow()
        ).id,
        organization_id: orgId,
        app_id: created.body.addon.app
          ? (await database.db.selectFrom('apps').select('id').where('name', '=', app).executeTakeFirstOrThrow()).id
          : '',
        plan_id: fx.plans.paid?.id as string,
        provider_id: fx.providerId,
        price_cents: 1500,
        currency: 'usd',
        started_at: new Date(Date.now() - 3_600_000),
        ended_at: null,
      })
      .execute();
    const { findings } = await runReconciliation(broker.broker.context);
    const kinds = findings.map((f) => `${f.kind}:${f.fixed}`);
    expect(kinds).toContain('deleted_but_billed:true');
    expect(findings.find((f) => f.kind === 'billable_orphan' && f.addonId === live)?.fixed).toBe(true);
    expect(
      await database.db
        .selectFrom('usage_intervals')
        .select('id')
        .where('addon_id', '=', live)
        .where('ended_at', 'is', null)
        .execute(),
    ).toHaveLength(1);
    const again = await runReconciliation(broker.broker.context);
    expect(again.findings.filter((f) => f.fixed)).toEqual([]);
    const audit = await database.db
      .selectFrom('broker_audit_log')
      .select('action')
      .where('action', 'like', 'billing.reconcile.%')
      .execute();
    expect(audit.length).toBeGreaterThanOrEqual(2);
  });

  it('reconciles against the provider: a live add-on the provider no longer has is reported, not touched', async () => {
    await database.db
      .updateTable('services')
      .set({ instances_retrievable: true })
      .where('id', '=', fx.serviceId)
      .execute();
    try {
      const kept = await api('POST', `/apps/${app}/addons`, { plan: `${serviceSlug}:free`, as: 'KEPT' });
      const lost = await api('POST', `/apps/${app}/addons`, { plan: `${serviceSlug}:free`, as: 'LOST' });
      const providerId = async (id: string) =>
        (
          await database.db
            .selectFrom('service_instances')
            .select('provider_instance_id')
            .where('id', '=', id)
            .executeTakeFirstOrThrow()
        ).provider_instance_id as string;
      expect(provider.instances.has(await providerId(kept.body.addon.id))).toBe(true);
      provider.instances.delete(await providerId(lost.body.addon.id));
      const { findings } = await runReconciliation(broker.broker.context);
      const missing = findings.filter((f) => f.kind === 'missing_at_provider');
      expect(missing.map((f) => [f.addonId, f.fixed])).toEqual([[lost.body.addon.id, false]]);
      expect(await addonState(lost.body.addon.id)).toBe('provisioned');
    } finally {
      await database.db
        .updateTable('services')
        .set({ instances_retrievable: false })
        .where('id', '=', fx.serviceId)
        .execute();
    }
  });

  it('asks the provider only about add-ons destroyed lately; an old one is still closed if billed', async () => {
    await database.db
      .updateTable('services')
      .set({ instances_retrievable: true })
      .where('id', '=', fx.serviceId)
      .execute();
    try {
      const destroyed: Record<string, string> = {};
      for (const as of ['RECENT', 'OLD']) {
        const id = (await api('POST', `/apps/${app}/addons`, { plan: `${serviceSlug}:free`, as })).body.addon.id;
        await api('DELETE', `/apps/${app}/attachments/${as}`);
        expect((await api('DELETE', `/addons/${id}`)).status).toBeLessThan(300);
        await until(`${as} destroyed`, async () => (await addonState(id)) === 'destroyed');
        destroyed[as] = id;
      }
      const old = destroyed.OLD as string;
      const longAgo = new Date(Date.now() - 8 * 86_400_000);
      await database.db.updateTable('addons').set({ destroyed_at: longAgo }).where('id', '=', old).execute();
      // The old one's interval left open (a bug or a hand edit): still found and closed.
      const interval = await database.db
        .selectFrom('usage_intervals')
        .select('id')
        .where('addon_id', '=', old)
        .orderBy('started_at', 'desc')
        .executeTakeFirstOrThrow();
      await database.db.updateTable('usage_intervals').set({ ended_at: null }).where('id', '=', interval.id).execute();
      const providerSide = async (id: string) =>
        (
          await database.db
            .selectFrom('service_instances')
            .select('provider_instance_id')
            .where('id', '=', id)
            .executeTakeFirstOrThrow()
        ).provider_instance_id as string;
      const before = provider.requests.length;
      const { findings } = await runReconciliation(broker.broker.context);
      const asked = provider.requests.slice(before).filter((r) => r.method === 'GET');
      expect(asked.map((r) => r.path)).toContain(
        `/v2/service_instances/${await providerSide(destroyed.RECENT as string)}`,
      );
      expect(asked.map((r) => r.path)).not.toContain(`/v2/service_instances/${await providerSide(old)}`);
      expect(findings.filter((f) => f.addonId === old).map((f) => `${f.kind}:${f.fixed}`)).toEqual([
        'deleted_but_billed:true',
      ]);
      const closed = await database.db
        .selectFrom('usage_intervals')
        .select('ended_at')
        .where('id', '=', interval.id)
        .executeTakeFirstOrThrow();
      expect(closed.ended_at?.getTime()).toBe(longAgo.getTime());
    } finally {
      await database.db
        .updateTable('services')
        .set({ instances_retrievable: false })
        .where('id', '=', fx.serviceId)
        .execute();
    }
  });

  it("serves the SDK's BrokerClient: batched usage stored once per key, and the allowance", async () => {
    const client = createBrokerClient({ brokerUrl: broker.url, token: providerToken, maxAttempts: 1 });
    try {
      const key = `sdk-${kind.name}`;
      client.reportUsage({ instanceId: paidInstanceId, unit: '1k_tokens', quantity: 7, idempotencyKey: key });
      client.reportUsage({ instanceId: paidInstanceId, unit: '1k_tokens', quantity: 7, idempotencyKey: key });
      await client.flush();
      const rows = await database.db
        .selectFrom('usage_records')
        .select(['quantity'])
        .where('idempotency_key', '=', key)
        .execute();
      expect(rows.map((r) => Number(r.quantity))).toEqual([7]);
      expect(await client.checkAllowance(paidInstanceId, '1k_tokens')).toEqual({ allowed: true });
      await expect(client.checkAllowance(paidInstanceId, 'nope')).rejects.toMatchObject({ status: 400 });
      client.reportUsage({ instanceId: paidInstanceId, unit: 'nope', quantity: 1 });
      await expect(client.flush()).rejects.toMatchObject({ status: 400 });
    } finally {
      await client.close().catch(() => undefined);
    }
  });

  it('runs every job from the job runner, once per due period', async () => {
    // A runner with the broker's billing kinds and schedules, on a clock moved by hand to a
    // day after the broker's own runner (real time) last looked at them.
    const day = (Math.floor(Date.now() / 86_400_000) + 2) * 86_400_000;
    let at = day + 9 * 3_600_000;
    const runner = () =>
      createJobRunner<BillingJobKinds>(database, {
        logger: createLogger('billing-jobs', 'silent'),
        clock: () => at,
        kinds: billingJobKinds(broker.broker.context),
        schedules: billingSchedules({ dunningMs: 60_000 }),
      });
    // A new installation: every job waits for its first period (09:05, 09:10, 09:15, 09:01).
    await runner().runDue();
    at = day + 9 * 3_600_000 + 20 * 60_000;
    await runner().runDue();
    const rows = await database.db.selectFrom('billing_jobs').selectAll().orderBy('name').execute();
    expect(rows.map((r) => r.name)).toEqual(['dunning', 'invoicing', 'payouts', 'reconciliation']);
    expect(rows.every((r) => r.lease_owner === null && r.last_result && !('error' in r.last_result))).toBe(true);
    // Invoicing is not due again for an hour: a second runner's pass leaves it alone.
    const ranAt = rows.find((r) => r.name === 'invoicing')?.last_run_at?.getTime();
    at = day + 10 * 3_600_000 + 4 * 60_000 + 59_000;
    await runner().runDue();
    const after = await database.db
      .selectFrom('billing_jobs')
      .select('last_run_at')
      .where('name', '=', 'invoicing')
      .executeTakeFirstOrThrow();
    expect(after.last_run_at?.getTime()).toBe(ranAt);
  });

  it('adds a card through Stripe Checkout (setup mode): refused attach, Checkout, webhook, attach', async () => {
    const customer = stripe.list('customer')[0] as unknown as {
      id: string;
      invoice_settings: { default_payment_method: string | null };
    };
    const client = broker.broker.context.billing.stripe as NonNullable<typeof broker.broker.context.billing.stripe>;
    // The card is removed in Stripe: a paid attach is refused again.
    customer.invoice_settings.default_payment_method = null;
    await sendEvent('customer.updated', { id: customer.id, object: 'customer' });
    const refused = await api('POST', `/apps/${app}/addons`, { plan: `${serviceSlug}:paid`, as: 'CARD' });
    expect(refused.status).toBe(402);

    // Bad input, a token without billing:write, a ledger-only broker: refused, nothing in Stripe.
    const sessionsBefore = stripe.list('checkout.session').length;
    const badUrl = await api('POST', '/billing/card-checkout', { returnUrl: 'javascript:alert(1)' });
    expect(badUrl.status).toBe(400);
    expect(badUrl.body).toMatchObject({ error: 'invalid_input', field: 'returnUrl' });
    const member = (
      await createApiToken(database.db, { kind: 'org', name: 'm', organizationId: orgId, scopes: ['billing:read'] })
    ).token;
    const returnUrl = 'https://console.example/billing';
    const forbidden = await call(broker, member, 'POST', '/v1/billing/card-checkout', { returnUrl });
    expect(forbidden.status).toBe(403);
    const ledger = await call(ledgerOnly, orgToken, 'POST', '/v1/billing/card-checkout', { returnUrl });
    expect(ledger.status).toBe(409);
    expect(ledger.body.message).toMatch(/ledger-only/);
    expect(stripe.list('checkout.session')).toHaveLength(sessionsBefore);

    const checkout = await api('POST', '/billing/card-checkout', { returnUrl });
    expect(checkout.status, JSON.stringify(checkout.body)).toBe(201);
    expect(checkout.body.url).toBe(`${stripe.url}/checkout/${checkout.body.id}`);
    expect(stripe.objects.get(checkout.body.id)).toMatchObject({
      mode: 'setup',
      customer: customer.id,
      currency: 'usd',
      success_url: `${returnUrl}?checkout={CHECKOUT_SESSION_ID}`,
      cancel_url: returnUrl,
      metadata: { annex_organization: orgId },
    });

    const card = { brand: 'mastercard', last4: '5555', exp_month: 3, exp_year: 2031 };
    const completed = await stripe.completeCheckoutSession(checkout.body.id, card);
    expect(completed.body).toEqual({
      received: true,
      duplicate: false,
      outcome: 'applied: default payment method set',
    });
    // Read afresh: the webhook changed it in the fake (TypeScript still sees the null set above).
    const methodId = (customer as { invoice_settings: { default_payment_method: string } }).invoice_settings
      .default_payment_method;
    expect(methodId).toMatch(/^pm_/);
    expect(stripe.objects.get(methodId)).toMatchObject({ customer: customer.id, card });
    expect((await api('GET', '/billing/account')).body.paymentMethod).toEqual({
      id: methodId,
      brand: 'mastercard',
      last4: '5555',
      expMonth: 3,
      expYear: 2031,
    });
    // Redelivered: answered from the stored event, without calling Stripe again.
    const stripeCalls = stripe.requests.length;
    const again = await stripe.deliver(completed.event);
    expect(again.body).toMatchObject({ duplicate: true, outcome: 'duplicate' });
    expect(stripe.requests.length).toBe(stripeCalls);

    // Another product's customer on the same Stripe account: ignored, not read, not changed.
    const stranger = await client.customers.create({ name: 'not ours' });
    const theirs = await client.checkout.sessions.create({
      mode: 'setup',
      customer: stranger.id,
      currency: 'usd',
      success_url: 'https://elsewhere.example/done',
      cancel_url: 'https://elsewhere.example/',
    });
    const before = stripe.requests.length;
    const foreign = await stripe.completeCheckoutSession(theirs.id);
    expect(foreign.body.outcome).toBe('ignored: not an Annex customer');
    expect(stripe.requests.length).toBe(before);
    expect(((await client.customers.retrieve(stranger.id)) as Stripe.Customer).invoice_settings).toMatchObject({
      default_payment_method: null,
    });
    expect((await api('GET', '/billing/account')).body.paymentMethod.id).toBe(methodId);
    // Our customer, but a session made for another organization: ignored as well.
    const mislabelled = await client.checkout.sessions.create({
      mode: 'setup',
      customer: customer.id,
      currency: 'usd',
      success_url: 'https://elsewhere.example/done',
      cancel_url: 'https://elsewhere.example/',
      metadata: { annex_organization: '00000000-0000-4000-8000-000000000000' },
    });
    const other = await stripe.completeCheckoutSession(mislabelled.id);
    expect(other.body.outcome).toBe("ignored: another organization's session");
    expect(customer.invoice_settings.default_payment_method).toBe(methodId);
    expect((await api('GET', '/billing/account')).body.paymentMethod.id).toBe(methodId);

    // The attach refused above now succeeds.
    const attached = await api('POST', `/apps/${app}/addons`, { plan: `${serviceSlug}:paid`, as: 'CARD' });
    expect(attached.status, JSON.stringify(attached.body)).toBe(201);
  });
});

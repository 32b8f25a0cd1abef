import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createApiToken, createLogger, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CatalogFixture,
  type FakeProvider,
  type OsbClient,
  osbClient,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
  waitForOperation,
} from '../../testing.js';

// Parameters may carry passwords: at rest they are sealed, like binding credentials. The
// provider still receives them, the platform still reads them back, and no log line holds them.
describe.each(testDatabaseKinds('sealed parameters'))('sealed parameters ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let fx: CatalogFixture;
  let osb: OsbClient;
  const logs: string[] = [];
  const secret = (label: string) => `s3cret-${label}-${randomBytes(6).toString('hex')}`;
  const provision = (plan: string, parameters: Record<string, unknown>) => ({
    service_id: fx.serviceOsbId,
    plan_id: fx.plans[plan]?.osbId,
    organization_guid: 'org-1',
    space_guid: 'space-1',
    parameters,
  });
  const providerIdOf = async (instance: string) =>
    (
      await database.db
        .selectFrom('service_instances')
        .select('provider_instance_id')
        .where('id', '=', instance)
        .executeTakeFirstOrThrow()
    ).provider_instance_id as string;

  /** The tables (of every table in the database) with a row whose text holds `text`. */
  const tablesHolding = async (text: string) => {
    const tables = await sql<{ name: string }>`
      select table_name as name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(database.db);
    const holding: string[] = [];
    for (const { name } of tables.rows) {
      const found = await sql<{ n: number }>`
        select count(*)::int as n from ${sql.table(name)} as t where t::text like ${`%${text}%`}`.execute(database.db);
      if (Number(found.rows[0]?.n) > 0) holding.push(name);
    }
    return holding;
  };

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'u', password: 'p' }, asyncPolls: 1 });
    const destination = new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    });
    broker = await startTestBroker(database, {}, undefined, createLogger('broker', 'trace', destination));
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'u', password: 'p' },
      plans: [{ slug: 'sync', planUpdateable: true }, { slug: 'async' }],
    });
    provider.options.modes = { [fx.plans.async?.osbId as string]: 'async' };
    osb = osbClient(broker.url, { username: fx.osbUsername, password: fx.osbPassword });
  });
  afterAll(async () => {
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  it('stores no parameter in plain text, yet the provider receives them and the platform reads them back', async () => {
    const secrets = {
      sync: secret('sync'),
      async: secret('async'),
      update: secret('update'),
      bind: secret('bind'),
      addon: secret('addon'),
    };
    const a = `sealed-a-${kind.name}`;
    const b = `sealed-b-${kind.name}`;
    const created = await osb(
      'PUT',
      `/v2/service_instances/${a}`,
      provision('sync', { password: secrets.sync, size: 1 }),
    );
    expect(created.status).toBe(201);
    const started = await osb(
      'PUT',
      `/v2/service_instances/${b}?accepts_incomplete=true`,
      provision('async', { nested: { password: secrets.async } }),
    );
    expect(started.status).toBe(202);
    expect((await waitForOperation(osb, `/v2/service_instances/${b}/last_operation`)).body.state).toBe('succeeded');

    // Idempotency compares the parameters as they were given.
    expect(
      (await osb('PUT', `/v2/service_instances/${a}`, provision('sync', { password: secrets.sync, size: 1 }))).status,
    ).toBe(200);
    expect(
      (await osb('PUT', `/v2/service_instances/${a}`, provision('sync', { password: 'other', size: 1 }))).status,
    ).toBe(409);

    const updated = await osb('PATCH', `/v2/service_instances/${a}`, {
      service_id: fx.serviceOsbId,
      parameters: { password: secrets.update },
    });
    expect(updated.status).toBe(200);
    const bound = await osb('PUT', `/v2/service_instances/${a}/service_bindings/bind-${a}`, {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans.sync?.osbId,
      parameters: { role_password: secrets.bind },
    });
    expect(bound.status).toBe(201);

    const org = await database.db
      .selectFrom('platform_organizations')
      .select('organization_id')
      .where('platform_id', '=', fx.platformId)
      .executeTakeFirstOrThrow();
    const token = (await createApiToken(database.db, { kind: 'org', name: 'o', organizationId: org.organization_id }))
      .token;
    const service = await database.db
      .selectFrom('services')
      .select('slug')
      .where('id', '=', fx.serviceId)
      .executeTakeFirstOrThrow();
    const v1 = (method: string, path: string, body: unknown) =>
      fetch(`${broker.url}/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await v1('POST', '/apps', { name: `sealed-${kind.name}` })).status).toBe(201);
    const addon = await v1('POST', `/apps/sealed-${kind.name}/addons`, {
      plan: `${service.slug}:sync`,
      parameters: { password: secrets.addon },
    });
    expect(addon.status).toBe(201);

    // The provider received every one of them.
    const sent = provider.requests.map((r) => r.body ?? '').join('\n');
    for (const value of Object.values(secrets)) expect(sent).toContain(value);
    expect(provider.instances.get(await providerIdOf(b))?.body).toContain(secrets.async);

    // The platform reads the instance's and the binding's parameters back (OSB fetch).
    const fetched = await osb('GET', `/v2/service_instances/${a}`);
    expect(fetched.body.parameters).toEqual({ password: secrets.update, size: 1 });
    const fetchedBinding = await osb('GET', `/v2/service_instances/${a}/service_bindings/bind-${a}`);
    expect(fetchedBinding.body.parameters).toEqual({ role_password: secrets.bind });

    // Nothing in the database holds any of them in plain text, and no log line does.
    for (const value of Object.values(secrets)) {
      expect(await tablesHolding(value), value).toEqual([]);
      expect(
        logs.filter((line) => line.includes(value)),
        value,
      ).toEqual([]);
    }
    expect(logs.length).toBeGreaterThan(0);
  });

  it('seals parameters stored in plain text before, at start-up, and reads them the same before and after', async () => {
    const instance = `legacy-${kind.name}`;
    const plain = secret('plain');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provision('sync', {}))).status).toBe(201);
    // As a broker of an earlier version left them: in the plain column and the operation's request.
    await database.db
      .updateTable('service_instances')
      .set({ parameters: JSON.stringify({ password: plain }), parameters_sealed: null })
      .where('id', '=', instance)
      .execute();
    await sql`
      update broker_operations
      set request = jsonb_set(request, '{body,parameters}', ${JSON.stringify({ password: plain })}::jsonb)
      where instance_id = ${instance}`.execute(database.db);
    expect(await tablesHolding(plain)).toEqual(['broker_operations', 'service_instances']);
    expect((await osb('GET', `/v2/service_instances/${instance}`)).body.parameters).toEqual({ password: plain });

    // Another replica starts (same database, same key) and seals them.
    const replica = await startTestBroker(database, { BROKER_WORKERS: 'false' }, broker.secretBox);
    try {
      expect(await tablesHolding(plain)).toEqual([]);
      expect((await osb('GET', `/v2/service_instances/${instance}`)).body.parameters).toEqual({ password: plain });
      const again = await osb('PUT', `/v2/service_instances/${instance}`, provision('sync', { password: plain }));
      expect(again.status).toBe(200);
    } finally {
      await replica.close();
    }
  });
});

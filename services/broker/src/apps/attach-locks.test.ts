import { createApiToken, type Database } from '@annex/platform';
import { type TestDatabaseKind, testDatabaseKinds } from '@annex/platform/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeProvider, seedCatalog, startFakeProvider, startTestBroker, type TestBroker } from '../testing.js';

// Attaches of one add-on lock it, and bind its instance, only as far as decides their conflicts:
// while one attach holds its locks another attach of the same add-on goes through, and a change of
// the add-on or the instance (destroy, unshare, update, deprovision) waits. PostgreSQL only: PGlite
// is one session, where an open transaction holds the only connection.
const postgres = testDatabaseKinds('attach locks').find((k) => k.name === 'postgres');

describe.skipIf(!postgres)('attach locks (postgres)', () => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let token: string;
  let plan: string;

  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${broker.url}/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  beforeAll(async () => {
    database = await (postgres as TestDatabaseKind).open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'u', password: 'p' } });
    broker = await startTestBroker(database);
    const fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'u', password: 'p' },
      plans: [{ slug: 'small', free: true }],
    });
    const service = await database.db
      .selectFrom('services')
      .select('slug')
      .where('id', '=', fx.serviceId)
      .executeTakeFirstOrThrow();
    plan = `${service.slug}:small`;
    const org = await database.db
      .selectFrom('platform_organizations')
      .select('organization_id')
      .where('platform_id', '=', fx.platformId)
      .executeTakeFirstOrThrow();
    await database.db
      .insertInto('apps')
      .values(['owner', 'first', 'second'].map((name) => ({ name, organization_id: org.organization_id })))
      .execute();
    token = (await createApiToken(database.db, { kind: 'org', name: 'o', organizationId: org.organization_id })).token;
  });
  afterAll(async () => {
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  it('attaches an add-on while another attach of it holds its locks; a change of the add-on waits', async () => {
    const created = await post('/apps/owner/addons', { plan });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const addon = created.body.addon as { id: string; name: string };
    await database.db.transaction().execute(async (trx) => {
      // What an attach in progress holds: the add-on and its instance, shared.
      await sql`select id from addons where id = ${addon.id} for share`.execute(trx);
      await sql`select id from service_instances where id = ${addon.id} for share`.execute(trx);
      const attached = await post('/apps/first/attachments', { addon: addon.name, as: 'FIRST' });
      expect(attached.status, JSON.stringify(attached.body)).toBe(201);
      expect(attached.body.attachment.state).toBe('attached');
      // A destroy or an unshare (the add-on's row for update), an update or a deprovision (the
      // instance's) would wait.
      await expect(
        sql`select id from addons where id = ${addon.id} for update nowait`.execute(database.db),
      ).rejects.toThrow(/could not obtain lock/);
      await expect(
        sql`select id from service_instances where id = ${addon.id} for update nowait`.execute(database.db),
      ).rejects.toThrow(/could not obtain lock/);
    });
    const second = await post('/apps/second/attachments', { addon: addon.name, as: 'SECOND' });
    expect(second.body.attachment.state).toBe('attached');
  });
});

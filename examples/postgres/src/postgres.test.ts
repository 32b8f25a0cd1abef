import { randomUUID } from 'node:crypto';
import { createScratchDatabase, serverUrl } from '@annex/platform/testing';
import { type ConformanceBroker, formatReport, runConformance, startConformanceBroker } from '@annex/sdk/conformance';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminDatabase } from './database.js';
import { bindingRole, instanceNames } from './names.js';
import { PLANS } from './plans.js';
import { type RunningExample, startExample } from './provider.js';
import { scramSha256Verifier } from './scram.js';

const url = serverUrl('TEST_DATABASE_URL', 'examples/postgres');
const SLUG = 'annex-postgres';
const SERVICE = '5b3c1a52-4a55-4f0e-9a60-6fd0a2f1a001';
const plan = (slug: string) => PLANS.find((p) => p.slug === slug)!;

interface Reply {
  status: number;
  body: Record<string, any>;
}

describe.runIf(url)('examples/postgres against a real PostgreSQL server', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let broker: ConformanceBroker;
  let running: RunningExample;
  let server: AdminDatabase; // the test's own admin connection, to look at the server
  const created = new Set<string>(); // instance ids, cleaned up whatever happens

  const start = () =>
    startExample({ port: 0, brokerUrl: broker.url, adminUrl: scratch.url, retryAfterSeconds: 1 }).then((r) => {
      running = r;
    });

  async function osb(method: string, path: string, body?: unknown, query: Record<string, string> = {}) {
    const token = await broker.requestToken(SLUG, method, path);
    const search = new URLSearchParams(query).toString();
    const response = await fetch(`${running.url}${path}${search ? `?${search}` : ''}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        'X-Broker-API-Version': '2.17',
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : {} } as Reply;
  }

  async function waitFor(path: string, operation: string): Promise<string> {
    for (let i = 0; i < 300; i++) {
      const polled = await osb('GET', `${path}/last_operation`, undefined, { operation });
      expect(polled.status).toBe(200);
      if (polled.body.state !== 'in progress') return polled.body.state;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`operation ${operation} did not end`);
  }

  async function provision(slug: string): Promise<string> {
    const id = randomUUID();
    created.add(id);
    const path = `/v2/service_instances/${id}`;
    const answer = await osb(
      'PUT',
      path,
      { service_id: SERVICE, plan_id: plan(slug).id, organization_guid: 'org', space_guid: 'space' },
      { accepts_incomplete: 'true' },
    );
    expect(answer.status).toBe(202);
    expect(await waitFor(path, answer.body.operation)).toBe('succeeded');
    return id;
  }

  async function bind(instanceId: string, slug: string, predecessor?: string) {
    const bindingId = randomUUID();
    const answer = await osb('PUT', `/v2/service_instances/${instanceId}/service_bindings/${bindingId}`, {
      service_id: SERVICE,
      plan_id: plan(slug).id,
      bind_resource: { app_guid: 'app' },
      ...(predecessor ? { predecessor_binding_id: predecessor } : {}),
    });
    expect(answer.status).toBe(201);
    return { bindingId, credentials: answer.body.credentials as Record<string, any> };
  }

  async function unbind(instanceId: string, bindingId: string, slug: string) {
    const answer = await osb('DELETE', `/v2/service_instances/${instanceId}/service_bindings/${bindingId}`, undefined, {
      service_id: SERVICE,
      plan_id: plan(slug).id,
    });
    expect(answer.status).toBe(200);
  }

  async function deprovision(instanceId: string, slug: string) {
    const path = `/v2/service_instances/${instanceId}`;
    const answer = await osb('DELETE', path, undefined, {
      service_id: SERVICE,
      plan_id: plan(slug).id,
      accepts_incomplete: 'true',
    });
    expect(answer.status).toBe(202);
    expect(await waitFor(path, answer.body.operation)).toBe('succeeded');
  }

  async function connect(databaseUrl: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: databaseUrl });
    client.on('error', () => {}); // a terminated session reports here
    await client.connect();
    return client;
  }

  async function leftovers(instanceId: string): Promise<string[]> {
    const names = instanceNames(instanceId);
    const { rows } = await server.pool.query<{ name: string }>(
      `select datname as name from pg_database where datname = $1
       union all select rolname from pg_roles where rolname = $2
       union all select r.rolname from pg_roles r join pg_auth_members m on m.member = r.oid
         join pg_roles o on o.oid = m.roleid where o.rolname = $2`,
      [names.database, names.owner],
    );
    return rows.map((r) => r.name);
  }

  beforeAll(async () => {
    scratch = await createScratchDatabase(url!);
    server = new AdminDatabase(scratch.url);
    broker = await startConformanceBroker();
    await start();
  });

  afterAll(async () => {
    await running?.close();
    for (const id of created) await server.dropInstance(instanceNames(id)).catch(() => {});
    // The kit's instances are in the provider's store: drop whatever any of them left.
    const kit = await server.pool
      .query<{ id: string }>('select id from annex_example_pg_instances')
      .catch(() => ({ rows: [] as { id: string }[] }));
    for (const { id } of kit.rows) await server.dropInstance(instanceNames(id)).catch(() => {});
    await server?.close();
    await broker?.close();
    await scratch?.drop();
  });

  it('passes the conformance kit, every plan sync and async, and leaves nothing behind', async () => {
    const report = await runConformance({
      url: running.url,
      auth: { kind: 'jwt', broker, audience: SLUG },
      pollIntervalMs: 100,
    });
    const failed = report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name} — ${c.reason}`);
    expect(failed, formatReport(report)).toEqual([]);
    const names = report.checks.map((c) => c.name);
    expect(names).toContain('[postgres/hobby] async: provision completes');
    expect(names).toContain('[postgres/premium] sync: bind → 201');
    // Every instance the kit created is gone from the server, roles included.
    const { rows } = await server.pool.query<{ id: string }>('select id from annex_example_pg_instances');
    expect(rows.length).toBeGreaterThan(5);
    for (const { id } of rows) expect(await leftovers(id)).toEqual([]);
  });

  it('gives working, isolated credentials; unbind revokes them; deprovision leaves nothing', async () => {
    const a = await provision('hobby');
    const b = await provision('hobby');
    const bindA = await bind(a, 'hobby');
    const bindB = await bind(b, 'hobby');
    expect(bindA.credentials.DATABASE_URL).toMatch(/^postgres:\/\/annex_u_[0-9a-f]{24}:[^@]+@/);
    expect(bindA.credentials.database).toBe(instanceNames(a).database);

    const appA = await connect(bindA.credentials.DATABASE_URL);
    await appA.query('create table notes (id serial primary key, body text not null)');
    await appA.query('insert into notes (body) values ($1)', ['hello from a']);
    expect((await appA.query('select body from notes')).rows).toEqual([{ body: 'hello from a' }]);
    // The plan's statement timeout applies to the app's sessions.
    expect((await appA.query('show statement_timeout')).rows[0].statement_timeout).toBe('5s');
    // Tables belong to the instance's owner role, so they outlive the binding that created them.
    expect((await appA.query(`select tableowner from pg_tables where tablename = 'notes'`)).rows[0].tableowner).toBe(
      instanceNames(a).owner,
    );

    // B's credentials cannot reach A's database at all.
    const crossUrl = new URL(bindB.credentials.DATABASE_URL);
    crossUrl.pathname = `/${instanceNames(a).database}`;
    await expect(connect(crossUrl.toString())).rejects.toThrow(/permission denied for database/);
    // ...but work in their own.
    const appB = await connect(bindB.credentials.DATABASE_URL);
    await expect(appB.query('select * from notes')).rejects.toThrow(/does not exist/);
    await appB.end();

    // Unbind ends A's open session and the credentials stop working.
    await unbind(a, bindA.bindingId, 'hobby');
    await expect(appA.query('select 1')).rejects.toThrow();
    await appA.end().catch(() => {});
    await expect(connect(bindA.credentials.DATABASE_URL)).rejects.toThrow(/does not exist/);
    expect(await server.roleExists(bindingRole(a, bindA.bindingId))).toBe(false);

    // The data stayed with the instance: a new binding reads it.
    const again = await bind(a, 'hobby');
    const appA2 = await connect(again.credentials.DATABASE_URL);
    expect((await appA2.query('select body from notes')).rows).toEqual([{ body: 'hello from a' }]);
    await appA2.end();

    await deprovision(a, 'hobby');
    await deprovision(b, 'hobby');
    expect(await leftovers(a)).toEqual([]);
    expect(await leftovers(b)).toEqual([]);
    await expect(connect(again.credentials.DATABASE_URL)).rejects.toThrow();
  });

  it('rotates credentials and applies a plan change to the database and every role', async () => {
    const id = await provision('standard');
    const first = await bind(id, 'standard');
    const rotated = await bind(id, 'standard', first.bindingId);
    expect(rotated.credentials.username).not.toBe(first.credentials.username);
    expect(rotated.credentials.password).not.toBe(first.credentials.password);

    const app = await connect(first.credentials.DATABASE_URL);
    await app.query('create table kv (k text primary key, v text)');
    await app.query(`insert into kv values ('a', '1')`);
    await app.end();
    const next = await connect(rotated.credentials.DATABASE_URL);
    await next.query(`insert into kv values ('b', '2')`); // the same privileges
    expect((await next.query('select k from kv order by k')).rows).toEqual([{ k: 'a' }, { k: 'b' }]);
    await next.end();
    await unbind(id, first.bindingId, 'standard');

    const names = instanceNames(id);
    const limits = async () =>
      (
        await server.pool.query<{ limit: number }>(
          `select datconnlimit as limit from pg_database where datname = $1
           union all select rolconnlimit from pg_roles where rolname = $2`,
          [names.database, rotated.credentials.username],
        )
      ).rows.map((r) => r.limit);
    expect(await limits()).toEqual([20, 20]);
    const changed = await osb('PATCH', `/v2/service_instances/${id}`, {
      service_id: SERVICE,
      plan_id: plan('premium').id,
      previous_values: { plan_id: plan('standard').id },
    });
    expect(changed.status).toBe(200);
    expect(await limits()).toEqual([100, 100]);
    const after = await connect(rotated.credentials.DATABASE_URL);
    expect((await after.query('show statement_timeout')).rows[0].statement_timeout).toBe('2min');
    await after.end();

    await deprovision(id, 'premium');
    expect(await leftovers(id)).toEqual([]);
  });

  it('refuses parameters it does not take, changing nothing', async () => {
    const id = randomUUID();
    const answer = await osb(
      'PUT',
      `/v2/service_instances/${id}`,
      {
        service_id: SERVICE,
        plan_id: plan('hobby').id,
        organization_guid: 'org',
        space_guid: 'space',
        parameters: { database: 'postgres; drop database test' },
      },
      { accepts_incomplete: 'true' },
    );
    expect(answer.status).toBe(400);
    expect(answer.body.description).toMatch(/database/);
    expect(await leftovers(id)).toEqual([]);
  });

  it('finishes an interrupted provision after a restart, from what the server holds', async () => {
    const id = await provision('hobby');
    const names = instanceNames(id);
    await running.close();
    // Simulate a crash in the middle of provisioning: the store still says "in progress" and
    // the database is there but not marked ready.
    const instance = (await server.pool.query('select data from annex_example_pg_instances where id = $1', [id]))
      .rows[0].data;
    await server.pool.query(`update annex_example_pg_instances set state = 'creating', data = $2 where id = $1`, [
      id,
      { ...instance, state: 'creating' },
    ]);
    await server.pool.query(
      `update annex_example_pg_operations set data = jsonb_set(data, '{state}', '"in progress"')
       where instance_id = $1 and operation = $2`,
      [id, instance.operation],
    );
    await server.pool.query(`comment on database ${names.database} is null`);
    expect(await server.instanceState(names)).toBe('partial');

    await start(); // a new process on the same state
    const path = `/v2/service_instances/${id}`;
    expect(await waitFor(path, instance.operation)).toBe('succeeded');
    expect(await server.instanceState(names)).toBe('ready');
    const fetched = await osb('GET', path);
    expect(fetched.status).toBe(200);
    expect(fetched.body.plan_id).toBe(plan('hobby').id);
    const { credentials } = await bind(id, 'hobby');
    const app = await connect(credentials.DATABASE_URL);
    expect((await app.query('select current_database() as db')).rows[0].db).toBe(names.database);
    await app.end();
    await deprovision(id, 'hobby');
    expect(await leftovers(id)).toEqual([]);
  });

  it("computes the same SCRAM verifier as the server, and stores a binding's password only as one", async () => {
    const role = `annex_scram_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const client = await server.pool.connect();
    try {
      await client.query(`set password_encryption = 'scram-sha-256'`);
      await client.query(`create role ${role} password 'correct horse battery staple'`);
      const stored: string = (await client.query('select rolpassword from pg_authid where rolname = $1', [role]))
        .rows[0].rolpassword;
      const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored)!;
      expect(
        scramSha256Verifier('correct horse battery staple', Buffer.from(salt!, 'base64'), Number(iterations)),
      ).toBe(stored);
    } finally {
      await client.query(`drop role if exists ${role}`);
      client.release();
    }

    const id = await provision('hobby');
    const { credentials } = await bind(id, 'hobby');
    const stored = (
      await server.pool.query('select rolpassword from pg_authid where rolname = $1', [credentials.username])
    ).rows[0].rolpassword as string;
    expect(stored).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(stored).not.toContain(credentials.password);
    await deprovision(id, 'hobby');
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { serverUrl } from '@annex/platform/testing';
import { type ConformanceBroker, formatReport, runConformance, startConformanceBroker } from '@annex/sdk/conformance';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyspace } from './keyspace.js';
import { bindingUser, keyPrefix } from './names.js';
import { PLANS } from './plans.js';
import { type RunningExample, startExample } from './provider.js';

const url = serverUrl('TEST_REDIS_URL', 'examples/redis');
const SLUG = 'annex-redis';
const SERVICE = '6c4d2b63-5b66-4f1f-8b71-7fe1b3f2b002';
const plan = (slug: string) => PLANS.find((p) => p.slug === slug)!;

interface Reply {
  status: number;
  body: Record<string, any>;
}

describe.runIf(url)('examples/redis against a real Redis server', () => {
  // A state prefix of this run's own, so concurrent runs and other suites never meet.
  const statePrefix = `annex-test-${randomBytes(6).toString('hex')}`;
  let broker: ConformanceBroker;
  let running: RunningExample;
  let admin: Redis;
  let keyspace: Keyspace;
  const created = new Set<string>();
  const clients: Redis[] = [];

  const start = async () => {
    running = await startExample({ port: 0, brokerUrl: broker.url, redisUrl: url!, stateKeyPrefix: statePrefix });
  };

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

  async function provision(slug: string): Promise<string> {
    const id = randomUUID();
    created.add(id);
    const answer = await osb('PUT', `/v2/service_instances/${id}`, {
      service_id: SERVICE,
      plan_id: plan(slug).id,
      organization_guid: 'org',
      space_guid: 'space',
    });
    expect(answer.status).toBe(201);
    return id;
  }

  async function bind(instanceId: string, slug: string) {
    const bindingId = randomUUID();
    const answer = await osb('PUT', `/v2/service_instances/${instanceId}/service_bindings/${bindingId}`, {
      service_id: SERVICE,
      plan_id: plan(slug).id,
      bind_resource: { app_guid: 'app' },
    });
    expect(answer.status).toBe(201);
    return { bindingId, credentials: answer.body.credentials as Record<string, any> };
  }

  const query = (slug: string) => ({ service_id: SERVICE, plan_id: plan(slug).id });

  /** Connects as an app would, failing at once instead of retrying. */
  async function connect(redisUrl: string): Promise<Redis> {
    const client = new Redis(redisUrl, {
      lazyConnect: true,
      enableReadyCheck: false, // the ready check runs INFO, which binding users may not
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => {});
    clients.push(client);
    await client.connect();
    return client;
  }

  /** AUTH with a binding's username and password on a fresh connection: OK, or the server's refusal. */
  async function authenticate(credentials: Record<string, any>): Promise<unknown> {
    const probe = await connect(url!);
    try {
      return await probe.call('AUTH', credentials.username, credentials.password);
    } finally {
      probe.disconnect();
    }
  }

  async function keysOf(instanceId: string): Promise<string[]> {
    return admin.keys(`${keyPrefix(instanceId)}:*`);
  }

  beforeAll(async () => {
    broker = await startConformanceBroker();
    admin = new Redis(url!, { lazyConnect: true });
    await admin.connect();
    keyspace = new Keyspace(admin);
    await start();
  });

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await running?.close();
    const stored = await admin.keys(`${statePrefix}:instance:*`);
    const ids = new Set([...created, ...stored.map((k) => decodeURIComponent(k.split(':instance:')[1]!))]);
    for (const id of ids) {
      await keyspace.deleteUsers(await keyspace.users(id));
      await keyspace.deleteKeys(id);
    }
    const state = await admin.keys(`${statePrefix}:*`);
    if (state.length > 0) await admin.unlink(...state);
    admin.disconnect();
    await broker?.close();
  });

  it('passes the conformance kit, every plan sync and async, and leaves no ACL user behind', async () => {
    const report = await runConformance({
      url: running.url,
      auth: { kind: 'jwt', broker, audience: SLUG },
      pollIntervalMs: 100,
    });
    const failed = report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name} — ${c.reason}`);
    expect(failed, formatReport(report)).toEqual([]);
    expect(report.checks.map((c) => c.name)).toContain('[redis/premium] sync: bind → 201');
    const stored = await admin.keys(`${statePrefix}:instance:*`);
    expect(stored.length).toBeGreaterThan(3);
    for (const key of stored) {
      const id = decodeURIComponent(key.split(':instance:')[1]!);
      expect(await keyspace.users(id)).toEqual([]);
    }
  });

  it("isolates instances: each binding reaches its own prefix only, never another instance's keys", async () => {
    const a = await provision('mini');
    const b = await provision('mini');
    const bindA = await bind(a, 'mini');
    const bindB = await bind(b, 'mini');
    expect(bindA.credentials.REDIS_URL).toBe(
      `redis://${bindA.credentials.username}:${bindA.credentials.password}@${bindA.credentials.host}:${bindA.credentials.port}`,
    );
    const prefixA = bindA.credentials.REDIS_KEY_PREFIX as string;
    const prefixB = bindB.credentials.REDIS_KEY_PREFIX as string;
    expect(prefixA).toBe(`${keyPrefix(a)}:`);

    const appA = await connect(bindA.credentials.REDIS_URL);
    const appB = await connect(bindB.credentials.REDIS_URL);
    expect(await appA.set(`${prefixA}greeting`, 'hello a')).toBe('OK');
    expect(await appA.get(`${prefixA}greeting`)).toBe('hello a');
    await appA.hset(`${prefixA}user:1`, 'name', 'Ada');
    expect(await appA.hget(`${prefixA}user:1`, 'name')).toBe('Ada');
    await appB.set(`${prefixB}greeting`, 'hello b');

    // B's credentials cannot read or overwrite A's keys, nor anything outside B's prefix.
    await expect(appB.get(`${prefixA}greeting`)).rejects.toThrow(/NOPERM/);
    await expect(appB.set(`${prefixA}greeting`, 'mine')).rejects.toThrow(/NOPERM/);
    await expect(appB.get('greeting')).rejects.toThrow(/NOPERM/);
    // ...nor list or count the whole keyspace, change database, or flush it.
    await expect(appB.keys('*')).rejects.toThrow(/NOPERM/);
    await expect(appB.scan('0')).rejects.toThrow(/NOPERM/);
    await expect(appB.select(1)).rejects.toThrow(/NOPERM/);
    await expect(appB.flushdb()).rejects.toThrow(/NOPERM/);
    await expect(appB.call('CONFIG', 'GET', 'maxmemory')).rejects.toThrow(/NOPERM/);
    await expect(appB.eval(`return redis.call('GET', KEYS[1])`, 1, `${prefixA}greeting`)).rejects.toThrow(/NOPERM/);
    expect(await admin.get(`${prefixA}greeting`)).toBe('hello a');

    // The mini plan has no pub/sub, even on its own channels.
    await expect(appA.publish(`${prefixA}news`, 'hi')).rejects.toThrow(/NOPERM/);

    // The fetched instance reports the memory its keys use (measured, not enforced).
    const fetched = await osb('GET', `/v2/service_instances/${a}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.metadata.memory).toMatchObject({ limitBytes: 25 * 1024 * 1024, keys: 2, enforced: false });
    expect(fetched.body.metadata.memory.usedBytes).toBeGreaterThan(0);

    // Unbind deletes the ACL user: its connection is closed and the password no longer works.
    const unbound = await osb(
      'DELETE',
      `/v2/service_instances/${a}/service_bindings/${bindA.bindingId}`,
      undefined,
      query('mini'),
    );
    expect(unbound.status).toBe(200);
    expect(await keyspace.users(a)).toEqual([]);
    await expect(appA.get(`${prefixA}greeting`)).rejects.toThrow();
    await expect(authenticate(bindA.credentials)).rejects.toThrow(/WRONGPASS/);
    expect(await authenticate(bindB.credentials)).toBe('OK');
    expect(await keysOf(a)).toHaveLength(2); // the data stays with the instance

    // Deprovision deletes the instance's users and keys, and only those.
    const goneA = await osb('DELETE', `/v2/service_instances/${a}`, undefined, query('mini'));
    expect(goneA.status).toBe(200);
    expect(await keysOf(a)).toEqual([]);
    expect(await keysOf(b)).toEqual([`${prefixB}greeting`]);
    expect(await authenticate(bindB.credentials)).toBe('OK');
    expect(await appB.get(`${prefixB}greeting`)).toBe('hello b');
    const goneB = await osb('DELETE', `/v2/service_instances/${b}`, undefined, query('mini'));
    expect(goneB.status).toBe(200);
    expect(await keysOf(b)).toEqual([]);
    expect(await keyspace.users(b)).toEqual([]);
    await expect(authenticate(bindB.credentials)).rejects.toThrow(/WRONGPASS/);
  });

  it("lets premium users publish and subscribe on their instance's channels only, after a plan change too", async () => {
    const id = await provision('mini');
    const { credentials } = await bind(id, 'mini');
    const prefix = credentials.REDIS_KEY_PREFIX as string;
    const app = await connect(credentials.REDIS_URL);
    await expect(app.publish(`${prefix}news`, 'x')).rejects.toThrow(/NOPERM/);

    const changed = await osb('PATCH', `/v2/service_instances/${id}`, {
      service_id: SERVICE,
      plan_id: plan('premium').id,
      previous_values: { plan_id: plan('mini').id },
    });
    expect(changed.status).toBe(200);
    // The existing user, password unchanged, now has the premium rules.
    const subscriber = await connect(credentials.REDIS_URL);
    const received = new Promise<string>((resolve) =>
      subscriber.on('message', (_channel, message) => resolve(message)),
    );
    await subscriber.subscribe(`${prefix}news`);
    expect(await app.publish(`${prefix}news`, 'extra, extra')).toBe(1);
    expect(await received).toBe('extra, extra');
    await expect(app.publish('elsewhere', 'x')).rejects.toThrow(/NOPERM/);
    await expect(app.call('PUBSUB', 'CHANNELS')).rejects.toThrow(/NOPERM/);
    subscriber.disconnect();

    const gone = await osb('DELETE', `/v2/service_instances/${id}`, undefined, query('premium'));
    expect(gone.status).toBe(200);
    expect(await keyspace.users(id)).toEqual([]);
  });

  it('refuses parameters it does not take, changing nothing', async () => {
    const id = randomUUID();
    const answer = await osb('PUT', `/v2/service_instances/${id}`, {
      service_id: SERVICE,
      plan_id: plan('mini').id,
      organization_guid: 'org',
      space_guid: 'space',
      parameters: { prefix: '*' },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.description).toMatch(/prefix/);
    expect(await osb('GET', `/v2/service_instances/${id}`)).toMatchObject({ status: 404 });
  });

  it('keeps its state across a restart', async () => {
    const id = await provision('premium');
    const { bindingId, credentials } = await bind(id, 'premium');
    const app = await connect(credentials.REDIS_URL);
    await app.set(`${credentials.REDIS_KEY_PREFIX}k`, 'v');
    app.disconnect();
    await running.close();
    await start(); // a new process: everything it knows comes from Redis

    const fetched = await osb('GET', `/v2/service_instances/${id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.plan_id).toBe(plan('premium').id);
    const binding = await osb('GET', `/v2/service_instances/${id}/service_bindings/${bindingId}`);
    expect(binding.status).toBe(200);
    expect(binding.body.credentials.REDIS_URL).toBe(credentials.REDIS_URL);
    const unbound = await osb(
      'DELETE',
      `/v2/service_instances/${id}/service_bindings/${bindingId}`,
      undefined,
      query('premium'),
    );
    expect(unbound.status).toBe(200);
    const gone = await osb('DELETE', `/v2/service_instances/${id}`, undefined, query('premium'));
    expect(gone.status).toBe(200);
    expect(await keysOf(id)).toEqual([]);
    expect(await keyspace.users(id)).toEqual([]);
    expect(bindingUser(id, bindingId)).toMatch(/^annex-i-[0-9a-f]{24}-b-[0-9a-f]{16}$/);
  });
});

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@annex/platform';
import { captureLogs, serverUrl } from '@annex/platform/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { loadLocalConfig } from './config.js';
import { type Marketplace, startMarketplace } from './marketplace.js';

// A port free now, fixed for both starts: the AI gateway's URL is in its published manifest.
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

// What `npm start` does, on a fresh embedded database and then again on the same one.
describe('the embedded marketplace', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'annex-local-'));
  const aiPort = await freePort();
  const env = {
    ANNEX_DATA_DIR: dataDir,
    CATALOG_PORT: '0',
    CONSOLE_PORT: '0',
    BROKER_PORT: '0',
    EXAMPLE_AI_PORT: String(aiPort),
    LOG_LEVEL: 'silent',
  };
  // What `npm start` prints, kept to read.
  const logs = captureLogs('annex', 'info');
  const logger = logs.logger;
  let first: Marketplace | undefined;
  let second: Marketplace | undefined;
  afterAll(async () => {
    await first?.close();
    await second?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const graphql = async (m: Marketplace, query: string, token?: string) => {
    const res = await fetch(`${m.catalogUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query }),
    });
    return { status: res.status, body: (await res.json()) as { data?: any; errors?: unknown[] } };
  };

  it('starts on a fresh database with a seeded catalog and working development credentials', async () => {
    first = await startMarketplace(loadLocalConfig(env), env, logger);
    const credentials = first.credentials;
    expect(credentials).not.toBeNull();
    expect(first.seeded).toEqual(['annex-postgres: revision 1', 'annex-redis: revision 1', 'annex-ai: revision 1']);
    for (const url of [first.catalogUrl, first.brokerUrl]) {
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
    }
    const { body } = await graphql(first, '{ services(first: 10) { edges { node { slug } } } }');
    expect(body.data.services.edges.map((e: { node: { slug: string } }) => e.node.slug).sort()).toEqual([
      'ai-gateway',
      'postgres',
      'redis',
    ]);
    const basic = Buffer.from(`${credentials?.osbUsername}:${credentials?.osbPassword}`).toString('base64');
    const osb = await fetch(`${first.brokerUrl}/v2/catalog`, {
      headers: { authorization: `Basic ${basic}`, 'x-broker-api-version': '2.17' },
    });
    expect(osb.status).toBe(200);
    expect(((await osb.json()) as { services: unknown[] }).services).toHaveLength(3);
    const wrong = await fetch(`${first.brokerUrl}/v2/catalog`, {
      headers: {
        authorization: `Basic ${Buffer.from(`${credentials?.osbUsername}:nope`).toString('base64')}`,
        'x-broker-api-version': '2.17',
      },
    });
    expect(wrong.status).toBe(401);

    // Every example is listed; with the embedded default only the AI gateway runs.
    expect(first.examples.map((e) => [e.slug, e.running])).toEqual([
      ['annex-postgres', false],
      ['annex-redis', false],
      ['annex-ai', true],
    ]);
    expect(first.examples.find((e) => e.slug === 'annex-postgres')?.detail).toMatch(/EXAMPLE_POSTGRES_URL/);
    expect(first.examples.find((e) => e.slug === 'annex-redis')?.detail).toMatch(/EXAMPLE_REDIS_URL/);
    expect(first.examples.find((e) => e.slug === 'annex-ai')?.url).toBe(`http://127.0.0.1:${aiPort}`);

    // Attach the AI gateway through the broker's OSB API, as a platform does, and use the key.
    const osbCall = async (method: 'GET' | 'PUT', path: string, body?: unknown) => {
      const res = await fetch(`${first?.brokerUrl}${path}`, {
        method,
        headers: {
          authorization: `Basic ${basic}`,
          'x-broker-api-version': '2.17',
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const settle = async (path: string) => {
      for (let i = 0; i < 100; i++) {
        const { body } = await osbCall('GET', `${path}/last_operation`);
        if (body.state !== 'in progress') return body.state as string;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return 'in progress';
    };
    const catalog = await osbCall('GET', '/v2/catalog');
    const ai = catalog.body.services.find((s: { name: string }) => s.name === 'ai-gateway');
    const plan = ai.plans.find((p: { name: string }) => p.name === 'starter');
    const instance = `/v2/service_instances/${randomUUID()}`;
    const provisioned = await osbCall('PUT', `${instance}?accepts_incomplete=true`, {
      service_id: ai.id,
      plan_id: plan.id,
      organization_guid: 'org-demo',
      space_guid: 'space-demo',
    });
    expect([201, 202]).toContain(provisioned.status);
    if (provisioned.status === 202) expect(await settle(instance)).toBe('succeeded');
    const binding = `${instance}/service_bindings/${randomUUID()}`;
    let bound = await osbCall('PUT', `${binding}?accepts_incomplete=true`, { service_id: ai.id, plan_id: plan.id });
    expect([201, 202]).toContain(bound.status);
    if (bound.status === 202) {
      expect(await settle(binding)).toBe('succeeded');
      bound = await osbCall('GET', binding);
    }
    const { OPENAI_API_KEY, OPENAI_BASE_URL } = bound.body.credentials;
    expect(OPENAI_BASE_URL).toBe(`http://127.0.0.1:${aiPort}/v1`);
    const completion = await fetch(`${OPENAI_BASE_URL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPENAI_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'annex-echo-1', messages: [{ role: 'user', content: 'Hello from Annex' }] }),
    });
    expect(completion.status).toBe(200);
    expect(((await completion.json()) as any).choices[0].message.content).toBe('You said : Hello from Annex');

    await first.close();
    first = undefined;
  });

  it('logs each line with its service, once', () => {
    const services = logs.lines.map((line) => line.match(/"service":"([^"]*)"/g) ?? []);
    expect(services.filter((found) => found.length !== 1)).toEqual([]);
    const named = new Set(logs.records().map((r) => r.service));
    // Requests to the catalog and the broker above, and the gateway's metered calls.
    expect(named).toContain('catalog');
    expect(named).toContain('broker');
  });

  it('on the next start keeps its data, prints no new credentials and republishes nothing', async () => {
    second = await startMarketplace(loadLocalConfig(env), env, logger);
    expect(second.credentials).toBeNull();
    expect(second.seeded).toEqual([
      'annex-postgres: revision 1 (unchanged)',
      'annex-redis: revision 1 (unchanged)',
      'annex-ai: revision 1 (unchanged)',
    ]);
  });

  it('refuses a bad variable by name before starting anything', () => {
    expect(() => loadLocalConfig({ ANNEX_SEED_DEMO: 'maybe' })).toThrow(/ANNEX_SEED_DEMO/);
    expect(() => loadLocalConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadLocalConfig({ EXAMPLE_AI_PORT: 'eighty' })).toThrow(/EXAMPLE_AI_PORT/);
    expect(() => loadLocalConfig({ EXAMPLE_REDIS_URL: 'http://x' })).toThrow(/EXAMPLE_REDIS_URL/);
  });
});

const postgresServer = serverUrl('TEST_DATABASE_URL', 'npm start with the PostgreSQL example');
const redisServer = serverUrl('TEST_REDIS_URL', 'npm start with the Redis example');

describe.runIf(postgresServer && redisServer)(
  'the embedded marketplace with EXAMPLE_POSTGRES_URL and EXAMPLE_REDIS_URL',
  () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'annex-local-'));
    let marketplace: Marketplace | undefined;
    afterAll(async () => {
      await marketplace?.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('runs all three example providers, each behind the published URL', async () => {
      const env = {
        ANNEX_DATA_DIR: dataDir,
        CATALOG_PORT: '0',
        CONSOLE_PORT: '0',
        BROKER_PORT: '0',
        EXAMPLE_POSTGRES_PORT: '0',
        EXAMPLE_REDIS_PORT: '0',
        EXAMPLE_AI_PORT: '0',
        EXAMPLE_POSTGRES_URL: postgresServer,
        EXAMPLE_REDIS_URL: redisServer,
        LOG_LEVEL: 'silent',
      };
      marketplace = await startMarketplace(loadLocalConfig(env), env, createLogger('annex', 'silent'));
      expect(marketplace.examples.map((e) => [e.slug, e.running])).toEqual([
        ['annex-postgres', true],
        ['annex-redis', true],
        ['annex-ai', true],
      ]);
      for (const example of marketplace.examples) {
        expect(example.manifest.osb?.url).toBe(example.url);
        // Served, and only to the broker: an unsigned catalog request is refused.
        const unsigned = await fetch(`${example.url}/v2/catalog`, { headers: { 'x-broker-api-version': '2.17' } });
        expect(unsigned.status, example.slug).toBe(401);
      }
    });
  },
);

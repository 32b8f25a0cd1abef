import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyWebhookSignature } from '@annex/broker';
import { runCli } from '@annex/cli';
import { loadLocalConfig, type Marketplace, startMarketplace } from '@annex/local';
import { createLogger } from '@annex/platform';
import { serverUrl } from '@annex/platform/testing';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The apps flow against the whole running stack (`startMarketplace`: catalog, broker
// and the example providers in one process): the CLI and GraphQL create an add-on, attach it to
// a second app under another name, the vars appear in both, the platform's webhook arrives and
// verifies, rotation swaps the credentials, destroy removes the vars and the provider holds
// nothing. Each example's credentials are used for real: they must work, not just exist.

const postgresServer = serverUrl('TEST_DATABASE_URL', 'end-to-end apps with the PostgreSQL example');
const redisServer = serverUrl('TEST_REDIS_URL', 'end-to-end apps with the Redis example');

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Delivery {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  verified: boolean;
  error?: string;
}

describe('apps end to end, through the CLI and GraphQL, against the running marketplace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'annex-e2e-'));
  const brokerPort = await freePort();
  const env: Record<string, string> = {
    ANNEX_DATA_DIR: join(dir, 'data'),
    CATALOG_PORT: '0',
    CONSOLE_PORT: '0',
    BROKER_PORT: String(brokerPort),
    CATALOG_BROKER_URL: `http://127.0.0.1:${brokerPort}`,
    EXAMPLE_AI_PORT: String(await freePort()),
    EXAMPLE_POSTGRES_PORT: String(await freePort()),
    EXAMPLE_REDIS_PORT: String(await freePort()),
    APPS_RECONCILE_MS: '100',
    WEBHOOK_RETRY_BASE_MS: '100',
    LOG_LEVEL: 'silent',
    ...(postgresServer ? { EXAMPLE_POSTGRES_URL: postgresServer } : {}),
    ...(redisServer ? { EXAMPLE_REDIS_URL: redisServer } : {}),
  };
  let marketplace: Marketplace;
  let orgToken: string;
  let platformToken: string;
  let receiver: Server;
  let webhookSecret = '';
  const deliveries: Delivery[] = [];

  const annex = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      [...argv, '--catalog', `${marketplace.catalogUrl}/graphql`],
      { catalogUrl: undefined, token: orgToken, configDir: join(dir, 'cli') },
      { stdout: (t) => out.push(t), stderr: (t) => err.push(t) },
      async () => '',
      100,
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const annexJson = async <T>(argv: string[]): Promise<T> => {
    const result = await annex([...argv, '--json']);
    if (result.code !== 0)
      throw new Error(`annex ${argv.join(' ')} exited ${result.code}: ${result.out} ${result.err}`);
    return JSON.parse(result.out) as T;
  };
  const gql = async <T = any>(query: string, variables: Record<string, unknown> = {}, token = orgToken) => {
    const response = await fetch(`${marketplace.catalogUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
    if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join('; '));
    return body.data as T;
  };
  /** What a platform's runtime pulls: `GET /v1/apps/:app/config-vars`. */
  const pull = async (app: string, token = orgToken) => {
    const response = await fetch(`${marketplace.brokerUrl}/v1/apps/${app}/config-vars`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return {
      status: response.status,
      body: (await response.json()) as { release: number; vars: Record<string, string> },
    };
  };
  const until = async (what: string, check: () => Promise<boolean>, ms = 30_000) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  beforeAll(async () => {
    marketplace = await startMarketplace(loadLocalConfig(env), env, createLogger('annex', 'silent'));
    orgToken = marketplace.credentials?.orgToken as string;
    platformToken = marketplace.credentials?.platformToken as string;
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const delivery: Delivery = { headers: req.headers, body, verified: false };
        try {
          verifyWebhookSignature({ secret: webhookSecret, headers: req.headers, body });
          delivery.verified = true;
        } catch (error) {
          delivery.error = (error as Error).message;
        }
        deliveries.push(delivery);
        res.writeHead(delivery.verified ? 204 : 400).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as { port: number }).port;
    const configured = await fetch(`${marketplace.brokerUrl}/v1/platforms/self/webhook`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${platformToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `http://127.0.0.1:${port}/annex` }),
    });
    expect(configured.status).toBe(200);
    webhookSecret = ((await configured.json()) as { secret: string }).secret;
  }, 120_000);
  afterAll(async () => {
    await marketplace?.close();
    await new Promise((resolve) => receiver?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, shares, notifies, rotates and destroys an AI endpoint add-on whose key works', async () => {
    expect((await annex(['apps:create', 'shop'])).code).toBe(0);
    expect((await annex(['apps:create', 'shop-worker'])).code).toBe(0);

    // CLI: create the add-on on shop and wait for it.
    const created = await annexJson<{ addon: { name: string } }>([
      'addons:create',
      'ai-gateway:scale', // metered per 1k tokens: the gateway reports usage (ledger-only billing)
      '--app',
      'shop',
      '--wait',
    ]);
    const addon = created.addon.name;
    expect(addon).toMatch(/^ai-gateway-[a-z]+-\d{4}$/);

    // GraphQL: attach it to shop-worker as LLM.
    const attached = await gql(
      `mutation($input: AttachAddonInput!) { attachAddon(input: $input) {
        __typename ... on AttachAddonSuccess { attachment { name state configVarNames } } ... on Error { message } } }`,
      { input: { addon, app: 'shop-worker', as: 'LLM' } },
    );
    expect(attached.attachAddon.__typename).toBe('AttachAddonSuccess');
    await until('the LLM attachment', async () => {
      const data = await gql(`{ app(name: "shop-worker") { attachments { name state } } }`);
      return data.app.attachments.some(
        (a: { name: string; state: string }) => a.name === 'LLM' && a.state === 'ATTACHED',
      );
    });

    const shop = await pull('shop');
    const worker = await pull('shop-worker');
    expect(Object.keys(shop.body.vars).sort()).toEqual(['OPENAI_API_KEY', 'OPENAI_BASE_URL']);
    expect(Object.keys(worker.body.vars).sort()).toEqual(['LLM_API_KEY', 'LLM_BASE_URL']);
    expect(worker.body.vars.LLM_API_KEY).not.toBe(shop.body.vars.OPENAI_API_KEY);

    // The credentials work: a real chat completion through the gateway with each app's key.
    const chat = (base: string, key: string) =>
      fetch(`${base}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'annex-echo-1', messages: [{ role: 'user', content: 'hello' }] }),
      });
    expect((await chat(shop.body.vars.OPENAI_BASE_URL as string, shop.body.vars.OPENAI_API_KEY as string)).status).toBe(
      200,
    );
    expect((await chat(worker.body.vars.LLM_BASE_URL as string, worker.body.vars.LLM_API_KEY as string)).status).toBe(
      200,
    );

    // The gateway metered those tokens and reported them to the broker: the
    // owner's usage for the month shows them.
    await until(
      'metered usage reported',
      async () => {
        const usage = await gql(`{ usage(app: "shop") { metered { addon unit quantity } } }`);
        return usage.usage.metered.some(
          (m: { addon: string; quantity: number }) => m.addon === addon && m.quantity > 0,
        );
      },
      20_000,
    );

    // The platform heard about both apps' changes, signed.
    await until('webhooks for both apps', async () => {
      const apps = new Set(deliveries.map((d) => (JSON.parse(d.body) as { app: string }).app));
      return apps.has('shop') && apps.has('shop-worker');
    });
    expect(deliveries.every((d) => d.verified)).toBe(true);
    const first = JSON.parse(deliveries.find((d) => d.body.includes('"shop-worker"'))?.body as string);
    expect(first).toMatchObject({
      type: 'app.config_vars.changed',
      app: 'shop-worker',
      changed: ['LLM_API_KEY', 'LLM_BASE_URL'],
    });
    expect(JSON.stringify(deliveries.map((d) => d.body))).not.toContain(worker.body.vars.LLM_API_KEY);

    // GraphQL: rotate with no grace period; both apps get new keys in one release each, the old ones stop working.
    const rotated = await gql(
      `mutation($input: RotateAddonCredentialsInput!) { rotateAddonCredentials(input: $input) {
        __typename ... on Error { message } } }`,
      { input: { addon, graceSeconds: 0 } },
    );
    expect(rotated.rotateAddonCredentials.__typename).toBe('RotateAddonCredentialsSuccess');
    await until('both apps rotated', async () => {
      const [a, b] = await Promise.all([pull('shop'), pull('shop-worker')]);
      return (
        a.body.vars.OPENAI_API_KEY !== shop.body.vars.OPENAI_API_KEY &&
        b.body.vars.LLM_API_KEY !== worker.body.vars.LLM_API_KEY
      );
    });
    const shopAfter = await pull('shop');
    expect(shopAfter.body.release).toBe(shop.body.release + 1);
    await until('the old key revoked', async () => {
      const res = await chat(shop.body.vars.OPENAI_BASE_URL as string, shop.body.vars.OPENAI_API_KEY as string);
      return res.status === 401;
    });
    const newKey = shopAfter.body.vars.OPENAI_API_KEY as string;
    expect((await chat(shopAfter.body.vars.OPENAI_BASE_URL as string, newKey)).status).toBe(200);

    // CLI: destroy; the vars are gone from both apps and the gateway honours no key of the add-on.
    const destroyed = await annex(['addons:destroy', addon, '--confirm', addon, '--wait']);
    expect(destroyed.code, destroyed.out + destroyed.err).toBe(0);
    expect((await pull('shop')).body.vars).toEqual({});
    expect((await pull('shop-worker')).body.vars).toEqual({});
    expect((await chat(shopAfter.body.vars.OPENAI_BASE_URL as string, newKey)).status).toBe(401);
    const releases = await annexJson<{ version: number; reason: string }[]>(['releases', '--app', 'shop']);
    expect(releases[0]?.reason).toMatch(/^Detach /);
  });

  it('denies every cross-organization attempt, through GraphQL and REST', async () => {
    // A second organization with its own token, made through the admin CLI.
    const adminRun = async (argv: string[]) => {
      const out: string[] = [];
      const code = await runCli(
        [...argv, '--json', '--catalog', `${marketplace.catalogUrl}/graphql`],
        { catalogUrl: undefined, token: marketplace.credentials?.adminToken as string, configDir: join(dir, 'cli') },
        { stdout: (t) => out.push(t), stderr: () => {} },
      );
      expect(code).toBe(0);
      return JSON.parse(out.join('\n'));
    };
    await adminRun(['admin', 'orgs:create', 'rival']);
    const rival = (await adminRun([
      'admin',
      'tokens:create',
      '--kind',
      'org',
      '--org',
      'rival',
      '--name',
      'rival',
      // Every scope: what refuses it below is the organization, not a scope.
      '--scope',
      'apps:write,config:read,config:write,billing:write,sso',
    ])) as {
      token: string;
    };
    expect((await annex(['addons:create', 'ai-gateway:starter', '--app', 'shop', '--wait'])).code).toBe(0);
    const app = await gql(`{ app(name: "shop") { id addons { id name } } }`);
    const addon = app.app.addons[0];
    const asRival = (query: string, variables?: Record<string, unknown>) => gql(query, variables, rival.token);
    expect((await asRival(`{ app(name: "shop") { name } }`)).app).toBeNull();
    expect((await asRival(`{ addon(name: "${addon.name}") { name } }`)).addon).toBeNull();
    expect((await asRival(`{ node(id: "${app.app.id}") { id } }`)).node).toBeNull();
    expect((await asRival(`{ node(id: "${addon.id}") { id } }`)).node).toBeNull();
    expect((await asRival('{ apps { name } }')).apps).toEqual([]);
    const mutations = [
      ['attachAddon', 'AttachAddonInput', { addon: addon.name, app: 'shop', as: 'X' }],
      ['destroyAddon', 'DestroyAddonInput', { addon: addon.name }],
      ['rotateAddonCredentials', 'RotateAddonCredentialsInput', { addon: addon.name }],
      ['setConfigVars', 'SetConfigVarsInput', { app: 'shop', vars: { A: '1' } }],
      ['rollbackConfig', 'RollbackConfigInput', { app: 'shop', version: 1 }],
    ] as const;
    for (const [name, input, value] of mutations) {
      const data = await asRival(`mutation($input: ${input}!) { ${name}(input: $input) { __typename } }`, {
        input: value,
      });
      expect(data[name].__typename, name).toBe('NotFound');
    }
    expect((await pull('shop', rival.token)).status).toBe(404);
    expect((await annex(['addons:info', addon.name])).code).toBe(0);

    // Shared explicitly (CLI), the rival's app may attach it (GraphQL) — and only attach it.
    const shared = await annex(['addons:share', addon.name, '--org', 'rival']);
    expect(shared, shared.err).toMatchObject({ code: 0, out: `${addon.name} is shared with rival` });
    const created = await asRival(`mutation { createApp(input: {name: "rival-app"}) { __typename } }`);
    expect(created.createApp.__typename).toBe('CreateAppSuccess');
    const borrowed = await asRival(
      `mutation($input: AttachAddonInput!) { attachAddon(input: $input) { __typename } }`,
      { input: { addon: addon.name, app: 'rival-app', as: 'SHARED_AI' } },
    );
    expect(borrowed.attachAddon.__typename).toBe('AttachAddonSuccess');
    await until(
      'the shared attachment',
      async () => Object.keys((await pull('rival-app', rival.token)).body.vars).length === 2,
    );
    expect(Object.keys((await pull('rival-app', rival.token)).body.vars).sort()).toEqual([
      'SHARED_AI_API_KEY',
      'SHARED_AI_BASE_URL',
    ]);
    // The borrower reads its side of the add-on: whose it is, never the app that owns it.
    expect((await asRival(`{ addon(name: "${addon.name}") { name organization app { name } } }`)).addon).toEqual({
      name: addon.name,
      organization: 'demo',
      app: null,
    });
    const destroy = await asRival(`mutation { destroyAddon(input: {addon: "${addon.name}"}) { __typename } }`);
    expect(destroy.destroyAddon.__typename).toBe('NotFound');
  });

  it.runIf(postgresServer)(
    'attaches the PostgreSQL example; its DATABASE_URL creates and reads a table; destroy drops the database',
    async () => {
      expect((await annex(['apps:create', 'pg-app'])).code).toBe(0);
      const created = await annexJson<{ addon: { name: string; id: string } }>([
        'addons:create',
        'postgres:hobby',
        '--app',
        'pg-app',
        '--wait',
      ]);
      const url = (await pull('pg-app')).body.vars.DATABASE_URL as string;
      expect(url).toMatch(/^postgres(ql)?:\/\//);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query('create table notes (id int primary key, body text)');
      await client.query(`insert into notes values (1, 'attached')`);
      expect((await client.query('select body from notes')).rows).toEqual([{ body: 'attached' }]);
      const database = (await client.query('select current_database() as name')).rows[0].name as string;
      await client.end();
      expect(
        (await annex(['addons:destroy', created.addon.name, '--confirm', created.addon.name, '--wait'])).code,
      ).toBe(0);
      const admin = new pg.Client({ connectionString: postgresServer });
      await admin.connect();
      const left = await admin.query('select 1 from pg_database where datname = $1', [database]);
      await admin.end();
      expect(left.rowCount).toBe(0);
      expect((await pull('pg-app')).body.vars).toEqual({});
    },
  );

  it.runIf(redisServer)(
    'attaches the Redis example; its REDIS_URL works within its prefix; destroy removes its ACL users',
    async () => {
      expect((await annex(['apps:create', 'redis-app'])).code).toBe(0);
      const created = await annexJson<{ addon: { name: string } }>([
        'addons:create',
        'redis:mini',
        '--app',
        'redis-app',
        '--wait',
      ]);
      const vars = (await pull('redis-app')).body.vars;
      const client = new Redis(vars.REDIS_URL as string, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      await client.set(`${vars.REDIS_KEY_PREFIX}greeting`, 'hello');
      expect(await client.get(`${vars.REDIS_KEY_PREFIX}greeting`)).toBe('hello');
      await expect(client.get('outside-the-prefix')).rejects.toThrow(/NOPERM|permission/i);
      const username = new URL(vars.REDIS_URL as string).username;
      client.disconnect();
      expect(
        (await annex(['addons:destroy', created.addon.name, '--confirm', created.addon.name, '--wait'])).code,
      ).toBe(0);
      const admin = new Redis(redisServer as string, { lazyConnect: true });
      await admin.connect();
      const users = (await admin.call('ACL', 'USERS')) as string[];
      admin.disconnect();
      expect(users).not.toContain(username);
      expect((await pull('redis-app')).body.vars).toEqual({});
    },
  );
});

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLocalConfig, type Marketplace, startMarketplace } from '@annex/local';
import { createLogger } from '@annex/platform';
import { expect } from 'vitest';

// The whole marketplace the fuzz suite attacks (`startMarketplace` on PGlite: catalog, broker
// and the AI gateway example, a provider built on the SDK), with two organizations: the
// attacker's, whose tokens send every generated request, and a rival's, whose apps, add-ons,
// attachments, vars and OSB instances no request may change or reveal.

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An answer as the suite checks it: status, headers and the body as text. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** A request the suite sends: the path may carry anything a client could put on the wire. */
export interface Probe {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface Rival {
  organization: string;
  /** App names, raw ids and GraphQL global ids of the rival's apps. */
  apps: string[];
  /** Add-on names, raw ids and GraphQL global ids. */
  addons: string[];
  attachments: string[];
  /** Service instance and binding ids (OSB and provider-side), operation names. */
  instances: string[];
  bindings: string[];
  operations: string[];
  /** Values no answer to the attacker may contain: the rival's config var values and credentials. */
  secrets: string[];
}

export interface Attacker {
  organization: string;
  orgToken: string;
  platformToken: string;
  /** A provider that owns no service the rival uses. */
  providerToken: string;
  /** The AI gateway's own provider token: it may act on the attacker's add-on (and, legitimately, the rival's). */
  gatewayToken: string;
  /** The attacker's add-on's instance ids (broker and provider side) and operations. */
  instances: string[];
  operations: string[];
  osb: { username: string; password: string };
  app: string;
  addon: string;
  /** The demo catalog's service and plans (OSB ids), for requests that get past validation. */
  serviceId: string;
  planIds: string[];
}

export interface FuzzTarget {
  catalogUrl: string;
  brokerUrl: string;
  attacker: Attacker;
  rival: Rival;
  /** Sends a probe to the broker or the catalog; a client-side refusal (a header fetch cannot send) is `undefined`. */
  send(base: string, probe: Probe): Promise<Answer | undefined>;
  /** Everything the rival owns, as stored; compared before and after each property. */
  snapshotRival(): Promise<unknown>;
  /** Both services still answer `/healthz`. */
  expectHealthy(): Promise<void>;
  close(): Promise<void>;
}

const STACK_OR_SQL: readonly [RegExp, string][] = [
  [/\n\s+at \S/, 'a stack frame'],
  [/\bat [^\s()]+ \([^)]*:\d+:\d+\)/, 'a stack frame'],
  [/relation "/, 'SQL text'],
  [/syntax error at/, 'SQL text'],
  [/invalid input syntax for/, 'SQL text'],
  [/violates (?:foreign key|unique|check|not-null) constraint/, 'SQL text'],
  [/\bPGlite\b/, 'the database engine'],
  [/\b(?:TypeError|ReferenceError|RangeError|SyntaxError: Unexpected)\b/, 'a JavaScript error'],
  [/(?:\/|\\)[\w.-]+(?:\/|\\)[\w.-]+\.(?:ts|js|mjs|cjs)\b/, 'a file path'],
  [/node_modules/, 'a file path'],
];

/**
 * What every answer to a generated request must be: not a 5xx (no test here stops the
 * database), and no stack trace, SQL, engine name or file path, and none of the rival's secrets.
 */
export function expectSafeAnswer(answer: Answer, probe: Probe, rival: Rival): void {
  const what = `${probe.method} ${probe.path.slice(0, 300)} → ${answer.status} ${answer.text.slice(0, 500)}`;
  expect(answer.status, what).toBeLessThan(500);
  for (const [pattern, name] of STACK_OR_SQL) {
    expect(pattern.test(answer.text), `${name} in ${what}`).toBe(false);
  }
  for (const secret of rival.secrets) {
    expect(answer.text.includes(secret), `a secret of the rival in ${what}`).toBe(false);
  }
}

/** How many runs each property makes (`FUZZ_RUNS`), and the seed (`FUZZ_SEED`). */
export function fuzzSettings(defaultRuns: number): { numRuns: number; seed: number; timeoutMs: number } {
  const numRuns = Number(process.env.FUZZ_RUNS ?? defaultRuns);
  const seed = Number(process.env.FUZZ_SEED ?? 20261206);
  if (!Number.isInteger(numRuns) || numRuns < 1)
    throw new Error(`FUZZ_RUNS must be a positive integer, not ${process.env.FUZZ_RUNS}`);
  if (!Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, not ${process.env.FUZZ_SEED}`);
  // Time enough for slow machines: a request rarely takes more than a few tens of ms.
  return { numRuns, seed, timeoutMs: 60_000 + numRuns * 1_000 };
}

export async function startFuzzTarget(): Promise<FuzzTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'annex-fuzz-'));
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
    LOG_LEVEL: 'silent',
  };
  let marketplace: Marketplace | undefined;
  try {
    marketplace = await startMarketplace(loadLocalConfig(env), env, createLogger('annex', 'silent'));
    const target = await prepare(marketplace);
    return {
      ...target,
      async close() {
        await marketplace?.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await marketplace?.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A request the service has not answered by then counts as a failure: one request must not stall it. */
const ANSWER_WITHIN_MS = 15_000;

async function send(base: string, probe: Probe): Promise<Answer | undefined> {
  let headers: Headers;
  try {
    headers = new Headers(probe.headers ?? {});
  } catch {
    return undefined; // a header value no HTTP client can send
  }
  let response: Response;
  try {
    response = await fetch(`${base}${probe.path}`, {
      method: probe.method,
      headers,
      ...(probe.body !== undefined && probe.method !== 'GET' && probe.method !== 'HEAD' ? { body: probe.body } : {}),
      redirect: 'manual',
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    });
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') throw new Error(`no answer within ${ANSWER_WITHIN_MS} ms`);
    // undici refuses some header values only when sending: not a request a server can get.
    if ((error as { cause?: { code?: string } }).cause?.code === 'UND_ERR_INVALID_ARG') return undefined;
    throw error;
  }
  try {
    return { status: response.status, headers: response.headers, text: await response.text() };
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') throw new Error(`no whole answer within ${ANSWER_WITHIN_MS} ms`);
    throw error;
  }
}

async function prepare(marketplace: Marketplace): Promise<Omit<FuzzTarget, 'close'>> {
  const credentials = marketplace.credentials;
  if (!credentials) throw new Error('the fuzz suite needs a fresh installation');
  const { catalogUrl, brokerUrl, database } = marketplace;
  const db = database.db;

  const gql = async <T = any>(token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> => {
    const response = await fetch(`${catalogUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
    if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join('; '));
    return body.data as T;
  };
  const admin = (query: string, variables?: Record<string, unknown>) => gql(credentials.adminToken, query, variables);
  const until = async (what: string, check: () => Promise<boolean>) => {
    for (let i = 0; i < 300; i++) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  // The rival: an organization with its own token, platform, apps, add-on, attachment and vars.
  const rivalSlug = 'rival';
  await admin('mutation { createOrganization(name: "Rival", slug: "rival") { __typename } }');
  const rivalToken = (
    await admin(
      `mutation { createApiToken(kind: ORG, name: "rival", organization: "rival", scopes: ["apps:read", "apps:write", "config:read", "config:write", "billing:read", "billing:write", "sso"]) {
        ... on ApiTokenCreated { token } } }`,
    )
  ).createApiToken.token as string;
  const rivalPlatform = (
    await admin(
      `mutation { createPlatform(name: "Rival platform", slug: "rival-platform", organizations: ["rival"]) {
        ... on PlatformCreated { osbUsername osbPassword } } }`,
    )
  ).createPlatform as { osbUsername: string; osbPassword: string };
  const intruder = (
    await admin(`mutation { createProvider(name: "Intruder", slug: "intruder") { ... on ProviderCreated { token } } }`)
  ).createProvider.token as string;

  const gateway = (
    await admin(
      `mutation { createApiToken(kind: PROVIDER, name: "fuzz gateway", provider: "ai-gateway") {
        ... on ApiTokenCreated { token } } }`,
    )
  ).createApiToken.token as string;

  const asRival = (query: string, variables?: Record<string, unknown>) => gql(rivalToken, query, variables);
  const asAttacker = (query: string, variables?: Record<string, unknown>) =>
    gql(credentials.orgToken, query, variables);
  for (const [as, name] of [
    [asRival, 'rival-web'],
    [asRival, 'rival-worker'],
    [asAttacker, 'mine'],
  ] as const) {
    const created = await as(`mutation($name: String!) { createApp(input: {name: $name}) { __typename } }`, { name });
    expect(created.createApp.__typename).toBe('CreateAppSuccess');
  }
  const createAddon = async (as: typeof asRival, app: string) => {
    const data = await as(
      `mutation($input: CreateAddonInput!) { createAddon(input: $input) {
        __typename ... on CreateAddonSuccess { addon { name } } ... on Error { message } } }`,
      { input: { app, plan: 'ai-gateway:starter' } },
    );
    if (data.createAddon.__typename !== 'CreateAddonSuccess') throw new Error(JSON.stringify(data.createAddon));
    return data.createAddon.addon.name as string;
  };
  const rivalAddon = await createAddon(asRival, 'rival-web');
  const mineAddon = await createAddon(asAttacker, 'mine');
  const attached = await asRival(`mutation($input: AttachAddonInput!) { attachAddon(input: $input) { __typename } }`, {
    input: { addon: rivalAddon, app: 'rival-worker', as: 'RIVAL_AI' },
  });
  expect(attached.attachAddon.__typename).toBe('AttachAddonSuccess');
  const rivalSecret = `rival-secret-${Math.random().toString(36).slice(2)}`;
  const set = await asRival(`mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) { __typename } }`, {
    input: { app: 'rival-web', vars: { RIVAL_PASSWORD: rivalSecret }, reason: 'seed' },
  });
  expect(set.setConfigVars.__typename).toBe('SetConfigVarsSuccess');

  // An instance and a binding the rival's platform made through OSB.
  const rivalOsb = `Basic ${Buffer.from(`${rivalPlatform.osbUsername}:${rivalPlatform.osbPassword}`).toString('base64')}`;
  const catalog = (await (
    await fetch(`${brokerUrl}/v2/catalog`, { headers: { authorization: rivalOsb, 'x-broker-api-version': '2.17' } })
  ).json()) as { services: { id: string; name: string; plans: { id: string; name: string }[] }[] };
  const service = catalog.services.find((s) => s.plans.some((p) => p.name === 'starter'));
  if (!service) throw new Error('the demo catalog has no starter plan');
  const starter = service.plans.find((p) => p.name === 'starter')?.id as string;
  const rivalInstance = 'rival-osb-instance';
  const provisioned = await fetch(`${brokerUrl}/v2/service_instances/${rivalInstance}?accepts_incomplete=true`, {
    method: 'PUT',
    headers: { authorization: rivalOsb, 'x-broker-api-version': '2.17', 'content-type': 'application/json' },
    body: JSON.stringify({
      service_id: service.id,
      plan_id: starter,
      organization_guid: 'rival-org-guid',
      space_guid: 'rival-space',
      parameters: { password: `${rivalSecret}-param` },
    }),
  });
  expect([201, 202]).toContain(provisioned.status);
  await until('the rival OSB instance', async () => {
    const row = await db
      .selectFrom('service_instances')
      .select('state')
      .where('id', '=', rivalInstance)
      .executeTakeFirst();
    return row?.state === 'succeeded' || row?.state === 'provisioned';
  }).catch(async () => {
    const row = await db
      .selectFrom('service_instances')
      .select('state')
      .where('id', '=', rivalInstance)
      .executeTakeFirst();
    throw new Error(`the rival's OSB instance is ${row?.state}`);
  });
  const rivalBinding = 'rival-osb-binding';
  const bound = await fetch(
    `${brokerUrl}/v2/service_instances/${rivalInstance}/service_bindings/${rivalBinding}?accepts_incomplete=true`,
    {
      method: 'PUT',
      headers: { authorization: rivalOsb, 'x-broker-api-version': '2.17', 'content-type': 'application/json' },
      body: JSON.stringify({ service_id: service.id, plan_id: starter }),
    },
  );
  expect([200, 201, 202]).toContain(bound.status);

  await until('the rival add-on attached twice', async () => {
    const data = await asRival('{ apps { attachments { state } } }');
    const states = data.apps.flatMap((a: { attachments: { state: string }[] }) => a.attachments.map((t) => t.state));
    return states.length === 2 && states.every((s: string) => s === 'ATTACHED');
  });
  await until('the attacker add-on attached', async () => {
    const data = await asAttacker('{ app(name: "mine") { attachments { state } } }');
    return data.app.attachments.length === 1 && data.app.attachments[0].state === 'ATTACHED';
  });

  // Everything by which a request could name what the rival owns.
  const seen = await asRival(`{ apps { id name addons { id name attachments { id name } } } }`);
  const apps: string[] = [];
  const addons: string[] = [];
  const attachments: string[] = [];
  const organization = await db
    .selectFrom('organizations')
    .select('id')
    .where('slug', '=', rivalSlug)
    .executeTakeFirstOrThrow();
  for (const app of seen.apps as { id: string; name: string; addons: any[] }[]) {
    apps.push(app.id, app.name);
    for (const addon of app.addons) {
      addons.push(addon.id, addon.name);
      for (const attachment of addon.attachments) attachments.push(attachment.id, attachment.name);
    }
  }
  const appRows = await db.selectFrom('apps').select('id').where('organization_id', '=', organization.id).execute();
  const addonRows = await db.selectFrom('addons').select('id').where('organization_id', '=', organization.id).execute();
  apps.push(...appRows.map((r) => r.id));
  addons.push(...addonRows.map((r) => r.id));
  // An add-on's id is its service instance's id.
  const instanceIds = [rivalInstance, ...addonRows.map((r) => r.id)];
  const instanceRows = await db
    .selectFrom('service_instances')
    .select(['id', 'provider_instance_id'])
    .where('id', 'in', instanceIds)
    .execute();
  const bindingRows = await db
    .selectFrom('service_bindings')
    .select(['id', 'provider_binding_id'])
    .where('instance_id', 'in', instanceIds)
    .execute();
  const instances = instanceRows.flatMap((r) => [r.id, r.provider_instance_id ?? r.id]);
  const bindings = bindingRows.flatMap((r) => [r.id, r.provider_binding_id]);
  const operationRows = await db
    .selectFrom('broker_operations')
    .select(['id', 'provider_operation'])
    .where('instance_id', 'in', instanceIds)
    .execute();
  const operations = [
    ...operationRows.flatMap((r) => [String(r.id), r.provider_operation ?? String(r.id)]),
    ...instanceRows.map((r) => `provision-${r.provider_instance_id}`),
  ];
  const pulled = (await (
    await fetch(`${brokerUrl}/v1/apps/rival-worker/config-vars`, { headers: { authorization: `Bearer ${rivalToken}` } })
  ).json()) as { vars: Record<string, string> };
  const secrets = [rivalSecret, ...Object.values(pulled.vars).filter((v) => v.length >= 16 && !v.startsWith('http'))];

  const snapshotRival = async () => {
    const rivalApps = appRows.map((r) => r.id);
    const rivalInstances = instanceIds;
    return {
      organizations: await db.selectFrom('organizations').selectAll().where('id', '=', organization.id).execute(),
      apps: await db
        .selectFrom('apps')
        .selectAll()
        .where('organization_id', '=', organization.id)
        .orderBy('id')
        .execute(),
      addons: await db
        .selectFrom('addons')
        .selectAll()
        .where('organization_id', '=', organization.id)
        .orderBy('id')
        .execute(),
      shares: await db
        .selectFrom('addon_shares')
        .selectAll()
        .where(
          'addon_id',
          'in',
          addonRows.map((r) => r.id),
        )
        .orderBy('organization_id')
        .execute(),
      attachments: await db
        .selectFrom('attachments')
        .selectAll()
        .where('app_id', 'in', rivalApps)
        .orderBy('id')
        .execute(),
      vars: await db.selectFrom('config_vars').selectAll().where('app_id', 'in', rivalApps).orderBy('name').execute(),
      releases: await db
        .selectFrom('releases')
        .selectAll()
        .where('app_id', 'in', rivalApps)
        .orderBy('version')
        .execute(),
      instances: await db
        .selectFrom('service_instances')
        .selectAll()
        .where('id', 'in', rivalInstances)
        .orderBy('id')
        .execute(),
      bindings: await db
        .selectFrom('service_bindings')
        .selectAll()
        .where('instance_id', 'in', rivalInstances)
        .orderBy('id')
        .execute(),
      operations: await db
        .selectFrom('broker_operations')
        .selectAll()
        .where('instance_id', 'in', rivalInstances)
        .orderBy('id')
        .execute(),
      tokens: await db
        .selectFrom('api_tokens')
        .select(['id', 'revoked_at', 'scopes', 'expires_at'])
        .where('organization_id', '=', organization.id)
        .orderBy('id')
        .execute(),
    };
  };

  const mineAddonRow = await db
    .selectFrom('addons')
    .select('id')
    .where('name', '=', mineAddon)
    .executeTakeFirstOrThrow();
  const mineRows = await db
    .selectFrom('service_instances')
    .select(['id', 'provider_instance_id'])
    .where('id', '=', mineAddonRow.id)
    .execute();
  const mineOperations = await db
    .selectFrom('broker_operations')
    .select(['id', 'provider_operation'])
    .where(
      'instance_id',
      'in',
      mineRows.map((r) => r.id),
    )
    .execute();

  const attacker: Attacker = {
    organization: credentials.organization,
    orgToken: credentials.orgToken,
    platformToken: credentials.platformToken,
    providerToken: intruder,
    gatewayToken: gateway,
    instances: mineRows.flatMap((r) => [r.id, r.provider_instance_id ?? r.id]),
    operations: [
      ...mineOperations.flatMap((r) => [String(r.id), r.provider_operation ?? String(r.id)]),
      ...mineRows.map((r) => `provision-${r.provider_instance_id}`),
    ],
    osb: { username: credentials.osbUsername, password: credentials.osbPassword },
    app: 'mine',
    addon: mineAddon,
    serviceId: service.id,
    planIds: service.plans.map((p) => p.id),
  };
  return {
    catalogUrl,
    brokerUrl,
    attacker,
    rival: {
      organization: rivalSlug,
      apps: [...new Set(apps)],
      addons: [...new Set(addons)],
      attachments: [...new Set(attachments)],
      instances: [...new Set(instances)],
      bindings: [...new Set(bindings)],
      operations: [...new Set(operations)],
      secrets,
    },
    send,
    snapshotRival,
    async expectHealthy() {
      for (const base of [catalogUrl, brokerUrl]) {
        const response = await fetch(`${base}/healthz`);
        expect(response.status, `${base}/healthz`).toBe(200);
        await response.arrayBuffer();
      }
    },
  };
}

import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CatalogFixture,
  type FakeProvider,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
} from '@annex/broker/testing';
import { ALL_SCOPES, createApiToken, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCatalog, type TestCatalog } from './testing.js';

// Apps and add-ons through GraphQL, end to end: a real broker (its `/v1` apps API, its
// reconciler, a fake OSB provider) and a catalog pointing at it, on one database. The
// catalog's response cache is on, so every test also shows that app data never comes
// from it.

/**
 * A pass-through proxy in front of the broker that counts the long polls of events in
 * flight, so a test can see the catalog stop polling when its subscriber goes.
 */
async function startCountingProxy(
  target: string,
): Promise<{ url: string; openPolls: () => number; close(): Promise<void> }> {
  let open = 0;
  const server: Server = createServer((req, res) => {
    const poll = (req.url ?? '').includes('/events?');
    if (poll) open += 1;
    const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    // The catalog hung up (or the answer is complete): the poll is over either way.
    res.on('close', () => {
      if (poll) open -= 1;
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    openPolls: () => open,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await sleep(50);
    value = await read();
  }
  return value;
}

const APP = /* GraphQL */ `
  query App($name: String!) {
    app(name: $name) {
      id name organization releaseVersion createdAt
      addons { id name state serviceSlug planSlug providerSlug service { slug } plan { slug } app { name } }
      attachments { name state configVarNames app { name } addon { name } }
      configVars { name value owner }
      releases { version actor reason diff { name change value } }
    }
  }
`;
const ADDON = /* GraphQL */ `
  query Addon($name: String!) {
    addon(name: $name) { id name state lastError app { name } attachments { name state configVarNames app { name } } }
  }
`;
const CREATE_APP = /* GraphQL */ `
  mutation($input: CreateAppInput!) {
    createApp(input: $input) {
      __typename
      ... on Error { message }
      ... on CreateAppSuccess { app { id name organization releaseVersion } }
    }
  }
`;
const CREATE_ADDON = /* GraphQL */ `
  mutation($input: CreateAddonInput!) {
    createAddon(input: $input) {
      __typename
      ... on Error { message }
      ... on ConfigVarCollision { name owner }
      ... on CreateAddonSuccess { addon { id name state } attachment { name state } }
    }
  }
`;
const PREFLIGHT = /* GraphQL */ `
  query($input: AttachPreflightInput!) {
    attachPreflight(input: $input) {
      __typename
      ... on Error { message }
      ... on InvalidInput { inputProblems: problems { path message } }
      ... on Preflight {
        ok serviceSlug planSlug priceCents currency free configVars problems
        collisions { name owner } parameterErrors { path message }
      }
    }
  }
`;

describe.each(testDatabaseKinds('apps through GraphQL'))('apps and add-ons through GraphQL on $name', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let catalog: TestCatalog;
  let proxy: Awaited<ReturnType<typeof startCountingProxy>>;
  let fixture: CatalogFixture;
  let plan: string;
  /** Org A: a token with every scope, one with the default (no config values); org B: another organization. */
  const tokens = { a: '', aNoRead: '', b: '' };
  let orgA: string;
  let orgB: string;
  const appA = `web-${Math.random().toString(36).slice(2, 8)}`;
  const appA2 = `${appA}-worker`;
  const appB = `rival-${Math.random().toString(36).slice(2, 8)}`;
  let addonName = '';
  let addonId = '';
  let appAId = '';

  const gql = <T = any>(query: string, variables: Record<string, unknown>, token: string) =>
    catalog.gql<T>(query, variables, token);

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'prov', password: 'prov-pw' } });
    broker = await startTestBroker(database, { APPS_RECONCILE_MS: '100' });
    fixture = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'prov', password: 'prov-pw' },
      plans: [{ slug: 'hobby' }, { slug: 'pro', free: false }],
    });
    const service = await database.db
      .selectFrom('services')
      .select('slug')
      .where('id', '=', fixture.serviceId)
      .executeTakeFirstOrThrow();
    plan = `${service.slug}:hobby`;
    const a = await database.db
      .selectFrom('organizations')
      .select(['id', 'slug'])
      .where('slug', 'like', '%-acme')
      .orderBy('created_at', 'desc')
      .executeTakeFirstOrThrow();
    orgA = a.slug;
    const b = await database.db
      .insertInto('organizations')
      .values({ slug: `${a.slug}-rival`, name: 'Rival' })
      .returning(['id', 'slug'])
      .executeTakeFirstOrThrow();
    orgB = b.slug;
    tokens.a = (
      await createApiToken(database.db, { kind: 'org', name: 'a', organizationId: a.id, scopes: ALL_SCOPES })
    ).token;
    tokens.aNoRead = (await createApiToken(database.db, { kind: 'org', name: 'a2', organizationId: a.id })).token;
    tokens.b = (
      await createApiToken(database.db, { kind: 'org', name: 'b', organizationId: b.id, scopes: ALL_SCOPES })
    ).token;
    proxy = await startCountingProxy(broker.url);
    catalog = await startTestCatalog(database, {
      CATALOG_BROKER_URL: proxy.url,
      CATALOG_RESPONSE_CACHE: 'true',
      CATALOG_CACHE_CHECK_MS: '0',
    });
  }, 60_000);

  afterAll(async () => {
    await catalog?.close();
    await proxy?.close();
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  it('creates apps in the caller organization, and refuses a taken or invalid name', async () => {
    const created = await gql(CREATE_APP, { input: { name: appA } }, tokens.a);
    expect(created.data.createApp).toMatchObject({
      __typename: 'CreateAppSuccess',
      app: { name: appA, organization: orgA, releaseVersion: 0 },
    });
    appAId = created.data.createApp.app.id;
    expect((await gql(CREATE_APP, { input: { name: appA2 } }, tokens.a)).data.createApp.__typename).toBe(
      'CreateAppSuccess',
    );
    expect((await gql(CREATE_APP, { input: { name: appB } }, tokens.b)).data.createApp.app.organization).toBe(orgB);

    const taken = await gql(CREATE_APP, { input: { name: appA } }, tokens.a);
    expect(taken.data.createApp).toMatchObject({ __typename: 'NameTaken', message: `app name "${appA}" is taken` });
    const invalid = await gql(CREATE_APP, { input: { name: 'Not Valid!' } }, tokens.a);
    expect(invalid.data.createApp.__typename).toBe('InvalidInput');
    expect(invalid.data.createApp.message).toMatch(/^name: /);
  });

  it('previews an attach without creating anything', async () => {
    const preflight = await gql(PREFLIGHT, { input: { app: appA, plan } }, tokens.a);
    expect(preflight.data.attachPreflight).toMatchObject({
      __typename: 'Preflight',
      ok: true,
      planSlug: 'hobby',
      free: true,
      configVars: ['DATABASE_URL'],
      collisions: [],
    });
    const both = await gql(PREFLIGHT, { input: { app: appA, plan, addon: 'x' } }, tokens.a);
    expect(both.data.attachPreflight).toMatchObject({
      __typename: 'InvalidInput',
      inputProblems: [{ path: 'input', message: 'pass exactly one of plan (new add-on) or addon' }],
    });
    const app = await gql(APP, { name: appA }, tokens.a);
    expect(app.data.app).toMatchObject({ addons: [], attachments: [], configVars: [], releases: [] });
  });

  it('creates an add-on that becomes PROVISIONED and ATTACHED, with its vars in a release', async () => {
    const created = await gql(CREATE_ADDON, { input: { app: appA, plan } }, tokens.a);
    expect(created.data.createAddon.__typename).toBe('CreateAddonSuccess');
    addonName = created.data.createAddon.addon.name;
    addonId = created.data.createAddon.addon.id;
    expect(addonName).toMatch(/-\d{4}$/);

    const ready = await eventually(
      () => gql(ADDON, { name: addonName }, tokens.a),
      (r) => r.data?.addon?.state === 'PROVISIONED' && r.data.addon.attachments[0]?.state === 'ATTACHED',
    );
    expect(ready.data.addon).toMatchObject({
      name: addonName,
      state: 'PROVISIONED',
      lastError: null,
      app: { name: appA },
      attachments: [{ name: 'DATABASE', state: 'ATTACHED', configVarNames: ['DATABASE_URL'], app: { name: appA } }],
    });

    const app = (await gql(APP, { name: appA }, tokens.a)).data.app;
    expect(app.addons).toEqual([
      expect.objectContaining({
        name: addonName,
        state: 'PROVISIONED',
        planSlug: 'hobby',
        providerSlug: fixture.providerSlug,
        service: { slug: plan.split(':')[0] },
        plan: { slug: 'hobby' },
        app: { name: appA },
      }),
    ]);
    expect(app.attachments).toEqual([
      {
        name: 'DATABASE',
        state: 'ATTACHED',
        configVarNames: ['DATABASE_URL'],
        app: { name: appA },
        addon: { name: addonName },
      },
    ]);
    expect(app.configVars).toEqual([
      { name: 'DATABASE_URL', value: expect.stringMatching(/^fake:\/\//), owner: 'attachment:DATABASE' },
    ]);
    expect(app.releaseVersion).toBe(1);
    expect(app.releases).toEqual([
      expect.objectContaining({ version: 1, diff: [{ name: 'DATABASE_URL', change: 'added', value: null }] }),
    ]);
  });

  it('shows config values only to a token with config:read (same caller class, never the cached answer)', async () => {
    const query = '{ apps { name configVars { name value } } }';
    const withRead = await gql(query, {}, tokens.a);
    const withoutRead = await gql(query, {}, tokens.aNoRead);
    const again = await gql(query, {}, tokens.a);
    const mine = (r: any) => r.data.apps.find((a: { name: string }) => a.name === appA).configVars;
    expect(mine(withRead)[0].value).toMatch(/^fake:\/\//);
    expect(mine(withoutRead)).toEqual([{ name: 'DATABASE_URL', value: null }]);
    expect(mine(again)[0].value).toMatch(/^fake:\/\//);
  });

  it('lists only the caller organization apps, fresh after every change', async () => {
    const names = async (token: string) =>
      ((await gql('{ apps { name } }', {}, token)).data.apps as { name: string }[]).map((a) => a.name).sort();
    expect(await names(tokens.a)).toEqual([appA, appA2].sort());
    expect(await names(tokens.b)).toEqual([appB]);
    const later = `${appA}-later`;
    await gql(CREATE_APP, { input: { name: later } }, tokens.a);
    expect(await names(tokens.a)).toEqual([appA, appA2, later].sort());
    expect(await names(tokens.b)).toEqual([appB]);

    // Behind a fragment too: the root field decides, however it is selected.
    const viaFragment = 'query { ...Mine } fragment Mine on Query { ... on Query { apps { name } } }';
    const count = async () => (await gql(viaFragment, {}, tokens.a)).data.apps.length;
    expect(await count()).toBe(3);
    await gql(CREATE_APP, { input: { name: `${appA}-more` } }, tokens.a);
    expect(await count()).toBe(4);
  });

  it('never caches a field outside the catalog (billing), so each organization sees its own', async () => {
    const query = '{ billingAccount { organization } }';
    const a = await gql(query, {}, tokens.a);
    const b = await gql(query, {}, tokens.b);
    expect(a.data.billingAccount.organization).not.toBe(b.data.billingAccount.organization);
    // A change made at the broker directly (not through this catalog) shows at once.
    const caps = '{ billingAccount { spendCaps { limitCents } } }';
    expect((await gql(caps, {}, tokens.a)).data.billingAccount.spendCaps).toEqual([]);
    const put = await fetch(`${broker.url}/v1/billing/spend-caps`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokens.a}`, 'content-type': 'application/json' },
      body: JSON.stringify({ limitCents: 5000 }),
    });
    expect(put.status).toBe(200);
    expect((await gql(caps, {}, tokens.a)).data.billingAccount.spendCaps).toEqual([{ limitCents: 5000 }]);
  });

  it('answers each usage alias on its own: an app that does not exist nulls only its own field', async () => {
    const gone = `${appA}-gone`;
    const result = await gql(
      `query($good: String!, $gone: String!) {
        billingAccount { organization }
        good: usage(app: $good) { app }
        gone: usage(app: $gone) { app }
      }`,
      { good: appA, gone },
      tokens.a,
    );
    expect(result.data).toEqual({ billingAccount: { organization: orgA }, good: { app: appA }, gone: null });
    expect(result.errors).toEqual([
      expect.objectContaining({ path: ['gone'], message: expect.stringContaining(`"${gone}"`) }),
    ]);
  });

  it("keeps caching the catalog's own queries, and app mutations do not flush them", async () => {
    const categories = '{ categories { slug serviceCount } }';
    await catalog.gql(categories);
    let before = catalog.statements.count;
    await catalog.gql(categories);
    expect(catalog.statements.count - before).toBe(1); // the catalog-version check only
    await gql(CREATE_APP, { input: { name: `${appA}-flush` } }, tokens.a);
    before = catalog.statements.count;
    await catalog.gql(categories);
    expect(catalog.statements.count - before).toBe(1);
  });

  it('sets config vars, lists releases newest first, and rolls back', async () => {
    const set = await gql(
      `mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) {
        __typename ... on Error { message } ... on SetConfigVarsSuccess { unchanged release { version reason actor diff { name change value } } } } }`,
      { input: { app: appA, vars: { LOG_LEVEL: 'debug' }, reason: 'more logs', secret: false } },
      tokens.a,
    );
    expect(set.data.setConfigVars).toMatchObject({
      __typename: 'SetConfigVarsSuccess',
      unchanged: false,
      release: { version: 2, reason: 'more logs', diff: [{ name: 'LOG_LEVEL', change: 'added', value: 'debug' }] },
    });
    expect(set.data.setConfigVars.release.actor).toMatch(/org token/);

    const bad = await gql(
      'mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) { __typename ... on InvalidInput { problems { path } } } }',
      { input: { app: appA, vars: { LOG_LEVEL: 3 } } },
      tokens.a,
    );
    expect(bad.data.setConfigVars).toEqual({ __typename: 'InvalidInput', problems: [{ path: 'vars.LOG_LEVEL' }] });

    const rollback = await gql(
      `mutation($input: RollbackConfigInput!) { rollbackConfig(input: $input) {
        __typename ... on Error { message } ... on RollbackConfigSuccess { release { version diff { name change } } } } }`,
      { input: { app: appA, version: 1 } },
      tokens.a,
    );
    expect(rollback.data.rollbackConfig).toEqual({
      __typename: 'RollbackConfigSuccess',
      release: { version: 3, diff: [{ name: 'LOG_LEVEL', change: 'removed' }] },
    });
    const missing = await gql(
      'mutation($input: RollbackConfigInput!) { rollbackConfig(input: $input) { __typename ... on Error { message } } }',
      { input: { app: appA, version: 99 } },
      tokens.a,
    );
    expect(missing.data.rollbackConfig).toEqual({
      __typename: 'NotFound',
      message: `release v99 of ${appA} not found`,
    });

    const app = (await gql(APP, { name: appA }, tokens.a)).data.app;
    expect(app.releases.map((r: { version: number }) => r.version)).toEqual([3, 2, 1]);
    expect(app.configVars.map((v: { name: string }) => v.name)).toEqual(['DATABASE_URL']);
    const first = await gql(
      'query($n: String!) { app(name: $n) { releases(first: 1) { version } } }',
      { n: appA },
      tokens.a,
    );
    expect(first.data.app.releases).toEqual([{ version: 3 }]);
    const tooMany = await gql(
      'query($n: String!) { app(name: $n) { releases(first: 0) { version } } }',
      { n: appA },
      tokens.a,
    );
    expect(tooMany.errors?.[0]?.message).toBe('first: must be between 1 and 100');
  });

  it('resolves node(id) for apps and add-ons through the broker', async () => {
    const node = `query($id: ID!) { node(id: $id) { __typename id ... on App { name } ... on Addon { name } } }`;
    const app = await gql(node, { id: appAId }, tokens.a);
    expect(app.data.node).toEqual({ __typename: 'App', id: appAId, name: appA });
    expect(decodeGlobalID(appAId).typename).toBe('App');
    const addon = await gql(node, { id: addonId }, tokens.a);
    expect(addon.data.node).toEqual({ __typename: 'Addon', id: addonId, name: addonName });
    // app(name)/addon(name) take either id too.
    expect((await gql(APP, { name: appAId }, tokens.a)).data.app.name).toBe(appA);
    expect((await gql(APP, { name: decodeGlobalID(appAId).id }, tokens.a)).data.app.name).toBe(appA);
    expect((await gql(ADDON, { name: addonId }, tokens.a)).data.addon.name).toBe(addonName);
    // A global id of another type names nothing here.
    expect(
      (await gql(node, { id: encodeGlobalID('Addon', decodeGlobalID(appAId).id) }, tokens.a)).data.node,
    ).toBeNull();
  });

  it("gives another organization's token nothing of org A: every query, node(id), mutation and the subscription", async () => {
    const before = (await gql(APP, { name: appA }, tokens.a)).data.app;

    expect((await gql(APP, { name: appA }, tokens.b)).data.app).toBeNull();
    expect((await gql(APP, { name: appAId }, tokens.b)).data.app).toBeNull();
    expect((await gql(APP, { name: decodeGlobalID(appAId).id }, tokens.b)).data.app).toBeNull();
    expect((await gql(ADDON, { name: addonName }, tokens.b)).data.addon).toBeNull();
    expect((await gql(ADDON, { name: addonId }, tokens.b)).data.addon).toBeNull();
    expect((await gql(ADDON, { name: decodeGlobalID(addonId).id }, tokens.b)).data.addon).toBeNull();
    const node = 'query($id: ID!) { node(id: $id) { id } }';
    const nodeB = await gql(node, { id: appAId }, tokens.b);
    expect(nodeB).toEqual({ status: 200, data: { node: null } });
    expect((await gql(node, { id: addonId }, tokens.b)).data.node).toBeNull();
    const listed = JSON.stringify((await gql('{ apps { name addons { name } } }', {}, tokens.b)).data);
    expect(listed).not.toContain(appA);
    expect(listed).not.toContain(addonName);

    const preflight = await gql(PREFLIGHT, { input: { app: appA, plan } }, tokens.b);
    expect(preflight.data.attachPreflight.__typename).toBe('NotFound');
    const attachPreflight = await gql(PREFLIGHT, { input: { app: appB, addon: addonName } }, tokens.b);
    expect(attachPreflight.data.attachPreflight.__typename).toBe('NotFound');

    const mutations: [string, string, Record<string, unknown>][] = [
      ['createAddon', 'CreateAddonInput', { app: appA, plan }],
      ['attachAddon', 'AttachAddonInput', { app: appB, addon: addonName, as: 'STOLEN' }],
      ['attachAddon', 'AttachAddonInput', { app: appA, addon: addonName, as: 'AGAIN' }],
      ['detachAddon', 'DetachAddonInput', { app: appA, name: 'DATABASE' }],
      ['destroyAddon', 'DestroyAddonInput', { addon: addonName }],
      ['changeAddonPlan', 'ChangeAddonPlanInput', { addon: addonName, plan: 'pro' }],
      ['rotateAddonCredentials', 'RotateAddonCredentialsInput', { addon: addonName }],
      ['rollbackConfig', 'RollbackConfigInput', { app: appA, version: 1 }],
      ['setConfigVars', 'SetConfigVarsInput', { app: appA, vars: { EVIL: '1' } }],
    ];
    for (const [field, input, values] of mutations) {
      const result = await gql(
        `mutation($input: ${input}!) { ${field}(input: $input) { __typename ... on Error { message } } }`,
        { input: values },
        tokens.b,
      );
      expect(result.data?.[field]?.__typename, `${field} ${JSON.stringify(values)}`).toBe('NotFound');
    }

    const events = await fetch(`${catalog.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${tokens.b}` },
      body: JSON.stringify({ query: `subscription { addonEvents(app: "${appA}") { id kind } }` }),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await events.text();
    expect(text).toContain(`no app \\"${appA}\\"`);
    expect(text).not.toContain('"kind"');

    // Nothing of A changed, and the provider holds no second add-on or binding.
    const after = (await gql(APP, { name: appA }, tokens.a)).data.app;
    expect(after).toEqual(before);
    expect(provider.instances.size).toBe(1);
    expect(provider.bindings.size).toBe(1);
  });

  it('refuses anonymous callers with a clear error', async () => {
    const anonymous = await catalog.gql('{ apps { name } }');
    expect(anonymous.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/API token is required/),
      extensions: { code: 'UNAUTHENTICATED' },
    });
    expect(anonymous.data).toBeNull();
  });

  it('streams addonEvents over SSE, live, until the client goes', async () => {
    const controller = new AbortController();
    const timeout = setTimeout(() => controller.abort(), 15_000);
    const response = await fetch(`${catalog.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${tokens.a}` },
      body: JSON.stringify({
        query: `subscription { addonEvents(app: "${appA}") { id app addon kind detail createdAt } }`,
      }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const received: { id: string; kind: string; addon: string | null; app: string }[] = [];
    let buffer = '';
    const readUntil = async (done: () => boolean) => {
      while (!done()) {
        const { value, done: ended } = await reader.read();
        if (ended) throw new Error(`stream ended early after ${JSON.stringify(received)}`);
        buffer += decoder.decode(value, { stream: true });
        let cut = buffer.indexOf('\n\n');
        while (cut >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trim())
            .join('');
          if (data) {
            const payload = JSON.parse(data);
            if (payload.errors) throw new Error(JSON.stringify(payload.errors));
            if (payload.data?.addonEvents) received.push(payload.data.addonEvents);
          }
          cut = buffer.indexOf('\n\n');
        }
      }
    };
    try {
      // History first: the add-on's provisioning, its attachment, the releases so far.
      await readUntil(() => received.some((e) => e.kind === 'attachment.attached'));
      expect(received.map((e) => e.kind)).toContain('addon.provisioned');
      expect(received.every((e) => e.app === appA)).toBe(true);
      expect(received.find((e) => e.kind === 'addon.provisioned')?.addon).toBe(addonName);
      await readUntil(() => received.filter((e) => e.kind === 'release.created').length >= 3);
      const seen = received.length;

      // Then live: a change made now arrives on the open stream.
      await gql(
        'mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) { __typename } }',
        { input: { app: appA, vars: { LIVE: 'yes' } } },
        tokens.a,
      );
      await readUntil(() => received.length > seen && received.at(-1)?.kind === 'release.created');
      const ids = received.map((e) => BigInt(e.id));
      expect(ids).toEqual([...ids].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
      expect(new Set(ids).size).toBe(ids.length);
      // The catalog is waiting at the broker for the next event, for this subscriber.
      expect(
        await eventually(
          async () => proxy.openPolls(),
          (n) => n === 1,
          2_000,
        ),
      ).toBe(1);
    } finally {
      clearTimeout(timeout);
      controller.abort();
      await reader.cancel().catch(() => undefined);
    }
    // The client went: the poll in flight ends at once, not after its 20 s wait.
    const started = Date.now();
    expect(
      await eventually(
        async () => proxy.openPolls(),
        (n) => n === 0,
        3_000,
      ),
    ).toBe(0);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('ends an addonEvents stream when its token is revoked, on any replica, with nothing written after it', async () => {
    const org = await database.db
      .selectFrom('organizations')
      .select('id')
      .where('slug', '=', orgA)
      .executeTakeFirstOrThrow();
    const streamToken = await createApiToken(database.db, { kind: 'org', name: 'watcher', organizationId: org.id });
    const response = await fetch(`${catalog.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${streamToken.token}`,
      },
      body: JSON.stringify({ query: `subscription { addonEvents(app: "${appA}") { id kind detail } }` }),
      signal: AbortSignal.timeout(30_000),
    });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const received: { id: string; kind: string; detail: { reason?: string } }[] = [];
    const errors: { message: string }[] = [];
    let buffer = '';
    let ended = false;
    /** Reads until `done()`, or to the end of the stream. */
    const readUntil = async (done: () => boolean) => {
      while (!done() && !ended) {
        const chunk = await reader.read();
        if (chunk.done) {
          ended = true;
          break;
        }
        buffer += decoder.decode(chunk.value, { stream: true });
        let cut = buffer.indexOf('\n\n');
        while (cut >= 0) {
          const data = buffer
            .slice(0, cut)
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trim())
            .join('');
          buffer = buffer.slice(cut + 2);
          cut = buffer.indexOf('\n\n');
          if (!data) continue;
          const payload = JSON.parse(data);
          if (payload.errors) errors.push(...payload.errors);
          if (payload.data?.addonEvents) received.push(payload.data.addonEvents);
        }
      }
    };
    const setVar = (reason: string) =>
      gql(
        'mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) { __typename } }',
        { input: { app: appA, vars: { LIVE: reason }, reason } },
        tokens.a,
      );
    try {
      // Live before the revocation.
      await setVar('before revocation');
      await readUntil(() => received.some((e) => e.detail.reason === 'before revocation'));
      expect(errors).toEqual([]);

      // While the catalog waits at the broker for this subscriber's next event, the token is
      // revoked through another catalog replica: only the database says so.
      expect(
        await eventually(
          async () => proxy.openPolls(),
          (n) => n === 1,
          5_000,
        ),
      ).toBe(1);
      const replica = await startTestCatalog(database, { CATALOG_BROKER_URL: broker.url });
      try {
        const revoked = await replica.gql(
          'mutation($id: ID!) { revokeApiToken(id: $id) { __typename } }',
          { id: streamToken.id },
          replica.adminToken,
        );
        expect(revoked.data.revokeApiToken.__typename).toBe('ApiTokenRevoked');
      } finally {
        await replica.close();
      }
      expect((await setVar('after revocation')).data.setConfigVars.__typename).toBe('SetConfigVarsSuccess');

      await readUntil(() => false);
      expect(ended).toBe(true);
      expect(received.filter((e) => e.detail.reason === 'after revocation')).toEqual([]);
      expect(errors).toEqual([
        expect.objectContaining({
          message: expect.stringMatching(/revoked/),
          extensions: { code: 'UNAUTHENTICATED' },
        }),
      ]);
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }, 40_000);

  it('attaches the add-on to a second app under another name, and detaches it again', async () => {
    const ATTACH = `mutation($input: AttachAddonInput!) { attachAddon(input: $input) {
      __typename ... on Error { message } ... on AttachAddonSuccess { attachment { name state app { name } } } } }`;
    const preflight = await gql(PREFLIGHT, { input: { app: appA2, addon: addonName, as: 'REPORTING' } }, tokens.a);
    expect(preflight.data.attachPreflight).toMatchObject({ ok: true, configVars: ['REPORTING_URL'] });
    const attached = await gql(ATTACH, { input: { app: appA2, addon: addonName, as: 'REPORTING' } }, tokens.a);
    expect(attached.data.attachAddon).toMatchObject({
      __typename: 'AttachAddonSuccess',
      attachment: { name: 'REPORTING', app: { name: appA2 } },
    });
    const worker = await eventually(
      () => gql(APP, { name: appA2 }, tokens.a),
      (r) => r.data?.app?.attachments[0]?.state === 'ATTACHED',
    );
    expect(worker.data.app.configVars).toEqual([
      { name: 'REPORTING_URL', value: expect.stringMatching(/^fake:\/\//), owner: 'attachment:REPORTING' },
    ]);
    expect(worker.data.app.addons).toEqual([]); // attached, not owned
    expect(worker.data.app.attachments[0].addon).toEqual({ name: addonName });

    // A var the app already has refuses an attach that would set it, naming it and its owner.
    await gql(
      'mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) { __typename } }',
      { input: { app: appA2, vars: { CACHE_URL: 'redis://x' } } },
      tokens.a,
    );
    const collision = await gql(
      'mutation($input: AttachAddonInput!) { attachAddon(input: $input) { __typename ... on ConfigVarCollision { name owner message } } }',
      { input: { app: appA2, addon: addonName, as: 'CACHE' } },
      tokens.a,
    );
    expect(collision.data.attachAddon).toMatchObject({
      __typename: 'ConfigVarCollision',
      name: 'CACHE_URL',
      owner: 'user',
    });

    const owner = await gql(
      'mutation($input: DetachAddonInput!) { detachAddon(input: $input) { __typename ... on Error { message } } }',
      { input: { app: appA, name: 'DATABASE' } },
      tokens.a,
    );
    expect(owner.data.detachAddon.__typename).toBe('Conflict');
    expect(owner.data.detachAddon.message).toMatch(/must keep an attachment/);

    const detach = await gql(
      `mutation($input: DetachAddonInput!) { detachAddon(input: $input) {
        __typename ... on Error { message } ... on DetachAddonSuccess { attachment { name state } } } }`,
      { input: { app: appA2, name: 'REPORTING' } },
      tokens.a,
    );
    expect(detach.data.detachAddon.__typename).toBe('DetachAddonSuccess');
    const detached = await eventually(
      () => gql(APP, { name: appA2 }, tokens.a),
      (r) => r.data?.app?.attachments.length === 0,
    );
    expect(detached.data.app.configVars.map((v: { name: string }) => v.name)).toEqual(['CACHE_URL']);
  });

  it('shares the add-on with another organization: each side reads its side of the attachment', async () => {
    const SIDE = `app { name } appOrganization name state`;
    const ADDON_SIDES = `name organization serviceSlug planSlug state app { name } attachments { ${SIDE} }`;
    const share = await gql(
      'mutation($input: ShareAddonInput!) { shareAddon(input: $input) { __typename ... on ShareAddonSuccess { organizations } } }',
      { input: { addon: addonName, organization: orgB } },
      tokens.a,
    );
    expect(share.data.shareAddon).toEqual({ __typename: 'ShareAddonSuccess', organizations: [orgB] });
    const attach = await gql(
      'mutation($input: AttachAddonInput!) { attachAddon(input: $input) { __typename ... on Error { message } } }',
      { input: { app: appB, addon: addonName, as: 'BORROWED' } },
      tokens.b,
    );
    expect(attach.data.attachAddon.__typename, JSON.stringify(attach)).toBe('AttachAddonSuccess');

    // The borrower: its app's attachment and the add-on (owner's organization, plan, service),
    // never the app that owns it nor the owner's other attachments.
    const borrower = await eventually(
      () =>
        gql(
          `query($name: String!) { app(name: $name) { attachments { ${SIDE} configVarNames addon { ${ADDON_SIDES} } } } }`,
          { name: appB },
          tokens.b,
        ),
      (r) => r.data?.app?.attachments[0]?.state === 'ATTACHED',
    );
    expect(borrower.errors).toBeUndefined();
    const borrowedSide = {
      name: addonName,
      organization: orgA,
      serviceSlug: plan.split(':')[0],
      planSlug: 'hobby',
      state: 'PROVISIONED',
      app: null,
      attachments: [{ app: { name: appB }, appOrganization: orgB, name: 'BORROWED', state: 'ATTACHED' }],
    };
    expect(borrower.data.app.attachments).toEqual([
      {
        app: { name: appB },
        appOrganization: orgB,
        name: 'BORROWED',
        state: 'ATTACHED',
        configVarNames: ['BORROWED_URL'],
        addon: borrowedSide,
      },
    ]);
    const direct = await gql(
      `query($name: String!) { addon(name: $name) { ${ADDON_SIDES} } }`,
      { name: addonName },
      tokens.b,
    );
    expect(direct).toEqual({ status: 200, data: { addon: borrowedSide } });
    expect(JSON.stringify([borrower, direct])).not.toContain(appA);

    // The owner: an app of orgB attaches it, not which one.
    const owner = await gql(
      `query($name: String!) { addon(name: $name) { ${ADDON_SIDES} } }`,
      { name: addonName },
      tokens.a,
    );
    expect(owner.errors).toBeUndefined();
    expect(owner.data.addon.app).toEqual({ name: appA });
    expect(owner.data.addon.organization).toBe(orgA);
    expect(owner.data.addon.attachments).toEqual([
      { app: { name: appA }, appOrganization: orgA, name: 'DATABASE', state: 'ATTACHED' },
      { app: null, appOrganization: orgB, name: 'BORROWED', state: 'ATTACHED' },
    ]);
    const ownerApp = await gql(APP, { name: appA }, tokens.a);
    expect(ownerApp.errors).toBeUndefined();
    expect(JSON.stringify([owner, ownerApp])).not.toContain(appB);

    // Undone: the borrower detaches, the owner stops sharing; the add-on is the owner's alone again.
    const detach = await gql(
      'mutation($input: DetachAddonInput!) { detachAddon(input: $input) { __typename } }',
      { input: { app: appB, name: 'BORROWED' } },
      tokens.b,
    );
    expect(detach.data.detachAddon.__typename).toBe('DetachAddonSuccess');
    await eventually(
      async () => provider.bindings.size,
      (n) => n === 1,
    );
    const unshare = await gql(
      'mutation($input: ShareAddonInput!) { unshareAddon(input: $input) { __typename ... on UnshareAddonSuccess { organizations } } }',
      { input: { addon: addonName, organization: orgB } },
      tokens.a,
    );
    expect(unshare.data.unshareAddon).toEqual({ __typename: 'UnshareAddonSuccess', organizations: [] });
    expect((await gql(ADDON, { name: addonName }, tokens.b)).data.addon).toBeNull();
  });

  it("rolls back the vars people set and leaves an attachment's vars as they are, saying so", async () => {
    const app = `${appA}-roll`;
    const SET = `mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) {
      __typename ... on Error { message } ... on SetConfigVarsSuccess { release { version } } } }`;
    const ROLLBACK = `mutation($input: RollbackConfigInput!) { rollbackConfig(input: $input) {
      __typename ... on Error { message }
      ... on RollbackConfigSuccess { release { version diff { name change value } kept { name attachment } } } } }`;
    expect((await gql(CREATE_APP, { input: { name: app } }, tokens.a)).data.createApp.__typename).toBe(
      'CreateAppSuccess',
    );
    const v1 = await gql(SET, { input: { app, vars: { MODE: 'blue' }, secret: false } }, tokens.a);
    expect(v1.data.setConfigVars.release.version).toBe(1);
    await gql(
      'mutation($input: AttachAddonInput!) { attachAddon(input: $input) { __typename } }',
      { input: { app, addon: addonName, as: 'REPORTING' } },
      tokens.a,
    );
    const attached = await eventually(
      () => gql(APP, { name: app }, tokens.a),
      (r) => r.data?.app?.attachments[0]?.state === 'ATTACHED',
    );
    const url = attached.data.app.configVars.find((v: { name: string }) => v.name === 'REPORTING_URL').value;
    expect(url).toMatch(/^fake:\/\//);
    await gql(SET, { input: { app, vars: { MODE: 'green', EXTRA: 'yes' }, secret: false } }, tokens.a);

    const rolled = await gql(ROLLBACK, { input: { app, version: 1 } }, tokens.a);
    expect(rolled.data.rollbackConfig).toEqual({
      __typename: 'RollbackConfigSuccess',
      release: {
        version: 4,
        diff: [
          { name: 'EXTRA', change: 'removed', value: null },
          { name: 'MODE', change: 'changed', value: 'blue' },
        ],
        kept: [{ name: 'REPORTING_URL', attachment: 'REPORTING' }],
      },
    });
    const after = (await gql(APP, { name: app }, tokens.a)).data.app;
    expect(after.configVars).toEqual([
      { name: 'MODE', value: 'blue', owner: 'user' },
      { name: 'REPORTING_URL', value: url, owner: 'attachment:REPORTING' },
    ]);
    expect(after.attachments).toMatchObject([
      { name: 'REPORTING', state: 'ATTACHED', configVarNames: ['REPORTING_URL'] },
    ]);
    const listed = await gql(
      'query($n: String!) { app(name: $n) { releases { version kept { name attachment } } } }',
      { n: app },
      tokens.a,
    );
    expect(listed.data.app.releases).toEqual([
      { version: 4, kept: [{ name: 'REPORTING_URL', attachment: 'REPORTING' }] },
      { version: 3, kept: [] },
      { version: 2, kept: [] },
      { version: 1, kept: [] },
    ]);

    await gql(
      'mutation($input: DetachAddonInput!) { detachAddon(input: $input) { __typename } }',
      { input: { app, name: 'REPORTING' } },
      tokens.a,
    );
    await eventually(
      async () => provider.bindings.size,
      (n) => n === 1,
    );
    expect(provider.bindings.size).toBe(1);
  });

  it('rotates credentials: the var gets a new value in a new release, the old binding goes', async () => {
    const value = async () =>
      ((await gql(APP, { name: appA }, tokens.a)).data.app.configVars as { name: string; value: string }[]).find(
        (v) => v.name === 'DATABASE_URL',
      )?.value;
    const old = await value();
    const oldBindings = [...provider.bindings.keys()];
    expect(oldBindings).toHaveLength(1);
    const rotated = await gql(
      `mutation($input: RotateAddonCredentialsInput!) { rotateAddonCredentials(input: $input) {
        __typename ... on Error { message } ... on RotateAddonCredentialsSuccess { addon { name } } } }`,
      { input: { addon: addonName, graceSeconds: 0 } },
      tokens.a,
    );
    expect(rotated.data.rotateAddonCredentials).toEqual({
      __typename: 'RotateAddonCredentialsSuccess',
      addon: { name: addonName },
    });
    const next = await eventually(value, (v) => v !== undefined && v !== old);
    expect(next).toMatch(/^fake:\/\//);
    expect(next).not.toBe(old);
    // graceSeconds 0: the old binding is revoked at the provider; only the new one is left.
    const left = await eventually(
      async () => [...provider.bindings.keys()],
      (keys) => keys.length === 1 && keys[0] !== oldBindings[0],
    );
    expect(left).toHaveLength(1);
    expect(left[0]).not.toBe(oldBindings[0]);
  });

  it('changes the plan, and refuses a plan the add-on is already on', async () => {
    const CHANGE = `mutation($input: ChangeAddonPlanInput!) { changeAddonPlan(input: $input) {
      __typename ... on Error { message } ... on ChangeAddonPlanSuccess { addon { name planSlug } } } }`;
    const changed = await gql(CHANGE, { input: { addon: addonName, plan: 'pro' } }, tokens.a);
    expect(changed.data.changeAddonPlan).toEqual({
      __typename: 'ChangeAddonPlanSuccess',
      addon: { name: addonName, planSlug: 'pro' },
    });
    const done = await eventually(
      () => gql(ADDON, { name: addonName }, tokens.a),
      (r) => r.data?.addon?.state === 'PROVISIONED',
    );
    expect(done.data.addon.state).toBe('PROVISIONED');
    const same = await gql(CHANGE, { input: { addon: addonName, plan: 'pro' } }, tokens.a);
    expect(same.data.changeAddonPlan).toMatchObject({ __typename: 'InvalidInput' });
    expect(same.data.changeAddonPlan.message).toMatch(/already on plan pro/);
  });

  it('destroys: the vars go and the provider holds nothing', async () => {
    const destroy = await gql(
      `mutation($input: DestroyAddonInput!) { destroyAddon(input: $input) {
        __typename ... on Error { message } ... on DestroyAddonSuccess { addon { name state } } } }`,
      { input: { addon: addonName } },
      tokens.a,
    );
    expect(destroy.data.destroyAddon.__typename).toBe('DestroyAddonSuccess');
    const gone = await eventually(
      () => gql(ADDON, { name: addonName }, tokens.a),
      (r) => r.data?.addon === null || r.data?.addon?.state === 'DESTROYED',
    );
    expect(gone.errors).toBeUndefined();
    const app = (await gql(APP, { name: appA }, tokens.a)).data.app;
    expect(app.configVars.map((v: { name: string }) => v.name)).toEqual(['LIVE']);
    expect(app.addons).toEqual([]);
    await eventually(
      async () => provider.instances.size + provider.bindings.size,
      (n) => n === 0,
    );
    expect(provider.instances.size).toBe(0);
    expect(provider.bindings.size).toBe(0);
  });
});

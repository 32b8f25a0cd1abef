import {
  type CatalogFixture,
  type FakeProvider,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
} from '@annex/broker/testing';
import {
  ALL_SCOPES,
  createApiToken,
  type Database,
  type GraphqlOperation,
  OPERATION_SCOPES,
  type Operation,
  type OrganizationOperation,
  PROVIDER_SCOPES,
  type RestOperation,
  type Scope,
  scopesGrant,
} from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ROOT_FIELDS } from './graphql/types/apps.js';
import { startTestCatalog, type TestCatalog } from './testing.js';

// Walks the whole scope table (OPERATION_SCOPES of @annex/platform): every `/v1` route of the
// broker and every root field of the catalog that acts for an organization is refused to a
// token holding every scope but the one it needs (403 `forbidden` naming the scope, or the
// typed Forbidden error), changing nothing, and is not refused for scope to a token holding
// just that scope. The tokens are a platform's, acting for the organization whose app it is.
// Operations of a provider's own data need a provider scope, which only provider tokens carry:
// their tests walk them with provider tokens (src/listing.test.ts for the listing mutations).

/** The table's operations that act for an organization, with their scope. */
const ORGANIZATION_OPERATIONS = (Object.entries(OPERATION_SCOPES) as [Operation, string][]).filter(
  (entry): entry is [OrganizationOperation, Scope] => !(entry[1] in PROVIDER_SCOPES),
);

/** Rows of everything an organization's caller could change, as one digest. */
async function fingerprint(database: Database): Promise<string> {
  const tables = [
    'apps',
    'addons',
    'addon_shares',
    'attachments',
    'config_vars',
    'releases',
    'service_instances',
    'service_bindings',
    'platforms',
    'webhook_deliveries',
    'billing_accounts',
    'spend_caps',
    'provider_billing',
    'billing_jobs',
    'sso_tokens',
  ];
  const parts = await Promise.all(
    tables.map(async (table) => {
      const { rows } = await sql<{ digest: string | null }>`
        select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest
        from ${sql.table(table)} t`.execute(database.db);
      return `${table}:${rows[0]?.digest}`;
    }),
  );
  return parts.join(',');
}

/**
 * Waits (up to 20 s) until nothing an earlier request set going is still moving: no add-on,
 * attachment or provider operation on its way somewhere. What the reconciler finishes in the
 * background must not change the database while a test checks that a refusal changed nothing.
 */
async function settled(database: Database): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { rows } = await sql<{ moving: number }>`
      select (select count(*) from addons where state in ('provisioning', 'changing_plan', 'destroying'))
           + (select count(*) from attachments where state in ('attaching', 'rotating', 'detaching'))
           + (select count(*) from broker_operations where state in ('pending', 'polling')) as moving`.execute(
      database.db,
    );
    if (Number(rows[0]?.moving ?? 0) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Answer {
  status: number;
  /** The scope a REST refusal names, or a GraphQL refusal's typename / code. */
  refusal: { scope?: string; typename?: string; code?: string; message?: string } | null;
}

describe.each(testDatabaseKinds('the scope table'))('every operation of the scope table on $name', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let catalog: TestCatalog;
  let fixture: CatalogFixture;
  let org = '';
  let plan = '';
  const app = `scoped-${Math.random().toString(36).slice(2, 8)}`;
  let addon = '';
  const tokens = new Map<string, string>();

  /** A platform token acting for the organization, with exactly these scopes. */
  const tokenWith = async (scopes: readonly Scope[]): Promise<string> => {
    const key = [...scopes].sort().join(',');
    let token = tokens.get(key);
    if (!token) {
      token = (
        await createApiToken(database.db, {
          kind: 'platform',
          name: `scopes ${key}`,
          platformId: fixture.platformId,
          scopes,
        })
      ).token;
      tokens.set(key, token);
    }
    return token;
  };

  const rest = async (operation: RestOperation & OrganizationOperation, token: string): Promise<Answer> => {
    const [method, template] = operation.split(' ') as [string, string];
    const request = REST_REQUESTS[operation]({ app, addon, org, plan });
    const path = template
      .replace(':app', encodeURIComponent(app))
      .replace(':addon', encodeURIComponent(addon))
      .replace(':name', 'DATABASE')
      .replace(':organization', encodeURIComponent(org))
      .replace(':id', '00000000-0000-4000-8000-000000000000')
      .replace(':provider', fixture.providerSlug)
      .replace(':job', 'invoices');
    const response = await fetch(`${broker.url}${path}${request.query ?? ''}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(method === 'GET' ? {} : { body: JSON.stringify(request.body ?? {}) }),
    });
    const body = (await response.json().catch(() => ({}))) as { error?: string; scope?: string; message?: string };
    return {
      status: response.status,
      refusal: response.status === 403 ? { scope: body.scope, code: body.error, message: body.message } : null,
    };
  };

  const graphql = async (operation: GraphqlOperation & OrganizationOperation, token: string): Promise<Answer> => {
    const [type, field] = operation.split('.') as [string, string];
    const { document, variables } = GRAPHQL_REQUESTS[operation]({ app, addon, org, plan });
    const subscription = type === 'Subscription';
    const controller = new AbortController();
    const response = await fetch(`${catalog.url}/graphql`, {
      method: 'POST',
      signal: controller.signal,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(subscription ? { accept: 'text/event-stream' } : {}),
      },
      body: JSON.stringify({ query: document, variables }),
    });
    let result: { data?: Record<string, any> | null; errors?: { message: string; extensions?: { code?: string } }[] };
    if (subscription) {
      // The first message is enough: an error at once, or the first retained event.
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while (!/^data: .*$/m.test(text)) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += new TextDecoder().decode(chunk.value);
      }
      controller.abort();
      result = JSON.parse(/^data: (.*)$/m.exec(text)?.[1] ?? '{}');
    } else {
      result = (await response.json()) as typeof result;
    }
    const value = result.data?.[field] as { __typename?: string; message?: string } | null | undefined;
    if (value?.__typename === 'Forbidden' || value?.__typename === 'NotAuthorized') {
      return { status: response.status, refusal: { typename: value.__typename, message: value.message } };
    }
    const error = result.errors?.find(
      (e) => e.extensions?.code === 'FORBIDDEN' || e.extensions?.code === 'UNAUTHENTICATED',
    );
    return {
      status: response.status,
      refusal: error ? { code: error.extensions?.code, message: error.message } : null,
    };
  };

  const ask = (operation: OrganizationOperation, token: string) =>
    operation.includes(' ')
      ? rest(operation as RestOperation & OrganizationOperation, token)
      : graphql(operation as GraphqlOperation & OrganizationOperation, token);

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'prov', password: 'prov-pw' } });
    broker = await startTestBroker(database);
    fixture = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'prov', password: 'prov-pw' },
      plans: [{ slug: 'hobby' }],
    });
    const service = await database.db
      .selectFrom('services')
      .select('slug')
      .where('id', '=', fixture.serviceId)
      .executeTakeFirstOrThrow();
    plan = `${service.slug}:hobby`;
    const organization = await database.db
      .selectFrom('platform_organizations as po')
      .innerJoin('organizations as o', 'o.id', 'po.organization_id')
      .select('o.slug')
      .where('po.platform_id', '=', fixture.platformId)
      .executeTakeFirstOrThrow();
    org = organization.slug;
    catalog = await startTestCatalog(database, { CATALOG_BROKER_URL: broker.url });
    const everything = await tokenWith(ALL_SCOPES);
    const call = (method: string, path: string, body: unknown) =>
      fetch(`${broker.url}/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${everything}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await call('POST', '/apps', { name: app, organization: org })).status).toBe(201);
    const created = await call('POST', `/apps/${app}/addons`, { plan });
    expect(created.status).toBeLessThan(300);
    addon = ((await created.json()) as { addon: { name: string } }).addon.name;
  }, 60_000);

  afterAll(async () => {
    await catalog?.close();
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  it('has a request for every operation of the table, and the table every app field of the schema', () => {
    expect([...Object.keys(REST_REQUESTS), ...Object.keys(GRAPHQL_REQUESTS)].sort()).toEqual(
      ORGANIZATION_OPERATIONS.map(([operation]) => operation).sort(),
    );
    const graphqlFields = ORGANIZATION_OPERATIONS.map(([operation]) => operation)
      .filter((operation) => !operation.includes(' '))
      .map((operation) => operation.split('.')[1]);
    // `node` and `nodes` also answer catalog types; an App or Addon through them is the broker's to refuse.
    for (const field of APP_ROOT_FIELDS)
      if (field !== 'node' && field !== 'nodes') expect(graphqlFields).toContain(field);
  });

  for (const [operation, scope] of ORGANIZATION_OPERATIONS) {
    it(`${operation} needs ${scope}`, async () => {
      // Every other scope, but none that would grant this one.
      const without = await tokenWith(ALL_SCOPES.filter((s) => !scopesGrant([s], scope)));
      await settled(database);
      const before = await fingerprint(database);
      const refused = await ask(operation, without);
      expect(refused.refusal, `${operation} without ${scope}`).not.toBeNull();
      if (operation.includes(' ')) {
        expect(refused).toMatchObject({ status: 403, refusal: { code: 'forbidden', scope } });
      } else {
        expect(refused.refusal?.typename ?? refused.refusal?.code).toMatch(/^(Forbidden|FORBIDDEN)$/);
      }
      expect(refused.refusal?.message).toContain(scope);
      expect(await fingerprint(database)).toBe(before);

      // Allowed: whatever else it answers (an admin-only route refuses a platform, say), not this.
      const allowed = await ask(operation, await tokenWith([scope]));
      expect(allowed.refusal?.scope, operation).toBeUndefined();
      expect(allowed.refusal?.message ?? '', operation).not.toContain(`the ${scope} scope`);
    });
  }

  it('keeps a config:read token from destroying an add-on or changing the payment method', async () => {
    const reader = await tokenWith(['config:read']);
    const before = await fingerprint(database);
    const destroy = await fetch(`${broker.url}/v1/addons/${addon}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${reader}` },
    });
    expect(destroy.status).toBe(403);
    expect(await destroy.json()).toMatchObject({ error: 'forbidden', scope: 'apps:write' });
    const pay = await fetch(`${broker.url}/v1/billing/payment-method?organization=${org}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
      body: JSON.stringify({ paymentMethod: 'pm_card_visa' }),
    });
    expect(pay.status).toBe(403);
    expect(await pay.json()).toMatchObject({ error: 'forbidden', scope: 'billing:write' });
    const viaGraphql = await catalog.gql(
      `mutation($addon: String!) { destroyAddon(input: { addon: $addon }) { __typename ... on Error { message } } }`,
      { addon },
      reader,
    );
    expect(viaGraphql.data?.destroyAddon).toEqual({
      __typename: 'Forbidden',
      message: expect.stringContaining('apps:write'),
    });
    expect(await fingerprint(database)).toBe(before);
    // What it may do, it does: read the values.
    const values = await fetch(`${broker.url}/v1/apps/${app}/config-vars`, {
      headers: { authorization: `Bearer ${reader}` },
    });
    expect(values.status).toBe(200);
  });
});

interface Names {
  app: string;
  addon: string;
  org: string;
  plan: string;
}

/** The query string and body each route is asked with (path parameters come from the route). */
const REST_REQUESTS: Record<RestOperation & OrganizationOperation, (n: Names) => { query?: string; body?: unknown }> = {
  'GET /v1/apps': () => ({}),
  'POST /v1/apps': (n) => ({ body: { name: `${n.app}-new`, organization: n.org } }),
  'GET /v1/apps/:app': () => ({}),
  'GET /v1/addons': () => ({}),
  'GET /v1/addons/:addon': () => ({}),
  'POST /v1/apps/:app/addons/preflight': (n) => ({ body: { plan: n.plan, as: 'EXTRA' } }),
  'POST /v1/apps/:app/addons': (n) => ({ body: { plan: n.plan, as: 'SECOND' } }),
  'POST /v1/apps/:app/attachments/preflight': (n) => ({ body: { addon: n.addon, as: 'AGAIN' } }),
  'POST /v1/apps/:app/attachments': (n) => ({ body: { addon: n.addon, as: 'AGAIN' } }),
  'DELETE /v1/apps/:app/attachments/:name': () => ({}),
  'DELETE /v1/addons/:addon': () => ({}),
  'PATCH /v1/addons/:addon': () => ({ body: { plan: 'hobby' } }),
  'POST /v1/addons/:addon/rotate': () => ({ body: {} }),
  'GET /v1/addons/:addon/shares': () => ({}),
  'POST /v1/addons/:addon/shares': (n) => ({ body: { organization: n.org } }),
  'DELETE /v1/addons/:addon/shares/:organization': () => ({}),
  'GET /v1/apps/:app/config-vars': () => ({}),
  'GET /v1/apps/:app/config-var-names': () => ({}),
  'PATCH /v1/apps/:app/config-vars': () => ({ body: { vars: { MODE: 'blue' }, secret: false } }),
  'POST /v1/apps/:app/config-vars/confirm': () => ({ body: { release: 1 } }),
  'GET /v1/apps/:app/releases': () => ({}),
  'POST /v1/apps/:app/releases/rollback': () => ({ body: { version: 1 } }),
  'GET /v1/apps/:app/events': () => ({ query: '?waitMs=0' }),
  'GET /v1/platforms/self/webhook': () => ({}),
  'PUT /v1/platforms/self/webhook': () => ({ body: { url: 'https://hooks.example.com/annex' } }),
  'DELETE /v1/platforms/self/webhook': () => ({}),
  'POST /v1/platforms/self/webhook/rotate': () => ({ body: {} }),
  'GET /v1/webhook-deliveries': () => ({}),
  'POST /v1/webhook-deliveries/:id/redeliver': () => ({ body: {} }),
  'GET /v1/billing/account': (n) => ({ query: `?organization=${n.org}` }),
  'POST /v1/billing/setup-intent': (n) => ({ query: `?organization=${n.org}`, body: {} }),
  'POST /v1/billing/card-checkout': (n) => ({
    query: `?organization=${n.org}`,
    body: { returnUrl: 'https://console.example/billing' },
  }),
  'PUT /v1/billing/payment-method': (n) => ({
    query: `?organization=${n.org}`,
    body: { paymentMethod: 'pm_card_visa' },
  }),
  'PUT /v1/billing/spend-caps': (n) => ({ query: `?organization=${n.org}`, body: { limitCents: 5000 } }),
  'GET /v1/billing/invoices': (n) => ({ query: `?organization=${n.org}` }),
  'GET /v1/billing/invoices/:id': () => ({}),
  'GET /v1/billing/usage': (n) => ({ query: `?app=${n.app}` }),
  'PUT /v1/billing/providers/:provider': () => ({ body: { revenueShare: 0.7 } }),
  'POST /v1/billing/jobs/:job': () => ({ body: {} }),
  'POST /v1/addons/:addon/sso': () => ({ body: {} }),
};

const result = (field: string, args: string) =>
  `${args} { ${field}(input: $input) { __typename ... on Error { message } } }`;

/** The document and variables each root field is asked with. */
const GRAPHQL_REQUESTS: Record<
  GraphqlOperation & OrganizationOperation,
  (n: Names) => { document: string; variables: Record<string, unknown> }
> = {
  'Query.apps': () => ({ document: '{ apps { name } }', variables: {} }),
  'Query.app': (n) => ({ document: 'query($n: String!) { app(name: $n) { name } }', variables: { n: n.app } }),
  'Query.addon': (n) => ({
    document: 'query($n: String!) { addon(name: $n) { name } }',
    variables: { n: n.addon },
  }),
  'Query.attachPreflight': (n) => ({
    document: result('attachPreflight', 'query($input: AttachPreflightInput!)'),
    variables: { input: { app: n.app, plan: n.plan, as: 'EXTRA' } },
  }),
  'Query.billingAccount': (n) => ({
    document: 'query($o: String) { billingAccount(organization: $o) { __typename } }',
    variables: { o: n.org },
  }),
  'Query.invoices': (n) => ({
    document: 'query($o: String) { invoices(organization: $o) { __typename } }',
    variables: { o: n.org },
  }),
  'Query.usage': (n) => ({
    document: 'query($a: String!) { usage(app: $a) { totalCents } }',
    variables: { a: n.app },
  }),
  'Subscription.addonEvents': (n) => ({
    document: 'subscription($a: String!) { addonEvents(app: $a, after: "0") { kind } }',
    variables: { a: n.app },
  }),
  'Mutation.createApp': (n) => ({
    document: result('createApp', 'mutation($input: CreateAppInput!)'),
    variables: { input: { name: `${n.app}-gql`, organization: n.org } },
  }),
  'Mutation.createAddon': (n) => ({
    document: result('createAddon', 'mutation($input: CreateAddonInput!)'),
    variables: { input: { app: n.app, plan: n.plan, as: 'THIRD' } },
  }),
  'Mutation.attachAddon': (n) => ({
    document: result('attachAddon', 'mutation($input: AttachAddonInput!)'),
    variables: { input: { app: n.app, addon: n.addon, as: 'AGAIN' } },
  }),
  'Mutation.detachAddon': (n) => ({
    document: result('detachAddon', 'mutation($input: DetachAddonInput!)'),
    variables: { input: { app: n.app, name: 'AGAIN' } },
  }),
  'Mutation.destroyAddon': (n) => ({
    document: result('destroyAddon', 'mutation($input: DestroyAddonInput!)'),
    variables: { input: { addon: n.addon } },
  }),
  'Mutation.changeAddonPlan': (n) => ({
    document: result('changeAddonPlan', 'mutation($input: ChangeAddonPlanInput!)'),
    variables: { input: { addon: n.addon, plan: 'hobby' } },
  }),
  'Mutation.rotateAddonCredentials': (n) => ({
    document: result('rotateAddonCredentials', 'mutation($input: RotateAddonCredentialsInput!)'),
    variables: { input: { addon: n.addon } },
  }),
  'Mutation.shareAddon': (n) => ({
    document: result('shareAddon', 'mutation($input: ShareAddonInput!)'),
    variables: { input: { addon: n.addon, organization: n.org } },
  }),
  'Mutation.unshareAddon': (n) => ({
    document: result('unshareAddon', 'mutation($input: ShareAddonInput!)'),
    variables: { input: { addon: n.addon, organization: n.org } },
  }),
  'Mutation.rollbackConfig': (n) => ({
    document: result('rollbackConfig', 'mutation($input: RollbackConfigInput!)'),
    variables: { input: { app: n.app, version: 1 } },
  }),
  'Mutation.setConfigVars': (n) => ({
    document: result('setConfigVars', 'mutation($input: SetConfigVarsInput!)'),
    variables: { input: { app: n.app, vars: { MODE: 'green' } } },
  }),
  'Mutation.openAddonDashboard': (n) => ({
    document: result('openAddonDashboard', 'mutation($input: OpenAddonDashboardInput!)'),
    variables: { input: { addon: n.addon } },
  }),
  'Mutation.startCardCheckout': (n) => ({
    document: result('startCardCheckout', 'mutation($input: StartCardCheckoutInput!)'),
    variables: { input: { organization: n.org, returnUrl: 'https://console.example/billing' } },
  }),
};

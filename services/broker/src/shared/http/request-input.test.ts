import { createApiToken, type Database } from '@annex/platform';
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
} from '../../testing.js';

/** `{"a":{"a":…1…}}`, `levels` objects deep. */
const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

// Input the broker's own HTTP layer refuses before any work: JSON nested too deep, NUL
// characters anywhere, control characters in ids and names. Each is a 400 in the API's
// error shape naming the field, and nothing is stored.
describe.each(testDatabaseKinds('hostile request input'))('hostile request input ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let fx: CatalogFixture;
  let osb: OsbClient;
  let orgToken: string;
  let providerToken: string;
  let serviceSlug: string;
  const app = `web-${kind.name}`;

  const send = async (method: string, path: string, body: string | undefined, headers: Record<string, string>) => {
    const response = await fetch(`${broker.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const v1 = (method: string, path: string, body?: string, token = orgToken) =>
    send(method, `/v1${path}`, body, { authorization: `Bearer ${token}` });
  const provisionBody = (extra: Record<string, unknown> = {}) => ({
    service_id: fx.serviceOsbId,
    plan_id: fx.plans.free?.osbId,
    organization_guid: 'org-1',
    space_guid: 'space-1',
    ...extra,
  });

  /** Rows in every table a refused request could have written to. */
  const rowCounts = async () => {
    const counts: Record<string, number> = {};
    for (const table of [
      'service_instances',
      'broker_operations',
      'broker_audit_log',
      'apps',
      'addons',
      'releases',
      'usage_records',
    ]) {
      const result = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(database.db);
      counts[table] = Number(result.rows[0]?.n);
    }
    return counts;
  };

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'u', password: 'p' } });
    broker = await startTestBroker(database);
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'u', password: 'p' },
      // No parameter schema: nothing but the HTTP layer looks into the parameters.
      plans: [{ slug: 'free' }],
    });
    osb = osbClient(broker.url, { username: fx.osbUsername, password: fx.osbPassword });
    const org = await database.db
      .selectFrom('platform_organizations')
      .select('organization_id')
      .where('platform_id', '=', fx.platformId)
      .executeTakeFirstOrThrow();
    orgToken = (await createApiToken(database.db, { kind: 'org', name: 'o', organizationId: org.organization_id }))
      .token;
    providerToken = (await createApiToken(database.db, { kind: 'provider', name: 'p', providerId: fx.providerId }))
      .token;
    serviceSlug = (
      await database.db.selectFrom('services').select('slug').where('id', '=', fx.serviceId).executeTakeFirstOrThrow()
    ).slug;
    expect((await v1('POST', '/apps', JSON.stringify({ name: app }))).status).toBe(201);
  });
  afterAll(async () => {
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  it('refuses OSB requests nested too deep or carrying NUL or control characters with a 400 naming the field', async () => {
    const before = await rowCounts();
    const path = '/v2/service_instances/hostile-1';
    const deep = await osb(
      'PUT',
      path,
      JSON.stringify(provisionBody()).replace(/}$/, `,"parameters":${nested(5_000)}}`),
    );
    expect(deep.status).toBe(400);
    expect(deep.body).toEqual({ error: 'BadRequest', description: expect.stringMatching(/^parameters: nests deeper/) });
    // 64 levels, the body included, are still fine for a provision that is otherwise refused.
    const allowed = await osb(
      'PUT',
      path,
      JSON.stringify(provisionBody({ plan_id: 'nope' })).replace(/}$/, `,"parameters":${nested(62)}}`),
    );
    expect(allowed.body.description).toMatch(/plan_id "nope"/);

    const cases: [string, Promise<{ status: number; body: any }>, string][] = [
      [
        'a parameter value',
        osb('PUT', path, provisionBody({ parameters: { db: { password: 'pw\u0000' } } })),
        'parameters.db.password',
      ],
      ['a parameter key', osb('PUT', path, provisionBody({ parameters: { 'pass\u0000word': 'pw' } })), 'parameters'],
      [
        'an array item',
        osb('PUT', path, provisionBody({ parameters: { hosts: ['a', 'b\u0000'] } })),
        'parameters.hosts.1',
      ],
      ['the context', osb('PUT', path, provisionBody({ context: { platform: 'cf\u0000' } })), 'context.platform'],
      ['an OSB id', osb('PUT', path, provisionBody({ organization_guid: 'org\u0000' })), 'organization_guid'],
      ['a control character in an OSB id', osb('PUT', path, provisionBody({ space_guid: 'space\n2' })), 'space_guid'],
      ['the instance id', osb('PUT', '/v2/service_instances/bad%00id', provisionBody()), 'instance_id'],
      ['the binding id', osb('PUT', `${path}/service_bindings/b%0Ad`, provisionBody()), 'binding_id'],
      ['a query parameter', osb('DELETE', `${path}?service_id=s%00&plan_id=p`), 'service_id'],
    ];
    for (const [what, answer, field] of cases) {
      const { status, body } = await answer;
      expect(status, what).toBe(400);
      expect(body.error, what).toBe('BadRequest');
      expect(body.description, what).toMatch(new RegExp(`^${field.replace(/\./g, '\\.')}: must not`));
    }

    const identity = `cloudfoundry ${Buffer.from(JSON.stringify({ user_id: 'al\u0000ice' })).toString('base64')}`;
    const withIdentity = await osb('PUT', path, provisionBody(), { 'x-broker-api-originating-identity': identity });
    expect(withIdentity.status).toBe(400);
    expect(withIdentity.body.description).toMatch(/^X-Broker-API-Originating-Identity .* no NUL characters/);

    // Before authentication: a username that could never be stored is refused, not looked up.
    const username = await send('GET', '/v2/catalog', undefined, {
      authorization: basic(`${fx.osbUsername}\u0000`, fx.osbPassword),
      'x-broker-api-version': '2.17',
    });
    expect(username.status).toBe(400);
    expect(username.body).toEqual({
      error: 'BadRequest',
      description: 'Authorization: the username must not contain control characters',
    });

    expect(await rowCounts()).toEqual(before);
    expect(provider.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('refuses unpaired surrogates (text that is not Unicode) anywhere in a body with a 400 naming the field', async () => {
    // JSON may escape them (`"\ud800"`), PostgreSQL's jsonb refuses them and a text
    // column would store U+FFFD in their place: they are refused before either happens.
    const before = await rowCounts();
    const path = '/v2/service_instances/surrogate-1';
    const raw = (body: Record<string, unknown>) => osb('PUT', path, JSON.stringify(body));
    const cases: [string, Promise<{ status: number; body: any }>, string][] = [
      ['a context key', raw(provisionBody({ context: { '\ud800': '' } })), 'context'],
      ['a context value', raw(provisionBody({ context: { platform: 'cf\udfff' } })), 'context.platform'],
      ['a parameter', raw(provisionBody({ parameters: { pw: ['\udc00x'] } })), 'parameters.pw.0'],
      ['an OSB id', raw(provisionBody({ space_guid: 'space\ud83d' })), 'space_guid'],
      ['an apps API name', v1('POST', '/apps', JSON.stringify({ name: 'web\ud800' })), 'name'],
    ];
    for (const [what, answer, field] of cases) {
      const { status, body } = await answer;
      expect(status, what).toBe(400);
      expect(body.description ?? body.message, what).toMatch(
        new RegExp(`^${field.replace(/\./g, '\\.')}: must not (contain|have a key containing) unpaired surrogates`),
      );
    }
    // A pair is one character, and welcome.
    const emoji = await raw(provisionBody({ plan_id: 'nope', context: { platform: 'cf 😀' } }));
    expect(emoji.body.description).toMatch(/plan_id "nope"/);
    expect(await rowCounts()).toEqual(before);
  });

  it('refuses the same on the apps API in its own error shape', async () => {
    const before = await rowCounts();
    const deep = await v1(
      'POST',
      `/apps/${app}/addons`,
      `{"plan":"${serviceSlug}:free","parameters":${nested(5_000)}}`,
    );
    expect(deep.status).toBe(400);
    expect(deep.body).toEqual({
      error: 'invalid_input',
      message: expect.stringMatching(/^parameters: nests deeper than 64 levels/),
      field: 'parameters',
    });
    const cases: [string, Promise<{ status: number; body: any }>, string][] = [
      [
        'a parameter',
        v1(
          'POST',
          `/apps/${app}/addons`,
          JSON.stringify({ plan: `${serviceSlug}:free`, parameters: { pw: 'x\u0000' } }),
        ),
        'parameters.pw',
      ],
      [
        'an organization',
        v1('POST', '/apps', JSON.stringify({ name: 'api', organization: 'acme\u0000' })),
        'organization',
      ],
      [
        'a reason',
        v1('PATCH', `/apps/${app}/config-vars`, JSON.stringify({ vars: { MODE: 'a' }, reason: 'because\u0000' })),
        'reason',
      ],
      ['a name in the path', v1('GET', '/apps/web%00'), 'path'],
      ['a query parameter', v1('GET', '/addons?app=web%00'), 'app'],
      ['a billing query', v1('GET', '/billing/account?organization=acme%00'), 'organization'],
    ];
    for (const [what, answer, field] of cases) {
      const { status, body } = await answer;
      expect(status, what).toBe(400);
      expect(body, what).toEqual({ error: 'invalid_input', message: expect.stringMatching(/must not/), field });
    }
    const tooLarge = await v1('POST', '/apps', JSON.stringify({ name: 'x'.repeat(300 * 1024) }));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body).toMatchObject({ error: 'invalid_input', field: 'body' });
    expect(await rowCounts()).toEqual(before);
  });

  it('refuses the same in provider callbacks, in the OSB error shape', async () => {
    const before = await rowCounts();
    const instance = '00000000-0000-4000-8000-000000000001';
    const cases: [string, Promise<{ status: number; body: any }>, string][] = [
      [
        'a config push reason',
        v1(
          'POST',
          `/provider/instances/${instance}/config`,
          JSON.stringify({ config: { A: 'b' }, reason: 'r\u0000' }),
          providerToken,
        ),
        'reason',
      ],
      [
        'a usage unit',
        v1(
          'POST',
          '/provider/usage',
          JSON.stringify({
            records: [{ idempotencyKey: 'k', instanceId: instance, unit: 'tok\u0000', quantity: 1, at: 'now' }],
          }),
          providerToken,
        ),
        'records.0.unit',
      ],
      [
        'nesting',
        v1(
          'POST',
          `/provider/operations/${instance}/complete`,
          `{"state":"succeeded","extra":${nested(100)}}`,
          providerToken,
        ),
        'extra',
      ],
      ['a path id', v1('GET', '/provider/instances/x%00/allowance?unit=tokens', undefined, providerToken), 'path'],
    ];
    for (const [what, answer, field] of cases) {
      const { status, body } = await answer;
      expect(status, what).toBe(400);
      expect(body.error, what).toBe('BadRequest');
      expect(body.description, what).toMatch(new RegExp(`^${field.replace(/\./g, '\\.')}: (must not|nests deeper)`));
    }
    expect(await rowCounts()).toEqual(before);
  });
});

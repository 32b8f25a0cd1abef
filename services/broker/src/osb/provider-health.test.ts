import { randomUUID } from 'node:crypto';
import { answers } from '@annex/contracts/v1';
import { createApiToken, type Database, recentServiceCalls, serviceHealthOf } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
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
} from '../testing.js';
import { insertProviderCalls, pruneProviderCalls } from './db/provider-calls.js';
import { callOutcome, operationOf } from './domain/provider-calls.js';

// The broker records every call it makes to a provider, and the provider (or an admin) reads
// its health: per operation, the recent failures with what the provider answered, the series.
describe.each(testDatabaseKinds('provider health'))('provider health ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let fx: CatalogFixture;
  let other: CatalogFixture;
  let osb: OsbClient;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({
      auth: { kind: 'basic', username: 'broker', password: 'pw' },
      modes: {},
    });
    broker = await startTestBroker(database);
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'broker', password: 'pw' },
      plans: [{ slug: 'small' }, { slug: 'broken' }],
    });
    // The fake provider's behaviour is per plan OSB id.
    provider.options.modes = { [fx.plans.broken?.osbId as string]: 'fail500' };
    other = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'broker', password: 'pw' },
      plans: [{ slug: 'small' }],
    });
    osb = osbClient(broker.url, { username: fx.osbUsername, password: fx.osbPassword });
    const org = await database.db
      .selectFrom('platform_organizations')
      .select('organization_id')
      .where('platform_id', '=', fx.platformId)
      .executeTakeFirstOrThrow();
    const make = async (input: Parameters<typeof createApiToken>[1]) =>
      (await createApiToken(database.db, input)).token;
    tokens.provider = await make({ kind: 'provider', name: 'p', providerId: fx.providerId });
    tokens.other = await make({ kind: 'provider', name: 'q', providerId: other.providerId });
    tokens.publishOnly = await make({
      kind: 'provider',
      name: 'r',
      providerId: fx.providerId,
      scopes: ['catalog:publish'],
    });
    tokens.org = await make({ kind: 'org', name: 'o', organizationId: org.organization_id });
    tokens.admin = await make({ kind: 'admin', name: 'a' });
  });
  afterAll(async () => {
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  const provision = (plan: 'small' | 'broken') =>
    osb('PUT', `/v2/service_instances/health-${randomUUID()}`, {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans[plan]?.osbId,
      organization_guid: 'o',
      space_guid: 's',
    });
  const health = async (token: string, slug = fx.providerSlug, query = '') => {
    const response = await fetch(`${broker.url}/v1/providers/${slug}/health${query}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  it('records a provider that answers 500: the failure with its answer, counts, error rate and latencies', async () => {
    expect((await provision('small')).status).toBe(201);
    expect((await provision('small')).status).toBe(201);
    const failed = await provision('broken');
    expect(failed.status, JSON.stringify(failed.body)).toBeGreaterThanOrEqual(500);
    // The record is written in the background (about every second); write it now.
    await broker.broker.providerCalls.flush();

    const { status, body } = await health(tokens.provider as string);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(answers['GET /v1/providers/:provider/health'].safeParse(body).success).toBe(true);
    const provisions = body.operations.find((o: { operation: string }) => o.operation === 'provision');
    expect(provisions.lastHour).toMatchObject({ count: 3, errors: 1 });
    expect(provisions.lastHour.errorRate).toBeCloseTo(1 / 3);
    expect(provisions.last30Days).toMatchObject({ count: 3, errors: 1 });
    expect(provisions.lastHour.p50Ms).toBeGreaterThanOrEqual(0);
    expect(provisions.lastHour.p99Ms).toBeGreaterThanOrEqual(provisions.lastHour.p50Ms);
    const service = await database.db
      .selectFrom('services')
      .select('slug')
      .where('id', '=', fx.serviceId)
      .executeTakeFirstOrThrow();
    expect(body.failures[0]).toMatchObject({
      operation: 'provision',
      service: service.slug,
      outcome: 'error',
      status: 500,
      description: 'internal error after creating',
    });
    expect(body.overall.lastHour.count).toBeGreaterThanOrEqual(3);
    // The series: 24 hourly and 30 daily buckets, the last ones holding these calls (the
    // last two, should the calls and the report fall either side of an hour or a day).
    const sum = (buckets: { count: number; errors: number }[], key: 'count' | 'errors') =>
      buckets.slice(-2).reduce((total, bucket) => total + bucket[key], 0);
    expect(body.hourly).toHaveLength(24);
    expect(body.daily).toHaveLength(30);
    expect(sum(body.hourly, 'count')).toBe(body.overall.lastHour.count);
    expect(sum(body.hourly, 'errors')).toBe(body.overall.lastHour.errors);
    expect(sum(body.daily, 'count')).toBe(body.overall.last30Days.count);
    expect(body.hourly.slice(0, -2).every((bucket: { count: number }) => bucket.count === 0)).toBe(true);
    expect(new Date(body.hourly[23].start).getTime() - new Date(body.hourly[22].start).getTime()).toBe(3_600_000);

    // The same report for one service, and for an admin.
    const filtered = await health(tokens.provider as string, fx.providerSlug, `?service=${service.slug}`);
    expect(filtered.body.service).toBe(service.slug);
    expect(filtered.body.failures).toEqual(body.failures);
    expect((await health(tokens.admin as string)).status).toBe(200);
  });

  it('keeps no body of a successful call: a bind answer with credentials is recorded without them', async () => {
    const rows = await database.db.selectFrom('provider_calls').selectAll().where('outcome', '=', 'ok').execute();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((row) => row.error === null && row.description === null)).toBe(true);
    const bound = callOutcome('bind', 'PUT', {
      kind: 'answer',
      status: 201,
      body: { credentials: { uri: 'postgres://secret' } },
      malformed: false,
      retryAfterSeconds: undefined,
    });
    expect(bound).toEqual({ outcome: 'ok', status: 201, error: null, description: null });
  });

  it('turns the coarse health of a failing service to failing', async () => {
    for (let i = 0; i < 4; i++) await provision('broken');
    await broker.broker.providerCalls.flush();
    const recent = await recentServiceCalls(database.db, [fx.serviceId, other.serviceId]);
    expect(serviceHealthOf(recent.get(fx.serviceId))).toBe('failing');
    expect(serviceHealthOf(recent.get(other.serviceId))).toBe('ok');

    // The attach preflight warns (and does not refuse) for the failing service only.
    const v1 = async (path: string, body: unknown) => {
      const response = await fetch(`${broker.url}/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.org}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as any };
    };
    expect((await v1('/apps', { name: `health-${kind.name}` })).status).toBe(201);
    const slugOf = async (id: string) =>
      (await database.db.selectFrom('services').select('slug').where('id', '=', id).executeTakeFirstOrThrow()).slug;
    const failing = await v1(`/apps/health-${kind.name}/addons/preflight`, {
      plan: `${await slugOf(fx.serviceId)}:small`,
    });
    expect(failing.status, JSON.stringify(failing.body)).toBe(200);
    expect(failing.body).toMatchObject({ ok: true, serviceHealth: 'failing', problems: [] });
    expect(failing.body.warnings).toEqual([expect.stringContaining(`${await slugOf(fx.serviceId)} is failing`)]);
  });

  it("refuses another provider's token (404), an org token (401) and a token without provider:read (403)", async () => {
    const refused = await health(tokens.other as string);
    expect(refused).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect(refused.body.message).toBe(`no provider ${fx.providerSlug} you can see`);
    expect(await health(tokens.org as string)).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    expect(await health(tokens.publishOnly as string)).toMatchObject({
      status: 403,
      body: { error: 'forbidden', scope: 'provider:read' },
    });
    // Its own report shows none of the first provider's calls.
    const own = await health(tokens.other as string, other.providerSlug);
    expect(own.status).toBe(200);
    expect(own.body.failures).toEqual([]);
  });

  it('names a service the provider does not have', async () => {
    const answer = await health(tokens.provider as string, fx.providerSlug, '?service=nope');
    expect(answer).toMatchObject({ status: 400, body: { error: 'invalid_input', field: 'service' } });
    expect(answer.body.message).toContain(`provider ${fx.providerSlug} has no service nope`);
  });

  it('deletes calls older than the retention', async () => {
    const old = new Date(Date.now() - 31 * 24 * 3_600_000);
    await insertProviderCalls(database.db, [
      {
        providerId: fx.providerId,
        serviceOsbId: fx.serviceOsbId,
        operation: 'provision',
        outcome: 'ok',
        status: 201,
        latencyMs: 5,
        error: null,
        description: null,
        at: old,
      },
    ]);
    expect(await pruneProviderCalls(database.db, new Date(Date.now() - 30 * 24 * 3_600_000))).toBe(1);
    const left = await database.db
      .selectFrom('provider_calls')
      .select('at')
      .where('at', '<', new Date(Date.now() - 86_400_000))
      .execute();
    expect(left).toEqual([]);
  });
});

describe('which operation a provider call is', () => {
  it('reads it from the method and path', () => {
    const instance = '/v2/service_instances/i-1';
    const binding = `${instance}/service_bindings/b-1`;
    expect(operationOf({ method: 'PUT', path: instance })).toBe('provision');
    expect(operationOf({ method: 'PATCH', path: instance })).toBe('update');
    expect(operationOf({ method: 'DELETE', path: instance })).toBe('deprovision');
    expect(operationOf({ method: 'GET', path: instance })).toBe('fetch_instance');
    expect(operationOf({ method: 'GET', path: `${instance}/last_operation` })).toBe('last_operation');
    expect(operationOf({ method: 'PUT', path: binding })).toBe('bind');
    expect(operationOf({ method: 'DELETE', path: binding })).toBe('unbind');
    expect(operationOf({ method: 'GET', path: binding })).toBe('fetch_binding');
    expect(operationOf({ method: 'GET', path: `${binding}/last_operation` })).toBe('last_operation');
  });

  it('counts a gone resource on delete as done, a failed last operation and a timeout as failures', () => {
    const answer = (status: number, body: unknown = {}) =>
      ({ kind: 'answer', status, body, malformed: false, retryAfterSeconds: undefined }) as const;
    expect(callOutcome('deprovision', 'DELETE', answer(410)).outcome).toBe('ok');
    expect(callOutcome('fetch_instance', 'GET', answer(404)).outcome).toBe('ok');
    expect(callOutcome('last_operation', 'GET', answer(200, { state: 'failed', description: 'disk full' }))).toEqual({
      outcome: 'error',
      status: 200,
      error: null,
      description: 'disk full',
    });
    expect(
      callOutcome('provision', 'PUT', answer(400, { error: 'BadRequest', description: 'x'.repeat(5000) })),
    ).toMatchObject({
      outcome: 'error',
      error: 'BadRequest',
      description: expect.stringMatching(/^x{1023}…$/),
    });
    expect(callOutcome('bind', 'PUT', { kind: 'timeout', message: 'no answer' }).outcome).toBe('timeout');
    expect(callOutcome('bind', 'PUT', { kind: 'refused', message: 'private' }).outcome).toBe('unreachable');
  });
});

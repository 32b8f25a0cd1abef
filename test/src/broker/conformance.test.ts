import { deterministicProviderInstanceId, listAudit } from '@annex/broker';
import {
  type CatalogFixture,
  type FakeProvider,
  type OsbClient,
  osbClient,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
  waitForOperation,
} from '@annex/broker/testing';
import { createApiToken, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const identity = (user: string) => `cloudfoundry ${Buffer.from(JSON.stringify({ user_id: user })).toString('base64')}`;

describe.each(testDatabaseKinds('broker conformance'))('OSB conformance ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let fx: CatalogFixture;
  let osb: OsbClient;
  let n = 0;
  const id = (label: string) => `${label}-${++n}-${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({
      auth: { kind: 'jwt', audience: 'pending' },
      modes: {},
      hangMs: 8_000,
      slowMs: 1_000,
    });
    broker = await startTestBroker(database);
    provider.options.brokerUrl = broker.url;
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'jwt' },
      plans: [
        {
          slug: 'small',
          planUpdateable: true,
          maintenanceInfo: { version: '1.0.0' },
          schemas: {
            service_instance: {
              create: {
                parameters: {
                  type: 'object',
                  properties: { size: { type: 'integer', minimum: 1 } },
                  additionalProperties: false,
                },
              },
            },
          },
        },
        { slug: 'large', bindingRotatable: true },
        { slug: 'fixed', planUpdateable: false, bindable: false },
        { slug: 'async', maximumPollingDuration: 60 },
        { slug: 'async-fail' },
        { slug: 'fail500' },
        { slug: 'timeout' },
        { slug: 'malformed' },
        { slug: 'ok200' },
        { slug: 'reject400' },
        { slug: 'slow' },
        { slug: 'private', visibility: 'private', allowedOrganizations: ['acme'] },
        { slug: 'old', status: 'deprecated' },
        { slug: 'needs-app', metadata: { requires_app: true } },
        { slug: 'async-bind' },
      ],
    });
    provider.options.auth = { kind: 'jwt', audience: fx.providerSlug };
    provider.options.modes = Object.fromEntries(
      ['async', 'async-fail', 'fail500', 'timeout', 'malformed', 'ok200', 'reject400', 'slow'].map((mode) => [
        fx.plans[mode]?.osbId as string,
        mode as never,
      ]),
    );
    provider.options.bindModes = { [fx.plans['async-bind']?.osbId as string]: 'async' };
    osb = osbClient(
      broker.url,
      { username: fx.osbUsername, password: fx.osbPassword },
      {
        originatingIdentity: identity('alice'),
      },
    );
  });

  afterAll(async () => {
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  const provisionBody = (plan: string, extra: Record<string, unknown> = {}) => ({
    service_id: fx.serviceOsbId,
    plan_id: fx.plans[plan]?.osbId,
    organization_guid: 'org-1',
    space_guid: 'space-1',
    ...extra,
  });
  const query = (plan: string) => `service_id=${fx.serviceOsbId}&plan_id=${fx.plans[plan]?.osbId}`;
  const providerIdOf = async (instanceId: string) =>
    (
      await database.db
        .selectFrom('service_instances')
        .select('provider_instance_id')
        .where('id', '=', instanceId)
        .executeTakeFirstOrThrow()
    ).provider_instance_id as string;

  /** An async provision that stays in progress long enough for the test to act on it. */
  const provisionStillRunning = async (instance: string) => {
    provider.options.asyncPolls = 50;
    try {
      return await osb('PUT', `/v2/service_instances/${instance}?accepts_incomplete=true`, provisionBody('async'));
    } finally {
      provider.options.asyncPolls = 2;
    }
  };

  it('requires the API version header (412) and credentials (401)', async () => {
    expect((await osb('GET', '/v2/catalog', undefined, { 'x-broker-api-version': undefined })).status).toBe(412);
    expect((await osb('GET', '/v2/catalog', undefined, { 'x-broker-api-version': '1.0' })).status).toBe(412);
    const wrong = osbClient(broker.url, { username: fx.osbUsername, password: 'nope' });
    const denied = await wrong('GET', '/v2/catalog');
    expect(denied.status).toBe(401);
    expect(denied.body.description).toMatch(/credentials/);
    const noAuth = await fetch(`${broker.url}/v2/catalog`, { headers: { 'x-broker-api-version': '2.17' } });
    expect(noAuth.status).toBe(401);
  });

  it('serves the catalog with only the plans the platform may see', async () => {
    const { status, body } = await osb('GET', '/v2/catalog');
    expect(status).toBe(200);
    const service = body.services.find((s: { id: string }) => s.id === fx.serviceOsbId);
    expect(service).toMatchObject({ bindable: true, instances_retrievable: true, description: 'A database for tests' });
    const planIds = service.plans.map((p: { id: string }) => p.id);
    expect(planIds).toContain(fx.plans.private?.osbId);
    expect(planIds).not.toContain(fx.plans.old?.osbId);
    const small = service.plans.find((p: { id: string }) => p.id === fx.plans.small?.osbId);
    expect(small.maintenance_info).toEqual({ version: '1.0.0' });
    expect(small.schemas.service_instance.create.parameters.properties.size.type).toBe('integer');

    const other = osbClient(broker.url, {
      username: fx.otherPlatform.osbUsername,
      password: fx.otherPlatform.osbPassword,
    });
    const otherCatalog = await other('GET', '/v2/catalog');
    const otherPlans = otherCatalog.body.services
      .find((s: { id: string }) => s.id === fx.serviceOsbId)
      .plans.map((p: { id: string }) => p.id);
    expect(otherPlans).not.toContain(fx.plans.private?.osbId);
    // Hidden plans cannot be provisioned either.
    const denied = await other('PUT', `/v2/service_instances/${id('hidden')}`, provisionBody('private'));
    expect(denied.status).toBe(400);
  });

  it('accepts a platform bearer token and echoes the request identity', async () => {
    const { token } = await createApiToken(database.db, { kind: 'platform', name: 't', platformId: fx.platformId });
    const withToken = osbClient(broker.url, { token });
    const res = await withToken('GET', '/v2/catalog', undefined, { 'x-broker-api-request-identity': 'req-42' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-broker-api-request-identity')).toBe('req-42');
    const instance = id('token');
    expect((await withToken('PUT', `/v2/service_instances/${instance}`, provisionBody('large'))).status).toBe(201);
    const [requested] = await listAudit(database.db, { instanceId: instance });
    expect(requested?.actor).toMatchObject({ kind: 'platform', platformId: fx.platformId });
    expect(requested?.actor.tokenId).toBeTruthy();
    expect(requested?.originatingIdentity).toBeNull();
  });

  it('provisions synchronously, answers identical re-PUTs with 200 and different ones with 409', async () => {
    const instance = id('sync');
    const created = await osb(
      'PUT',
      `/v2/service_instances/${instance}`,
      provisionBody('small', { parameters: { size: 2 } }),
    );
    expect(created.status).toBe(201);
    expect(created.body.dashboard_url).toMatch(/^http:\/\/dashboard\.test\//);
    const again = await osb(
      'PUT',
      `/v2/service_instances/${instance}`,
      provisionBody('small', { parameters: { size: 2 } }),
    );
    expect(again.status).toBe(200);
    const different = await osb(
      'PUT',
      `/v2/service_instances/${instance}`,
      provisionBody('small', { parameters: { size: 3 } }),
    );
    expect(different.status).toBe(409);
    const providerId = await providerIdOf(instance);
    expect(providerId).not.toBe(instance);
    expect(provider.creations.get(providerId)).toBe(1);
    // The provider saw the broker's id, the version, and the originating identity.
    const put = provider.requests.find((r) => r.method === 'PUT' && r.path.endsWith(providerId));
    expect(put?.version).toBe('2.17');
    expect(put?.originatingIdentity).toBe(identity('alice'));
    expect(provider.authFailures).toEqual([]);

    const fetched = await osb('GET', `/v2/service_instances/${instance}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toMatchObject({
      service_id: fx.serviceOsbId,
      plan_id: fx.plans.small?.osbId,
      parameters: { size: 2 },
    });

    const audit = await listAudit(database.db, { instanceId: instance });
    expect(audit.map((a) => a.action)).toEqual(['provision.requested', 'provision.succeeded']);
    expect(audit[0]?.originatingIdentity).toEqual({ platform: 'cloudfoundry', value: { user_id: 'alice' } });
    expect(audit[0]?.actor.platformId).toBe(fx.platformId);
  });

  it('rejects bad input with 400 naming the problem and changes nothing', async () => {
    const instance = id('bad');
    const missing = await osb('PUT', `/v2/service_instances/${instance}`, { service_id: fx.serviceOsbId });
    expect(missing.status).toBe(400);
    expect(missing.body.description).toMatch(/plan_id is required/);
    expect(missing.body.description).toMatch(/organization_guid is required/);
    const malformed = await osb('PUT', `/v2/service_instances/${instance}`, '{"service_id": ', {
      'content-type': 'application/json',
    });
    expect(malformed.status).toBe(400);
    const unknownPlan = await osb(
      'PUT',
      `/v2/service_instances/${instance}`,
      provisionBody('small', { plan_id: 'nope' }),
    );
    expect(unknownPlan.status).toBe(400);
    expect(unknownPlan.body.description).toMatch(/plan_id "nope"/);
    const badParams = await osb(
      'PUT',
      `/v2/service_instances/${instance}`,
      provisionBody('small', { parameters: { size: 'big' } }),
    );
    expect(badParams.status).toBe(400);
    expect(badParams.body.description).toMatch(/parameters\/size/);
    const deprecated = await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('old'));
    expect(deprecated.status).toBe(400);
    const unknownFields = await osb(
      'PUT',
      `/v2/service_instances/${instance}`,
      provisionBody('large', { surprise: 1 }),
    );
    expect(unknownFields.status).toBe(201);
  });

  it('answers what its own HTTP layer refuses with an OSB error body, and stores nothing', async () => {
    const instance = id('http');
    const tooLarge = await osb(
      'PUT',
      `/v2/service_instances/${instance}`,
      JSON.stringify(provisionBody('large', { parameters: { pad: 'x'.repeat(1024 * 1024) } })),
    );
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error).toBe('PayloadTooLarge');
    const notJson = await osb('PUT', `/v2/service_instances/${instance}`, 'service_id=x', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(notJson.status).toBe(400);
    expect(notJson.body.description).toMatch(/must be a JSON object/);
    const array = await osb('PUT', `/v2/service_instances/${instance}`, '[1]');
    expect(array.status).toBe(400);
    expect(array.body.description).toMatch(/must be a JSON object/);
    const charset = await osb('PUT', `/v2/service_instances/${instance}`, JSON.stringify(provisionBody('large')), {
      'content-type': 'application/json; charset=latin1',
    });
    expect(charset.status).toBe(415);
    const badEncoding = await osb('PUT', '/v2/service_instances/%E0%A4%A', provisionBody('large'));
    expect(badEncoding.status).toBe(400);
    expect(badEncoding.body.description).toMatch(/percent-encoding/);
    const unknownPath = await osb('GET', '/v2/service_instances');
    expect(unknownPath.status).toBe(404);
    expect(unknownPath.body).toEqual({ error: 'NotFound', description: 'no such OSB endpoint' });
    const wrongMethod = await osb('POST', `/v2/service_instances/${instance}`, provisionBody('large'));
    expect(wrongMethod.status).toBe(404);
    const anonymous = await fetch(`${broker.url}/v2/nothing-here`, { headers: { 'x-broker-api-version': '2.17' } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('x-request-id')).toMatch(/\S/);
    const stored = await database.db
      .selectFrom('service_instances')
      .select('id')
      .where('id', '=', instance)
      .executeTakeFirst();
    expect(stored).toBeUndefined();
    // The same connection still serves the next request.
    const fine = await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('large'));
    expect(fine.status).toBe(201);
  });

  it('checks maintenance_info (422 MaintenanceInfoConflict) and upgrades it by update', async () => {
    const instance = id('mi');
    const conflict = await osb(
      'PUT',
      `/v2/service_instances/${instance}`,
      provisionBody('small', { maintenance_info: { version: '2.0.0' } }),
    );
    expect(conflict.status).toBe(422);
    expect(conflict.body.error).toBe('MaintenanceInfoConflict');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('small'))).status).toBe(201);
    const upgrade = await osb('PATCH', `/v2/service_instances/${instance}`, {
      service_id: fx.serviceOsbId,
      maintenance_info: { version: '1.0.0' },
    });
    expect(upgrade.status).toBe(200);
    expect((await osb('GET', `/v2/service_instances/${instance}`)).body.maintenance_info).toEqual({ version: '1.0.0' });
  });

  it('changes plans only where plan_updateable', async () => {
    const instance = id('upd');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('small'))).status).toBe(201);
    const changed = await osb('PATCH', `/v2/service_instances/${instance}`, {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans.large?.osbId,
    });
    expect(changed.status).toBe(200);
    expect((await osb('GET', `/v2/service_instances/${instance}`)).body.plan_id).toBe(fx.plans.large?.osbId);

    const fixed = id('fixed');
    expect((await osb('PUT', `/v2/service_instances/${fixed}`, provisionBody('fixed'))).status).toBe(201);
    const refused = await osb('PATCH', `/v2/service_instances/${fixed}`, {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans.large?.osbId,
    });
    expect(refused.status).toBe(422);
    expect((await osb('GET', `/v2/service_instances/${fixed}`)).body.plan_id).toBe(fx.plans.fixed?.osbId);
  });

  it('records a context-only update without calling a provider that does not take them', async () => {
    const instance = id('ctx');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('small'))).status).toBe(201);
    const providerId = await providerIdOf(instance);
    const updated = await osb('PATCH', `/v2/service_instances/${instance}`, {
      service_id: fx.serviceOsbId,
      context: { platform: 'cloudfoundry', space_name: 'renamed' },
    });
    expect(updated.status).toBe(200);
    expect(provider.requests.filter((r) => r.method === 'PATCH' && r.path.includes(providerId))).toEqual([]);
    const row = await database.db
      .selectFrom('service_instances')
      .select(['context', 'state'])
      .where('id', '=', instance)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ context: { platform: 'cloudfoundry', space_name: 'renamed' }, state: 'provisioned' });
  });

  it('keeps an instance usable after a failed update, and keeps instances working on a deprecated plan', async () => {
    const instance = id('updfail');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('small'))).status).toBe(201);
    const failed = await osb('PATCH', `/v2/service_instances/${instance}`, {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans.fail500?.osbId,
    });
    expect(failed.status).toBe(502);
    const last = await osb('GET', `/v2/service_instances/${instance}/last_operation`);
    expect(last.body).toMatchObject({ state: 'failed', instance_usable: true, update_repeatable: true });
    expect((await osb('GET', `/v2/service_instances/${instance}`)).body.plan_id).toBe(fx.plans.small?.osbId);

    // The plan is deprecated later: the instance still binds, updates and deprovisions.
    await database.db
      .updateTable('plans')
      .set({ status: 'deprecated' })
      .where('id', '=', fx.plans.small?.id as string)
      .execute();
    try {
      const bound = await osb('PUT', `/v2/service_instances/${instance}/service_bindings/${id('b')}`, {
        service_id: fx.serviceOsbId,
        plan_id: fx.plans.small?.osbId,
      });
      expect(bound.status).toBe(201);
      const updated = await osb('PATCH', `/v2/service_instances/${instance}`, {
        service_id: fx.serviceOsbId,
        parameters: { size: 4 },
      });
      expect(updated.status).toBe(200);
      expect((await osb('DELETE', `/v2/service_instances/${instance}?${query('small')}`)).status).toBe(200);
    } finally {
      await database.db
        .updateTable('plans')
        .set({ status: 'active' })
        .where('id', '=', fx.plans.small?.id as string)
        .execute();
    }
  });

  it('provisions asynchronously only with accepts_incomplete=true and keeps terminal states', async () => {
    const instance = id('async');
    const refused = await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('async'));
    expect(refused.status).toBe(422);
    expect(refused.body.error).toBe('AsyncRequired');

    const accepted = await osb(
      'PUT',
      `/v2/service_instances/${instance}?accepts_incomplete=true`,
      provisionBody('async'),
    );
    expect(accepted.status).toBe(202);
    expect(typeof accepted.body.operation).toBe('string');
    const replay = await osb(
      'PUT',
      `/v2/service_instances/${instance}?accepts_incomplete=true`,
      provisionBody('async'),
    );
    expect(replay.status).toBe(202);
    expect(replay.body.operation).toBe(accepted.body.operation);
    const polling = await osb(
      'GET',
      `/v2/service_instances/${instance}/last_operation?${query('async')}&operation=${accepted.body.operation}`,
    );
    expect(polling.status).toBe(200);
    if (polling.body.state === 'in progress') expect(Number(polling.headers.get('retry-after'))).toBeGreaterThan(0);
    // Still provisioning: not fetchable.
    if (polling.body.state === 'in progress') {
      expect((await osb('GET', `/v2/service_instances/${instance}`)).status).toBe(404);
    }
    const done = await waitForOperation(
      osb,
      `/v2/service_instances/${instance}/last_operation?operation=${accepted.body.operation}`,
    );
    expect(done).toMatchObject({ status: 200, body: { state: 'succeeded' } });
    const again = await osb(
      'GET',
      `/v2/service_instances/${instance}/last_operation?operation=${accepted.body.operation}`,
    );
    expect(again.body.state).toBe('succeeded');
    expect(provider.creations.get(await providerIdOf(instance))).toBe(1);

    // Async deprovision ends in 410 on last_operation, and a repeated delete is 410.
    const deleted = await osb('DELETE', `/v2/service_instances/${instance}?${query('async')}&accepts_incomplete=true`);
    expect(deleted.status).toBe(202);
    const gone = await waitForOperation(
      osb,
      `/v2/service_instances/${instance}/last_operation?operation=${deleted.body.operation}`,
    );
    expect(gone.status).toBe(410);
    expect((await osb('DELETE', `/v2/service_instances/${instance}?${query('async')}`)).status).toBe(410);
    expect(provider.instances.has(await providerIdOf(instance))).toBe(false);
  });

  it('halts a provisioning when the instance is deleted meanwhile', async () => {
    const instance = id('halt');
    const accepted = await provisionStillRunning(instance);
    expect(accepted.status).toBe(202);
    const deleted = await osb('DELETE', `/v2/service_instances/${instance}?${query('async')}&accepts_incomplete=true`);
    expect(deleted.status).toBe(202);
    const provisioning = await waitForOperation(
      osb,
      `/v2/service_instances/${instance}/last_operation?operation=${accepted.body.operation}`,
    );
    expect(provisioning.body.state).toBe('failed');
    expect(provisioning.body.description).toMatch(/halted/);
    const gone = await waitForOperation(
      osb,
      `/v2/service_instances/${instance}/last_operation?operation=${deleted.body.operation}`,
    );
    expect(gone.status).toBe(410);
    expect(provider.instances.has(await providerIdOf(instance))).toBe(false);
  });

  it('binds with sealed credentials, is idempotent, rotates only where binding_rotatable, and unbinds', async () => {
    const instance = id('bindable');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('large'))).status).toBe(201);
    const binding = id('b');
    const bindBody = {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans.large?.osbId,
      bind_resource: { app_guid: 'app-1' },
    };
    const bound = await osb('PUT', `/v2/service_instances/${instance}/service_bindings/${binding}`, bindBody);
    expect(bound.status).toBe(201);
    expect(bound.body.credentials.uri).toMatch(/^fake:\/\/user:secret@/);
    expect(bound.body.endpoints).toEqual([{ host: 'db.test', ports: ['5432'], protocol: 'tcp' }]);
    const again = await osb('PUT', `/v2/service_instances/${instance}/service_bindings/${binding}`, bindBody);
    expect(again.status).toBe(200);
    expect(again.body.credentials).toEqual(bound.body.credentials);
    const conflicting = await osb('PUT', `/v2/service_instances/${instance}/service_bindings/${binding}`, {
      ...bindBody,
      bind_resource: { app_guid: 'app-2' },
    });
    expect(conflicting.status).toBe(409);
    const row = await database.db
      .selectFrom('service_bindings')
      .select(['credentials_sealed', 'credentials_key_id'])
      .where('id', '=', binding)
      .executeTakeFirstOrThrow();
    expect(row.credentials_sealed).not.toContain('secret');
    expect(row.credentials_key_id).toBe(broker.secretBox.primaryKeyId);
    const fetched = await osb('GET', `/v2/service_instances/${instance}/service_bindings/${binding}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.credentials).toEqual(bound.body.credentials);

    const rotated = id('b');
    const rotation = await osb('PUT', `/v2/service_instances/${instance}/service_bindings/${rotated}`, {
      ...bindBody,
      predecessor_binding_id: binding,
    });
    expect(rotation.status).toBe(201);
    const predecessorProviderId = (
      await database.db
        .selectFrom('service_bindings')
        .select('provider_binding_id')
        .where('id', '=', binding)
        .executeTakeFirstOrThrow()
    ).provider_binding_id;
    expect(rotation.body.credentials.predecessor).toBe(predecessorProviderId);

    const small = id('norotate');
    expect((await osb('PUT', `/v2/service_instances/${small}`, provisionBody('small'))).status).toBe(201);
    await osb('PUT', `/v2/service_instances/${small}/service_bindings/${id('b')}`, {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans.small?.osbId,
    });
    const refused = await osb('PUT', `/v2/service_instances/${small}/service_bindings/${id('b')}`, {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans.small?.osbId,
      predecessor_binding_id: binding,
    });
    expect(refused.status).toBe(400);
    expect(refused.body.description).toMatch(/binding_rotatable/);

    const unbound = await osb(
      'DELETE',
      `/v2/service_instances/${instance}/service_bindings/${binding}?${query('large')}`,
    );
    expect(unbound.status).toBe(200);
    expect(
      (await osb('DELETE', `/v2/service_instances/${instance}/service_bindings/${binding}?${query('large')}`)).status,
    ).toBe(410);
    expect((await osb('GET', `/v2/service_instances/${instance}/service_bindings/${binding}`)).status).toBe(404);
  });

  it('binds asynchronously: 202, binding last_operation, then the credentials by fetching the binding', async () => {
    const instance = id('abind');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('async-bind'))).status).toBe(201);
    const binding = id('b');
    const base = `/v2/service_instances/${instance}/service_bindings/${binding}`;
    const body = { service_id: fx.serviceOsbId, plan_id: fx.plans['async-bind']?.osbId };
    const refused = await osb('PUT', base, body);
    expect(refused.status).toBe(502);
    const accepted = await osb(
      'PUT',
      `/v2/service_instances/${instance}/service_bindings/${binding}-2?accepts_incomplete=true`,
      body,
    );
    expect(accepted.status).toBe(202);
    expect((await osb('GET', `${base}-2`)).status).toBe(404);
    const done = await waitForOperation(osb, `${base}-2/last_operation?operation=${accepted.body.operation}`);
    expect(done.body.state).toBe('succeeded');
    const fetched = await osb('GET', `${base}-2`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.credentials.uri).toMatch(/^fake:\/\/user:secret@db\.test\//);
  });

  it('answers 422 RequiresApp and 400 for unbindable plans', async () => {
    const instance = id('needsapp');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('needs-app'))).status).toBe(201);
    const res = await osb('PUT', `/v2/service_instances/${instance}/service_bindings/${id('b')}`, {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans['needs-app']?.osbId,
    });
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('RequiresApp');
    const fixed = id('fixed');
    expect((await osb('PUT', `/v2/service_instances/${fixed}`, provisionBody('fixed'))).status).toBe(201);
    const unbindable = await osb('PUT', `/v2/service_instances/${fixed}/service_bindings/${id('b')}`, {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans.fixed?.osbId,
    });
    expect(unbindable.status).toBe(400);
  });

  it('answers 422 ConcurrencyError while an instance is being provisioned', async () => {
    const instance = id('busy');
    expect((await provisionStillRunning(instance)).status).toBe(202);
    const update = await osb('PATCH', `/v2/service_instances/${instance}`, { service_id: fx.serviceOsbId });
    expect(update.status).toBe(422);
    expect(update.body.error).toBe('ConcurrencyError');
  });

  it('rejects a malformed originating identity and answers 404 for unknown instances', async () => {
    const bad = await osb('GET', '/v2/catalog', undefined, { 'x-broker-api-originating-identity': 'cloudfoundry !!' });
    expect(bad.status).toBe(400);
    expect(bad.body.description).toMatch(/Originating-Identity/);
    expect((await osb('GET', `/v2/service_instances/${id('none')}/last_operation`)).status).toBe(404);
    expect((await osb('GET', `/v2/service_instances/${id('none')}`)).status).toBe(404);
    expect((await osb('DELETE', `/v2/service_instances/${id('none')}?${query('small')}`)).status).toBe(410);
    const missingIds = await osb('DELETE', `/v2/service_instances/${id('none')}`);
    expect(missingIds.status).toBe(400);
    expect(missingIds.body.description).toMatch(/service_id/);
  });

  it("keeps one platform's instances away from another platform", async () => {
    const instance = id('mine');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('small'))).status).toBe(201);
    const other = osbClient(broker.url, {
      username: fx.otherPlatform.osbUsername,
      password: fx.otherPlatform.osbPassword,
    });
    expect((await other('GET', `/v2/service_instances/${instance}`)).status).toBe(404);
    expect((await other('DELETE', `/v2/service_instances/${instance}?${query('small')}`)).status).toBe(410);
    expect((await other('PUT', `/v2/service_instances/${instance}`, provisionBody('small'))).status).toBe(409);
    expect((await osb('GET', `/v2/service_instances/${instance}`)).status).toBe(200);
  });

  /** What a PostgreSQL crash can do to a synchronous provision's start record (committed without a WAL flush). */
  const loseBrokerRecords = async (instance: string) => {
    await database.db.deleteFrom('broker_operations').where('instance_id', '=', instance).execute();
    await database.db.deleteFrom('broker_audit_log').where('instance_id', '=', instance).execute();
    await database.db.deleteFrom('service_instances').where('id', '=', instance).execute();
  };

  it('forwards a DELETE of an instance it has no record of to the provider, under the deterministic id', async () => {
    const instance = id('lost');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('large'))).status).toBe(201);
    const providerId = await providerIdOf(instance);
    expect(providerId).toBe(deterministicProviderInstanceId(fx.platformId, instance));
    expect(provider.instances.has(providerId)).toBe(true);
    await loseBrokerRecords(instance);

    const deleted = await osb('DELETE', `/v2/service_instances/${instance}?${query('large')}`);
    expect(deleted.status).toBe(410);
    expect(provider.requests).toContainEqual(
      expect.objectContaining({ method: 'DELETE', path: `/v2/service_instances/${providerId}` }),
    );
    expect(provider.instances.has(providerId)).toBe(false);
    const audit = await listAudit(database.db, { instanceId: instance });
    expect(audit.map((a) => [a.action, a.result])).toEqual([['deprovision.orphan_cleaned', 'succeeded']]);
    expect(audit[0]?.detail).toMatchObject({ provider_instance_id: providerId, provider_status: 200 });

    // Again: the provider no longer has it, so nothing more is recorded; still 410.
    expect((await osb('DELETE', `/v2/service_instances/${instance}?${query('large')}`)).status).toBe(410);
    expect(await listAudit(database.db, { instanceId: instance })).toHaveLength(1);
    // Unknown ids in the query cannot route anywhere: plain 410, no provider call.
    // (Counted for this instance only: the broker's background orphan DELETEs of other
    // tests' instances may reach the provider meanwhile.)
    const callsFor = () => provider.requests.filter((r) => r.path.endsWith(providerId)).length;
    const before = callsFor();
    const unrouted = await osb('DELETE', `/v2/service_instances/${instance}?service_id=nope&plan_id=nope`);
    expect(unrouted.status).toBe(410);
    expect(callsFor()).toBe(before);
  });

  it('sends a DELETE of an unknown instance to the provider, and asks the platform to retry when it fails', async () => {
    const instance = id('lost-fail');
    provider.options.failDeletesOf = new Map([[deterministicProviderInstanceId(fx.platformId, instance), 1]]);
    try {
      const failed = await osb('DELETE', `/v2/service_instances/${instance}?${query('large')}`);
      expect(failed.status).toBe(502);
      expect(failed.body.description).toMatch(/retry the delete/);
    } finally {
      provider.options.failDeletesOf = undefined;
    }
    expect((await osb('DELETE', `/v2/service_instances/${instance}?${query('large')}`)).status).toBe(410);
    expect(await listAudit(database.db, { instanceId: instance })).toEqual([]);
  });

  it('sends a re-PUT after a lost start record to the same provider instance, created once', async () => {
    const instance = id('replayed');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('large'))).status).toBe(201);
    const providerId = await providerIdOf(instance);
    await loseBrokerRecords(instance);

    const again = await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('large'));
    expect(again.status).toBe(201);
    expect(await providerIdOf(instance)).toBe(providerId);
    expect(provider.creations.get(providerId)).toBe(1);
    expect((await osb('GET', `/v2/service_instances/${instance}`)).status).toBe(200);
    expect((await osb('DELETE', `/v2/service_instances/${instance}?${query('large')}`)).status).toBe(200);
    expect(provider.instances.has(providerId)).toBe(false);
  });

  it('cleans up after a synchronous re-provision whose early provider call found the id taken', async () => {
    // A synchronous PUT calls the provider before anything is written. Here the id is a
    // deleted instance's, so the record goes the locking way and provisions afresh under a
    // new provider-side id; what the early call re-created under the old one is deleted at
    // the provider as an orphan.
    const instance = id('again');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('large'))).status).toBe(201);
    const first = await providerIdOf(instance);
    expect((await osb('DELETE', `/v2/service_instances/${instance}?${query('large')}`)).status).toBe(200);
    expect(provider.instances.has(first)).toBe(false);

    const again = await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('large'));
    expect(again.status).toBe(201);
    const second = await providerIdOf(instance);
    expect(second).not.toBe(first);
    expect(provider.instances.has(second)).toBe(true);
    expect(provider.creations.get(first)).toBe(2);
    for (let i = 0; i < 100 && provider.instances.has(first); i++) await new Promise((r) => setTimeout(r, 50));
    expect(provider.instances.has(first)).toBe(false);
    const audit = await listAudit(database.db, { instanceId: instance });
    expect(audit.map((a) => a.action)).toContain('orphan_deprovision.requested');
    expect((await osb('GET', `/v2/service_instances/${instance}`)).status).toBe(200);
  });

  it("answers a re-PUT of an existing instance without waiting for the provider's call", async () => {
    const instance = id('repeat');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('large'))).status).toBe(201);
    provider.options.putDelayMs = () => 3_000;
    try {
      const started = Date.now();
      const again = await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('large'));
      expect(again.status).toBe(200);
      const different = await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('small'));
      expect(different.status).toBe(409);
      expect(Date.now() - started).toBeLessThan(2_500);
    } finally {
      provider.options.putDelayMs = undefined;
    }
  });

  it('writes the start record of a synchronous provision whose provider is slow, before it answers', async () => {
    const instance = id('slowsync');
    const pending = osb('PUT', `/v2/service_instances/${instance}`, provisionBody('slow'));
    // The provider takes a second; the start record is written after BROKER_SYNC_RECORD_AFTER_MS.
    await new Promise((r) => setTimeout(r, 500));
    const midway = await database.db
      .selectFrom('service_instances')
      .select('state')
      .where('id', '=', instance)
      .executeTakeFirst();
    expect(midway?.state).toBe('provisioning');
    expect((await pending).status).toBe(201);
    const audit = await listAudit(database.db, { instanceId: instance });
    expect(audit.map((a) => a.action)).toEqual(['provision.requested', 'provision.succeeded']);
  });

  it('publishes only public keys at /.well-known/jwks.json', async () => {
    const response = await fetch(`${broker.url}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    const jwks = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
      expect(key).not.toHaveProperty('d');
    }
  });

  it('waits for a slow provider when the platform did not allow async (never 202)', async () => {
    const instance = id('slowsync');
    const res = await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('slow'));
    expect(res.status).toBe(201);
  });

  it('answers 422 AsyncRequired to a synchronous delete of an instance still provisioning', async () => {
    const instance = id('asyncdel');
    expect((await provisionStillRunning(instance)).status).toBe(202);
    const res = await osb('DELETE', `/v2/service_instances/${instance}?${query('async')}`);
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('AsyncRequired');
  });

  it('reports binding operations through the binding last_operation endpoint', async () => {
    const instance = id('blo');
    expect((await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('large'))).status).toBe(201);
    const binding = id('b');
    const base = `/v2/service_instances/${instance}/service_bindings/${binding}`;
    expect(
      (
        await osb('PUT', `${base}?accepts_incomplete=true`, {
          service_id: fx.serviceOsbId,
          plan_id: fx.plans.large?.osbId,
        })
      ).status,
    ).toBe(201);
    const done = await osb('GET', `${base}/last_operation?${query('large')}`);
    expect(done).toMatchObject({ status: 200, body: { state: 'succeeded' } });
    const unbound = await osb('DELETE', `${base}?${query('large')}&accepts_incomplete=true`);
    expect(unbound.status).toBe(200);
    expect((await osb('GET', `${base}/last_operation?${query('large')}`)).status).toBe(410);
    const audit = await listAudit(database.db, { bindingId: binding });
    expect(audit.map((a) => a.action)).toEqual([
      'bind.requested',
      'bind.succeeded',
      'unbind.requested',
      'unbind.succeeded',
    ]);
  });

  describe('provider faults', () => {
    const orphanDone = async (instance: string) => {
      const providerId = await providerIdOf(instance);
      for (let i = 0; i < 100 && provider.instances.has(providerId); i++) await new Promise((r) => setTimeout(r, 100));
      // The provider forgets the instance before the broker records its answer: wait for that too.
      const recorded = () =>
        database.db
          .selectFrom('broker_operations')
          .select('state')
          .where('instance_id', '=', instance)
          .where('kind', '=', 'orphan_deprovision')
          .where('state', '=', 'succeeded')
          .executeTakeFirst();
      for (let i = 0; i < 100 && !(await recorded()); i++) await new Promise((r) => setTimeout(r, 50));
      return providerId;
    };

    it('500 on provision: fails, and the broker deprovisions the orphan at the provider', async () => {
      const instance = id('f500');
      const res = await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('fail500'));
      expect(res.status).toBe(502);
      const providerId = await orphanDone(instance);
      expect(provider.creations.get(providerId)).toBe(1);
      expect(provider.instances.has(providerId)).toBe(false);
      const audit = await listAudit(database.db, { instanceId: instance });
      expect(audit.map((a) => a.action)).toContain('orphan_deprovision.requested');
      // The platform's own orphan-mitigation delete is harmless.
      expect((await osb('DELETE', `/v2/service_instances/${instance}?${query('fail500')}`)).status).toBe(200);
      expect((await osb('DELETE', `/v2/service_instances/${instance}?${query('fail500')}`)).status).toBe(410);
    });

    it('timeout on provision: fails after the deadline and mitigates the orphan', async () => {
      const instance = id('ftimeout');
      const res = await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('timeout'));
      expect(res.status).toBe(502);
      expect(res.body.description).toMatch(/did not answer within/);
      const providerId = await orphanDone(instance);
      expect(provider.instances.has(providerId)).toBe(false);
    });

    it('malformed JSON on provision: fails and mitigates the orphan', async () => {
      const instance = id('fmalformed');
      const res = await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('malformed'));
      expect(res.status).toBe(502);
      expect(res.body.description).toMatch(/malformed/);
      const providerId = await orphanDone(instance);
      expect(provider.instances.has(providerId)).toBe(false);
    });

    it('200 for a create: success, as the spec defines', async () => {
      const instance = id('f200');
      const res = await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('ok200'));
      expect(res.status).toBe(201);
      expect(provider.instances.has(await providerIdOf(instance))).toBe(true);
    });

    it('a 4xx from the provider is passed on and leaves no instance', async () => {
      const instance = id('f400');
      const res = await osb('PUT', `/v2/service_instances/${instance}`, provisionBody('reject400'));
      expect(res.status).toBe(400);
      expect(res.body.description).toMatch(/rejects this plan/);
      expect((await osb('GET', `/v2/service_instances/${instance}`)).status).toBe(404);
      expect((await osb('DELETE', `/v2/service_instances/${instance}?${query('reject400')}`)).status).toBe(410);
    });

    it('a slow 202 that ends failed: last_operation failed, orphan mitigated', async () => {
      const instance = id('fasync');
      const accepted = await osb(
        'PUT',
        `/v2/service_instances/${instance}?accepts_incomplete=true`,
        provisionBody('async-fail'),
      );
      expect(accepted.status).toBe(202);
      const done = await waitForOperation(osb, `/v2/service_instances/${instance}/last_operation`);
      expect(done.body).toMatchObject({ state: 'failed', description: 'the database did not start' });
      const providerId = await orphanDone(instance);
      expect(provider.instances.has(providerId)).toBe(false);
    });

    it('a slow provider becomes a 202 when async is allowed, never a hung request', async () => {
      const instance = id('fslow');
      const accepted = await osb(
        'PUT',
        `/v2/service_instances/${instance}?accepts_incomplete=true`,
        provisionBody('slow'),
      );
      expect(accepted.status).toBe(202);
      const done = await waitForOperation(osb, `/v2/service_instances/${instance}/last_operation`);
      expect(done.body.state).toBe('succeeded');
      expect((await osb('GET', `/v2/service_instances/${instance}`)).status).toBe(200);
    });
  });
});

import { ALL_SCOPES, createApiToken, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CatalogFixture,
  type FakeProvider,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
} from '../testing.js';

// The apps API over HTTP against a real broker and a fake provider (docs/apps.md).
describe.each(testDatabaseKinds('apps api'))('apps API ($name)', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let fx: CatalogFixture;
  let orgToken: string;
  let readToken: string;
  let otherToken: string;
  let platformToken: string;
  let serviceSlug: string;

  type Answer = { status: number; body: any; headers: Headers };
  const call = async (token: string | undefined, method: string, path: string, body?: unknown): Promise<Answer> => {
    const response = await fetch(`${broker.url}/v1${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  };
  const until = async (what: string, check: () => Promise<boolean>, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'u', password: 'p' }, asyncPolls: 2 });
    broker = await startTestBroker(database, { APPS_RECONCILE_MS: '50', APPS_ROTATION_GRACE_SECONDS: '3600' });
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'u', password: 'p' },
      plans: [
        { slug: 'small', free: true, bindingRotatable: true, planUpdateable: true },
        { slug: 'large', free: false, planUpdateable: true },
        { slug: 'slow', free: true },
        {
          slug: 'sized',
          free: true,
          schemas: {
            service_instance: {
              create: {
                parameters: {
                  type: 'object',
                  properties: { size: { type: 'integer', minimum: 1, maximum: 10 } },
                  additionalProperties: false,
                },
              },
            },
          },
        },
      ],
    });
    provider.options.modes = { [fx.plans.slow?.osbId as string]: 'async' };
    const service = await database.db
      .selectFrom('services')
      .select('slug')
      .where('id', '=', fx.serviceId)
      .executeTakeFirstOrThrow();
    serviceSlug = service.slug;
    const org = await database.db
      .selectFrom('platform_organizations')
      .select('organization_id')
      .where('platform_id', '=', fx.platformId)
      .executeTakeFirstOrThrow();
    const other = await database.db
      .insertInto('organizations')
      .values({ slug: `other-${Date.now()}`, name: 'Other' })
      .returning('id')
      .executeTakeFirstOrThrow();
    orgToken = (await createApiToken(database.db, { kind: 'org', name: 'o', organizationId: org.organization_id }))
      .token;
    readToken = (
      await createApiToken(database.db, {
        kind: 'org',
        name: 'r',
        organizationId: org.organization_id,
        scopes: ALL_SCOPES,
      })
    ).token;
    otherToken = (
      await createApiToken(database.db, {
        kind: 'org',
        name: 'x',
        organizationId: other.id,
        scopes: ALL_SCOPES,
      })
    ).token;
    platformToken = (await createApiToken(database.db, { kind: 'platform', name: 'pl', platformId: fx.platformId }))
      .token;
    for (const name of [`web-${kind.name}`, `worker-${kind.name}`]) {
      const created = await call(orgToken, 'POST', '/apps', { name });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
  });
  afterAll(async () => {
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  it('refuses calls without a usable token, and bad input with the field named', async () => {
    expect((await call(undefined, 'GET', '/apps')).status).toBe(401);
    expect((await call('annex_org_notarealtokennotarealtoken', 'GET', '/apps')).status).toBe(401);
    const bad = await call(orgToken, 'POST', '/apps', { name: 'Bad Name' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'invalid_input', field: 'name' });
    const taken = await call(orgToken, 'POST', '/apps', { name: `web-${kind.name}` });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toBe('name_taken');
    const noPlan = await call(orgToken, 'POST', `/apps/web-${kind.name}/addons`, { plan: 'nope' });
    expect(noPlan.body).toMatchObject({ error: 'invalid_input', field: 'plan' });
    const unknown = await call(orgToken, 'POST', `/apps/web-${kind.name}/addons`, { plan: `${serviceSlug}:nope` });
    expect(unknown.status).toBe(404);
    const params = await call(orgToken, 'POST', `/apps/web-${kind.name}/addons`, {
      plan: `${serviceSlug}:sized`,
      parameters: { size: 99 },
    });
    expect(params.status).toBe(400);
    expect(params.body.field).toBe('parameters.size');
    const none = await database.db.selectFrom('addons').select('id').execute();
    expect(none).toHaveLength(0);
  });

  it('refuses release numbers past what a release can be numbered, naming the field', async () => {
    // Release numbers are PostgreSQL integers: a larger JSON number must be a 400, not reach a query.
    for (const huge of [2 ** 31, Number.MAX_SAFE_INTEGER, 1e21]) {
      const rollback = await call(orgToken, 'POST', `/apps/web-${kind.name}/releases/rollback`, { version: huge });
      expect(rollback.status, String(huge)).toBe(400);
      expect(rollback.body, String(huge)).toMatchObject({ error: 'invalid_input', field: 'version' });
      const confirm = await call(orgToken, 'POST', `/apps/web-${kind.name}/config-vars/confirm`, { release: huge });
      expect(confirm.status, String(huge)).toBe(400);
      expect(confirm.body, String(huge)).toMatchObject({ error: 'invalid_input', field: 'release' });
    }
    const largest = await call(orgToken, 'POST', `/apps/web-${kind.name}/releases/rollback`, { version: 2 ** 31 - 1 });
    expect(largest.status).toBe(404);
  });

  it('creates an add-on, attaches it to a second app under another name, rotates, detaches and destroys it', async () => {
    const web = `web-${kind.name}`;
    const worker = `worker-${kind.name}`;
    const pre = await call(orgToken, 'POST', `/apps/${web}/addons/preflight`, { plan: `${serviceSlug}:small` });
    expect(pre.body).toMatchObject({ ok: true, configVars: ['DATABASE_URL'], collisions: [], price: { free: true } });

    const created = await call(orgToken, 'POST', `/apps/${web}/addons`, { plan: `${serviceSlug}:small` });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const addon = created.body.addon.name as string;
    expect(addon).toMatch(new RegExp(`^${serviceSlug}-[a-z]+-\\d{4}$`));
    expect(created.body.attachment).toMatchObject({
      name: 'DATABASE',
      state: 'attached',
      configVarNames: ['DATABASE_URL'],
    });

    // A second attach under the default name collides with the first; the preflight says so.
    const clash = await call(orgToken, 'POST', `/apps/${web}/attachments/preflight`, { addon });
    expect(clash.body.ok).toBe(false);
    expect(clash.body.collisions).toEqual([{ name: 'DATABASE_URL', owner: 'attachment:DATABASE' }]);
    // The name is what is taken: the remedy is another name, not taking over its own vars.
    expect(clash.body).toMatchObject({ attachmentName: 'DATABASE', nameTaken: true });
    expect(clash.body.problems).toEqual([
      `app ${web} already has an attachment named DATABASE; choose another with --as NAME ("as" in the API)`,
    ]);

    const attached = await call(orgToken, 'POST', `/apps/${worker}/attachments`, { addon, as: 'REPORTING' });
    expect(attached.status, JSON.stringify(attached.body)).toBe(201);
    expect(attached.body.attachment.configVarNames).toEqual(['REPORTING_URL']);

    // Values only with config:read; the names for anyone in the org.
    expect((await call(orgToken, 'GET', `/apps/${web}/config-vars`)).status).toBe(403);
    const webVars = await call(readToken, 'GET', `/apps/${web}/config-vars`);
    const workerVars = await call(readToken, 'GET', `/apps/${worker}/config-vars`);
    expect(webVars.body.vars.DATABASE_URL).toMatch(/^fake:\/\//);
    expect(workerVars.body.vars.REPORTING_URL).toMatch(/^fake:\/\//);
    expect(workerVars.body.vars.REPORTING_URL).not.toBe(webVars.body.vars.DATABASE_URL);
    expect(webVars.headers.get('etag')).toBe(`"release-${webVars.body.release}"`);
    const names = await call(orgToken, 'GET', `/apps/${worker}/config-var-names`);
    expect(names.body.vars).toEqual([{ name: 'REPORTING_URL', owner: 'attachment:REPORTING' }]);

    // A user var cannot overwrite an attachment's var.
    const steal = await call(orgToken, 'PATCH', `/apps/${web}/config-vars`, { vars: { DATABASE_URL: 'x' } });
    expect(steal.status).toBe(409);
    expect(steal.body).toMatchObject({ error: 'var_collision', name: 'DATABASE_URL' });

    // Rotation: new bindings, the vars swap in one release, the old binding waits for confirmation.
    const before = webVars.body.vars.DATABASE_URL;
    const bindingsBefore = provider.bindings.size;
    const rotated = await call(orgToken, 'POST', `/addons/${addon}/rotate`, {});
    expect(rotated.status).toBe(202);
    await until('the rotation', async () => {
      const v = await call(readToken, 'GET', `/apps/${web}/config-vars`);
      return v.body.vars.DATABASE_URL !== before;
    });
    expect(provider.bindings.size).toBe(bindingsBefore + 2);
    const webReleases = await call(orgToken, 'GET', `/apps/${web}/releases`);
    expect(webReleases.body.releases[0]).toMatchObject({
      diff: [{ name: 'DATABASE_URL', change: 'changed' }],
      reason: expect.stringContaining('Rotate'),
    });
    expect(webReleases.body.releases[0].diff[0].value).toBeUndefined();
    // Confirming the release revokes the old binding at once (the grace period is an hour).
    const current = (await call(readToken, 'GET', `/apps/${web}/config-vars`)).body.release;
    expect((await call(orgToken, 'POST', `/apps/${web}/config-vars/confirm`, { release: current })).status).toBe(204);
    await until('the old binding revoked', async () => provider.bindings.size === bindingsBefore + 1);

    // Owner-only detach is refused: destroy is the way.
    const refuse = await call(orgToken, 'DELETE', `/apps/${web}/attachments/DATABASE`);
    expect(refuse.status).toBe(409);
    const detached = await call(orgToken, 'DELETE', `/apps/${worker}/attachments/REPORTING`);
    expect(detached.status).toBe(200);
    expect((await call(readToken, 'GET', `/apps/${worker}/config-vars`)).body.vars).toEqual({});

    const destroyed = await call(orgToken, 'DELETE', `/addons/${addon}`);
    expect([200, 202]).toContain(destroyed.status);
    await until(
      'the add-on destroyed',
      async () => (await call(orgToken, 'GET', `/addons/${addon}`)).body.state === 'destroyed',
    );
    expect((await call(readToken, 'GET', `/apps/${web}/config-vars`)).body.vars).toEqual({});
    const addonId = created.body.addon.id as string;
    const instance = await database.db
      .selectFrom('service_instances')
      .select('provider_instance_id')
      .where('id', '=', addonId)
      .executeTakeFirstOrThrow();
    expect(provider.instances.has(instance.provider_instance_id as string)).toBe(false);
    expect(provider.bindings.size).toBe(bindingsBefore - 2);

    const events = await call(orgToken, 'GET', `/apps/${web}/events?after=0`);
    const kinds = events.body.events.map((e: { kind: string }) => e.kind);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'addon.provisioning',
        'addon.provisioned',
        'attachment.attached',
        'attachment.rotated',
        'addon.destroyed',
      ]),
    );
  });

  it('finishes an async provision in the background, and keeps releases that roll back', async () => {
    const web = `web-${kind.name}`;
    const created = await call(platformToken, 'POST', `/apps/${web}/addons`, {
      plan: `${serviceSlug}:slow`,
      as: 'SLOW',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect(created.body.addon.state).toBe('provisioning');
    await until('the async add-on attached', async () => {
      const app = await call(orgToken, 'GET', `/apps/${web}`);
      return app.body.attachments.some(
        (a: { name: string; state: string }) => a.name === 'SLOW' && a.state === 'attached',
      );
    });
    // The provider pushes a new URL for the instance: the attachment's var follows, in a release.
    const slowAddon = created.body.addon.id as string;
    const instance = await database.db
      .selectFrom('service_instances')
      .select('provider_instance_id')
      .where('id', '=', slowAddon)
      .executeTakeFirstOrThrow();
    const providerToken = (
      await createApiToken(database.db, { kind: 'provider', name: 'pv', providerId: fx.providerId })
    ).token;
    const push = (body: unknown, token = providerToken) =>
      fetch(`${broker.url}/v1/provider/instances/${instance.provider_instance_id}/config`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const pushed = await push({ config: { DATABASE_URL: 'postgres://moved.example/db' }, reason: 'host moved' });
    expect(pushed.status).toBe(200);
    expect(((await pushed.json()) as { releases: unknown[] }).releases).toEqual([
      { app: web, version: expect.any(Number) },
    ]);
    expect((await call(readToken, 'GET', `/apps/${web}/config-vars`)).body.vars.SLOW_URL).toBe(
      'postgres://moved.example/db',
    );
    const unknownVar = await push({ config: { NOPE_URL: 'x' } });
    expect(unknownVar.status).toBe(400);
    expect(((await unknownVar.json()) as { description: string }).description).toContain('config.NOPE_URL');
    expect((await push({ config: { DATABASE_URL: 'x' } }, orgToken)).status).toBe(401);

    const set = await call(readToken, 'PATCH', `/apps/${web}/config-vars`, { vars: { MODE: 'blue' }, secret: false });
    expect(set.body.diff).toEqual([{ name: 'MODE', change: 'added', value: 'blue' }]);
    // Not a secret, yet a value all the same: only a token with config:read sees it in a diff.
    const seenWithout = (await call(orgToken, 'GET', `/apps/${web}/releases`)).body.releases;
    expect(seenWithout.find((r: { version: number }) => r.version === set.body.version).diff).toEqual([
      { name: 'MODE', change: 'added' },
    ]);
    const changed = await call(orgToken, 'PATCH', `/apps/${web}/config-vars`, { vars: { MODE: 'green' } });
    expect(changed.body.version).toBe(set.body.version + 1);
    const rolled = await call(orgToken, 'POST', `/apps/${web}/releases/rollback`, { version: set.body.version });
    expect(rolled.status).toBe(201);
    expect(rolled.body.reason).toBe(`Rollback to v${set.body.version}`);
    const vars = await call(readToken, 'GET', `/apps/${web}/config-vars`);
    expect(vars.body.vars.MODE).toBe('blue');
    expect(vars.body.vars.SLOW_URL).toBe('postgres://moved.example/db');
  });

  it('rolls back the vars people set and leaves the vars of attachments as they are', async () => {
    const app = `roll-${kind.name}`;
    expect((await call(orgToken, 'POST', '/apps', { name: app })).status).toBe(201);
    const v1 = await call(orgToken, 'PATCH', `/apps/${app}/config-vars`, {
      vars: { MODE: 'blue', DATABASE_URL: 'postgres://mine.example/db' },
      secret: false,
    });
    expect(v1.status, JSON.stringify(v1.body)).toBe(200);
    // The add-on takes DATABASE_URL over from the user's var.
    const created = await call(orgToken, 'POST', `/apps/${app}/addons`, {
      plan: `${serviceSlug}:small`,
      replace: true,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const later = await call(orgToken, 'PATCH', `/apps/${app}/config-vars`, {
      vars: { MODE: 'green', EXTRA: 'yes' },
      secret: false,
    });
    expect(later.status).toBe(200);
    const before = (await call(readToken, 'GET', `/apps/${app}/config-vars`)).body.vars;
    expect(before.DATABASE_URL).toMatch(/^fake:\/\//);

    const rolled = await call(readToken, 'POST', `/apps/${app}/releases/rollback`, { version: v1.body.version });
    expect(rolled.status, JSON.stringify(rolled.body)).toBe(201);
    expect(rolled.body).toMatchObject({
      version: later.body.version + 1,
      diff: [
        { name: 'EXTRA', change: 'removed' },
        { name: 'MODE', change: 'changed', value: 'blue' },
      ],
      kept: [{ name: 'DATABASE_URL', attachment: 'DATABASE' }],
    });
    const after = await call(readToken, 'GET', `/apps/${app}/config-vars`);
    expect(after.body.vars).toEqual({ MODE: 'blue', DATABASE_URL: before.DATABASE_URL });
    expect((await call(orgToken, 'GET', `/apps/${app}/config-var-names`)).body.vars).toEqual([
      { name: 'DATABASE_URL', owner: 'attachment:DATABASE' },
      { name: 'MODE', owner: 'user' },
    ]);
    const detail = await call(orgToken, 'GET', `/apps/${app}`);
    expect(detail.body.attachments).toMatchObject([
      { name: 'DATABASE', state: 'attached', configVarNames: ['DATABASE_URL'] },
    ]);
    const listed = await call(orgToken, 'GET', `/apps/${app}/releases`);
    expect(listed.body.releases[0].kept).toEqual([{ name: 'DATABASE_URL', attachment: 'DATABASE' }]);
    expect(listed.body.releases[1].kept).toEqual([]);

    // The user's vars already equal v1's: nothing to roll back, and the answer says what stays.
    const again = await call(orgToken, 'POST', `/apps/${app}/releases/rollback`, { version: v1.body.version });
    expect(again.status).toBe(409);
    expect(again.body.message).toBe(
      `${app}'s vars already equal release v${v1.body.version} (DATABASE_URL of attachment DATABASE left as it is)`,
    );
  });

  it('ends a waiting events poll once its token is revoked or expires, answering nothing written after', async () => {
    const worker = `worker-${kind.name}`;
    const org = await database.db
      .selectFrom('platform_organizations')
      .select('organization_id')
      .where('platform_id', '=', fx.platformId)
      .executeTakeFirstOrThrow();
    const ends = {
      revoked: { revoked_at: new Date() },
      expired: { expires_at: new Date(Date.now() - 1000) },
    };
    for (const [how, end] of Object.entries(ends)) {
      const created = await createApiToken(database.db, {
        kind: 'org',
        name: `watcher ${how}`,
        organizationId: org.organization_id,
      });
      const seen = (await call(created.token, 'GET', `/apps/${worker}/events`)).body.events as { id: string }[];
      const after = seen.at(-1)?.id ?? '0';
      await database.db.updateTable('api_tokens').set({ last_used_at: null }).where('id', '=', created.id).execute();
      const poll = call(created.token, 'GET', `/apps/${worker}/events?after=${after}&waitMs=20000`);
      // The poll has been let in (authenticating a token records its use) and is waiting.
      await until('the poll to be authenticated', async () => {
        const row = await database.db
          .selectFrom('api_tokens')
          .select('last_used_at')
          .where('id', '=', created.id)
          .executeTakeFirstOrThrow();
        return row.last_used_at !== null;
      });
      await database.db.updateTable('api_tokens').set(end).where('id', '=', created.id).execute();
      const change = await call(orgToken, 'PATCH', `/apps/${worker}/config-vars`, { vars: { WATCHED: how } });
      expect(change.status).toBe(200);

      const answer = await poll;
      expect(answer.status, how).toBe(401);
      expect(answer.body, how).toEqual({
        error: 'unauthorized',
        message: 'the API token was revoked or has expired; the event stream ended',
      });
      // And the next poll is refused up front, saying why.
      const again = await call(created.token, 'GET', `/apps/${worker}/events?after=${after}`);
      expect(again.status).toBe(401);
      expect(again.body.message).toBe('the API token is unknown, revoked or expired');
    }
  }, 60_000);

  it('never shows or changes another organization’s apps, add-ons or vars', async () => {
    const web = `web-${kind.name}`;
    const app = (await call(orgToken, 'GET', `/apps/${web}`)).body;
    const addon = app.addons[0]?.name as string;
    expect(addon).toBeTruthy();
    const releasesBefore = app.releaseVersion;
    expect((await call(otherToken, 'GET', '/apps')).body.apps).toEqual([]);
    expect((await call(otherToken, 'GET', '/addons')).body.addons).toEqual([]);
    const attempts: [string, string, unknown?][] = [
      ['GET', `/apps/${web}`],
      ['GET', `/apps/${app.id}`],
      ['GET', `/apps/${web}/config-vars`],
      ['GET', `/apps/${web}/config-var-names`],
      ['GET', `/apps/${web}/releases`],
      ['GET', `/apps/${web}/events`],
      ['GET', `/addons/${addon}`],
      ['GET', `/addons?app=${web}`],
      ['PATCH', `/apps/${web}/config-vars`, { vars: { X: '1' } }],
      ['POST', `/apps/${web}/releases/rollback`, { version: 1 }],
      ['POST', `/apps/${web}/config-vars/confirm`, { release: 1 }],
      ['POST', `/apps/${web}/addons`, { plan: `${serviceSlug}:small` }],
      ['POST', `/apps/${web}/addons/preflight`, { plan: `${serviceSlug}:small` }],
      ['POST', `/apps/${web}/attachments`, { addon }],
      ['DELETE', `/apps/${web}/attachments/SLOW`],
      ['PATCH', `/addons/${addon}`, { plan: 'large' }],
      ['POST', `/addons/${addon}/rotate`, {}],
      ['DELETE', `/addons/${addon}`],
    ];
    for (const [method, path, body] of attempts) {
      const answer = await call(otherToken, method, path, body);
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(JSON.stringify(answer.body)).not.toContain('fake://');
    }
    // And the other org cannot attach our add-on to its own app.
    await call(otherToken, 'POST', '/apps', { name: `theirs-${kind.name}` });
    const steal = await call(otherToken, 'POST', `/apps/theirs-${kind.name}/attachments`, { addon });
    expect(steal.status).toBe(404);
    const after = (await call(orgToken, 'GET', `/apps/${web}`)).body;
    expect(after.releaseVersion).toBe(releasesBefore);
    expect(after.addons[0].state).toBe('provisioned');
  });

  it('shares an add-on with another organization explicitly, and only then lets its apps attach it', async () => {
    const web = `web-${kind.name}`;
    const addon = (await call(orgToken, 'GET', `/apps/${web}`)).body.addons[0].name as string;
    const otherOrg = await database.db
      .selectFrom('api_tokens as t')
      .innerJoin('organizations as o', 'o.id', 't.organization_id')
      .select('o.slug')
      .where('t.name', '=', 'x')
      .executeTakeFirstOrThrow();
    const theirs = `shared-${kind.name}`;
    expect((await call(otherToken, 'POST', '/apps', { name: theirs })).status).toBe(201);
    expect((await call(otherToken, 'POST', `/apps/${theirs}/attachments`, { addon })).status).toBe(404);
    // Only the owner's organization may share.
    expect((await call(otherToken, 'POST', `/addons/${addon}/shares`, { organization: otherOrg.slug })).status).toBe(
      404,
    );
    const shared = await call(orgToken, 'POST', `/addons/${addon}/shares`, { organization: otherOrg.slug });
    expect(shared.status).toBe(201);
    expect(shared.body.organizations).toEqual([otherOrg.slug]);
    const attached = await call(otherToken, 'POST', `/apps/${theirs}/attachments`, { addon, as: 'BORROWED' });
    expect(attached.status, JSON.stringify(attached.body)).toBe(201);
    expect(attached.body.attachment).toMatchObject({ app: theirs, appOrganization: otherOrg.slug, addon });
    expect((await call(otherToken, 'GET', `/apps/${theirs}/config-vars`)).body.vars.BORROWED_URL).toMatch(/^fake:/);
    // Sharing lends attachments, not the add-on: the borrower cannot destroy or rotate it.
    expect((await call(otherToken, 'DELETE', `/addons/${addon}`)).status).toBe(404);
    expect((await call(otherToken, 'POST', `/addons/${addon}/rotate`, {})).status).toBe(404);
    expect((await call(otherToken, 'GET', `/addons/${addon}/shares`)).status).toBe(404);
    expect((await call(otherToken, 'POST', `/addons/${addon}/sso`, {})).status).toBe(404);

    // Each side sees its side. The borrower: the add-on (name, plan, service, its owner's
    // organization) and its own attachment, not the app that owns it nor the owner's other ones.
    const ownerOrg = (await call(orgToken, 'GET', `/apps/${web}`)).body.organization as string;
    const theirApp = (await call(otherToken, 'GET', `/apps/${theirs}`)).body;
    expect(theirApp.addons).toEqual([]);
    expect(theirApp.attachments).toEqual([
      expect.objectContaining({
        name: 'BORROWED',
        app: theirs,
        appOrganization: otherOrg.slug,
        addon,
        state: 'attached',
      }),
    ]);
    const borrowed = await call(otherToken, 'GET', `/addons/${addon}`);
    expect(borrowed.status).toBe(200);
    expect(borrowed.body).toMatchObject({
      name: addon,
      app: null,
      organization: ownerOrg,
      service: serviceSlug,
      plan: expect.any(String),
      state: 'provisioned',
      attachments: [{ name: 'BORROWED', app: theirs, appOrganization: otherOrg.slug }],
    });
    expect(JSON.stringify(borrowed.body)).not.toContain(web);
    expect((await call(otherToken, 'GET', '/addons')).body.addons).toEqual([]); // owned ones only
    // The owner: which organization's app attaches it, not that app.
    const owned = await call(orgToken, 'GET', `/addons/${addon}`);
    expect(owned.body.app).toBe(web);
    expect(owned.body.attachments).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ app: web, appOrganization: ownerOrg }),
        expect.objectContaining({ name: 'BORROWED', app: null, appOrganization: otherOrg.slug, state: 'attached' }),
      ]),
    );
    const ownerApp = await call(orgToken, 'GET', `/apps/${web}`);
    expect(ownerApp.body.addons[0].attachments).toContainEqual(
      expect.objectContaining({ name: 'BORROWED', app: null, appOrganization: otherOrg.slug }),
    );
    for (const answer of [owned, ownerApp]) expect(JSON.stringify(answer.body)).not.toContain(theirs);

    const refused = await call(orgToken, 'DELETE', `/addons/${addon}/shares/${otherOrg.slug}`);
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain(`an app of ${otherOrg.slug} still has ${addon} attached`);
    expect(refused.body.message).not.toContain(theirs);
    expect((await call(otherToken, 'DELETE', `/apps/${theirs}/attachments/BORROWED`)).status).toBe(200);
    expect((await call(orgToken, 'DELETE', `/addons/${addon}/shares/${otherOrg.slug}`)).body.organizations).toEqual([]);
    expect((await call(otherToken, 'POST', `/apps/${theirs}/attachments`, { addon })).status).toBe(404);
    // Neither shared nor attached any more: the add-on is another organization's again.
    expect((await call(otherToken, 'GET', `/addons/${addon}`)).status).toBe(404);
  });
});

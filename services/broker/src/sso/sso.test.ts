import { createApiToken, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { defineProvider, type Provider, type ProviderManifestInput, type SsoContext } from '@annex/sdk';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateApiCaller, callerOf } from '../shared/http/api.js';
import { type CatalogFixture, seedCatalog, startTestBroker, type TestBroker } from '../testing.js';
import { createSsoHandOff } from './domain/service.js';

// The SSO hand-off end to end: the broker mints the token, a real SDK provider verifies it.
describe.each(testDatabaseKinds('sso hand-off'))('SSO hand-off ($name)', (kind) => {
  let database: Database;
  let broker: TestBroker;
  let fx: CatalogFixture;
  let provider: Provider;
  let providerUrl: string;
  let closeProvider: () => Promise<void>;
  let orgToken: string;
  let orgTokenId: string;
  /** Org tokens acting for people, as the console mints them for its sessions. */
  let adaToken: string;
  let developerToken: string;
  let nomailToken: string;
  let otherToken: string;
  let platformToken: string;
  let orgId: string;
  let addonName: string;
  let addonId: string;
  const arrivals: SsoContext[] = [];
  // App names are 2-30 characters and unique in the installation.
  const suffix = `${kind.name.slice(0, 2)}${Date.now().toString(36)}`;
  const web = `sso-web-${suffix}`;
  const worker = `sso-worker-${suffix}`;
  const ada = { id: '', email: 'ada@example.com', name: 'Ada Lovelace' };
  const developer = { id: '', email: 'developer@localhost', name: 'Development user' };
  const nomail = { id: '', email: '', name: 'Grace Hopper' };

  type Answer = { status: number; body: any };
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
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  /** Follows the hand-off URL as a browser would (without following the dashboard redirect). */
  const open = (url: string) => fetch(url, { redirect: 'manual' });

  const manifestFor = (slug: string, url: string): ProviderManifestInput => ({
    slug,
    name: 'SSO fixture',
    osb: { url, auth: 'jwt' },
    services: [
      {
        id: fx.serviceOsbId,
        slug: `${slug}-db`,
        name: 'Fixture DB',
        description: 'A database for tests',
        category: 'databases',
        bindable: true,
        configVars: ['DATABASE_URL'],
        plans: [{ id: fx.plans.small?.osbId as string, slug: 'small', description: 'small', free: true }],
      },
    ],
  });
  const startSdkProvider = async (slug: string) => {
    const defined = defineProvider({
      manifest: manifestFor(slug, 'http://127.0.0.1:9'),
      broker: { url: broker.url },
      provision: () => {},
      deprovision: () => {},
      bind: ({ bindingId }) => ({ credentials: { DATABASE_URL: `postgres://db.test/${bindingId}` } }),
      unbind: () => {},
      sso: (sso, _req, res) => {
        arrivals.push(sso);
        res.cookie('dashboard_session', sso.user.id, { httpOnly: true, sameSite: 'lax' });
        return `/dashboard/${sso.resource.instanceId}`;
      },
    });
    const running = await defined.listen(0);
    return { defined, running };
  };

  beforeAll(async () => {
    database = await kind.open();
    broker = await startTestBroker(database);
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: 'http://127.0.0.1:9',
      auth: { kind: 'jwt' },
      plans: [{ slug: 'small', free: true }],
    });
    const started = await startSdkProvider(fx.providerSlug);
    provider = started.defined;
    providerUrl = started.running.url;
    closeProvider = started.running.close;
    await database.db.updateTable('providers').set({ osb_url: providerUrl }).where('id', '=', fx.providerId).execute();
    const service = await database.db
      .selectFrom('services')
      .select('slug')
      .where('id', '=', fx.serviceId)
      .executeTakeFirstOrThrow();
    orgId = (
      await database.db
        .selectFrom('platform_organizations')
        .select('organization_id')
        .where('platform_id', '=', fx.platformId)
        .executeTakeFirstOrThrow()
    ).organization_id;
    const other = await database.db
      .insertInto('organizations')
      .values({ slug: `sso-other-${Date.now()}`, name: 'Other' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const bot = await createApiToken(database.db, { kind: 'org', name: 'deploy bot', organizationId: orgId });
    orgToken = bot.token;
    orgTokenId = bot.id;
    const personToken = async (person: { id: string; email: string; name: string }, subject: string) => {
      const user = await database.db
        .insertInto('users')
        .values({
          oidc_issuer: 'sso-tests',
          oidc_subject: `${subject}-${suffix}`,
          email: person.email,
          name: person.name,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      person.id = user.id;
      const name = `console session of ${subject}`;
      return (await createApiToken(database.db, { kind: 'org', name, organizationId: orgId, userId: user.id })).token;
    };
    adaToken = await personToken(ada, 'ada');
    developerToken = await personToken(developer, 'developer');
    nomailToken = await personToken(nomail, 'grace');
    otherToken = (await createApiToken(database.db, { kind: 'org', name: 'x', organizationId: other.id })).token;
    platformToken = (await createApiToken(database.db, { kind: 'platform', name: 'p', platformId: fx.platformId }))
      .token;
    for (const name of [web, worker]) {
      const app = await call(orgToken, 'POST', '/apps', { name });
      expect(app.status, JSON.stringify(app.body)).toBe(201);
    }
    const created = await call(orgToken, 'POST', `/apps/${web}/addons`, { plan: `${service.slug}:small` });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    addonName = created.body.addon.name;
    addonId = created.body.addon.id;
  }, 60_000);
  afterAll(async () => {
    await closeProvider?.();
    await provider?.close();
    await broker?.close();
    await database?.close();
  });

  it('mints a 60-second token for the provider with the person, org, app, resource and add-on, and records its jti', async () => {
    const before = Math.floor(Date.now() / 1000);
    const answer = await call(adaToken, 'POST', `/addons/${addonName}/sso`);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    const url = new URL(answer.body.url);
    expect(`${url.origin}${url.pathname}`).toBe(`${providerUrl}/sso`);
    const token = url.searchParams.get('token') as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'annex-sso+jwt' });
    const jwks = (await (await fetch(`${broker.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(decodeProtectedHeader(token).kid);
    const claims = decodeJwt(token) as any;
    const instance = await database.db
      .selectFrom('service_instances')
      .select('provider_instance_id')
      .where('id', '=', addonId)
      .executeTakeFirstOrThrow();
    const app = await database.db.selectFrom('apps').select('id').where('name', '=', web).executeTakeFirstOrThrow();
    expect(claims).toMatchObject({
      iss: broker.url,
      aud: fx.providerSlug,
      sub: ada.id,
      kind: 'person',
      email: 'ada@example.com',
      name: 'Ada Lovelace',
      org: { id: orgId },
      app: { id: app.id, name: web },
      resource: {
        instanceId: instance.provider_instance_id ?? addonId,
        serviceId: fx.serviceOsbId,
        planId: fx.plans.small?.osbId,
      },
      addon: { id: addonId, name: addonName },
    });
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(60);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(new Date(answer.body.expiresAt).getTime()).toBe(claims.exp * 1000);
    const row = await database.db
      .selectFrom('sso_tokens')
      .selectAll()
      .where('jti', '=', claims.jti)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      addon_id: addonId,
      app_id: app.id,
      organization_id: orgId,
      provider_id: fx.providerId,
      user_id: ada.id,
      user_email: 'ada@example.com',
    });
    expect(row.expires_at.getTime()).toBe(claims.exp * 1000);
  });

  it('the SDK provider accepts the token once, then refuses its replay', async () => {
    const answer = await call(adaToken, 'POST', `/addons/${addonName}/sso`);
    const count = arrivals.length;
    const first = await open(answer.body.url);
    expect(first.status).toBe(302);
    expect(first.headers.get('set-cookie')).toContain(`dashboard_session=${ada.id}`);
    expect(arrivals.length).toBe(count + 1);
    expect(arrivals.at(-1)).toMatchObject({
      user: { ...ada, kind: 'person' },
      org: { id: orgId },
      app: { name: web },
      addon: { id: addonId, name: addonName },
    });
    expect(first.headers.get('location')).toBe(`/dashboard/${arrivals.at(-1)?.resource.instanceId}`);
    const replay = await open(answer.body.url);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { description: string }).description).toMatch(/already used/);
    expect(arrivals.length).toBe(count + 1);
  });

  it('the SDK provider refuses an expired token and a token for another provider', async () => {
    const count = arrivals.length;
    // Minted two minutes ago by the broker's own code: valid signature, long expired.
    // The broker's key was created when the test started; let it have signed two minutes ago too.
    await database.db
      .updateTable('broker_signing_keys')
      .set({ signs_from: new Date(Date.now() - 3_600_000) })
      .where('retired_at', 'is', null)
      .execute();
    broker.broker.context.signer.refresh();
    const caller = await callerFor(adaToken);
    const old = await createSsoHandOff(broker.broker.context, caller, addonName, {}, new Date(Date.now() - 120_000));
    const expired = await open(old.url);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { description: string }).description).toMatch(/expired/);

    // A second provider trusting the same broker must refuse a token minted for the first.
    const stranger = await startSdkProvider(`${fx.providerSlug}-other`);
    try {
      const answer = await call(adaToken, 'POST', `/addons/${addonName}/sso`);
      const token = new URL(answer.body.url).searchParams.get('token') as string;
      const elsewhere = await open(`${stranger.running.url}/sso?token=${encodeURIComponent(token)}`);
      expect(elsewhere.status).toBe(401);
      expect(((await elsewhere.json()) as { description: string }).description).toMatch(/aud/);
      // The token itself was fine for its own provider.
      expect((await open(answer.body.url)).status).toBe(302);
    } finally {
      await stranger.running.close();
      await stranger.defined.close();
    }
    expect(arrivals.length).toBe(count + 1);
  });

  it('names the app the user came from, and refuses an app the add-on is not attached to', async () => {
    const attached = await call(orgToken, 'POST', `/apps/${worker}/attachments`, { addon: addonName });
    expect([201, 202]).toContain(attached.status);
    const viaWorker = await call(adaToken, 'POST', `/addons/${addonName}/sso`, { app: worker });
    expect(viaWorker.status, JSON.stringify(viaWorker.body)).toBe(201);
    expect(decodeJwt(new URL(viaWorker.body.url).searchParams.get('token') as string)).toMatchObject({
      app: { name: worker },
    });
    const lonely = `sso-lonely-${suffix}`;
    expect((await call(orgToken, 'POST', '/apps', { name: lonely })).status).toBe(201);
    const before = await countTokens();
    const refused = await call(adaToken, 'POST', `/addons/${addonName}/sso`, { app: lonely });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_input', field: 'app' });
    expect(refused.body.message).toContain(lonely);
    expect(await countTokens()).toBe(before);
  });

  it('another organization gets 404, a bad body 400, no token 401 — and nothing is minted', async () => {
    const before = await countTokens();
    const cross = await call(otherToken, 'POST', `/addons/${addonName}/sso`, {});
    expect(cross.status).toBe(404);
    expect(cross.body.error).toBe('not_found');
    expect((await call(otherToken, 'POST', `/addons/${addonId}/sso`, {})).status).toBe(404);
    expect((await call(orgToken, 'POST', '/addons/no-such-addon/sso', {})).status).toBe(404);
    const badApp = await call(orgToken, 'POST', `/addons/${addonName}/sso`, { app: 42 });
    expect(badApp.status).toBe(400);
    expect(badApp.body.field).toBe('app');
    const extra = await call(orgToken, 'POST', `/addons/${addonName}/sso`, { admin: true });
    expect(extra.status).toBe(400);
    expect((await call(undefined, 'POST', `/addons/${addonName}/sso`, {})).status).toBe(401);
    expect(await countTokens()).toBe(before);
  });

  it('an add-on in the path that is not valid percent-encoding or holds a control character is a 400 naming the path', async () => {
    const before = await countTokens();
    // An encoded surrogate half, a truncated sequence, a stray %, a NUL.
    for (const addon of ['%ED%A0%80', '%E2%82', '100%', 'a%00b']) {
      const refused = await call(orgToken, 'POST', `/addons/${addon}/sso`, {});
      expect(refused.status, addon).toBe(400);
      expect(refused.body, addon).toMatchObject({ error: 'invalid_input', field: 'path' });
    }
    expect(await countTokens()).toBe(before);
  });

  it('an org token cannot choose the user: a body naming one is refused and nothing is minted', async () => {
    const before = await countTokens();
    const ceo = { id: 'user-ceo', email: 'ceo@example.com', name: 'The CEO' };
    for (const token of [orgToken, adaToken, platformToken]) {
      const refused = await call(token, 'POST', `/addons/${addonName}/sso`, { user: ceo });
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ error: 'invalid_input', field: 'user' });
      expect(refused.body.message).toMatch(/^user: cannot be chosen/);
    }
    expect(await countTokens()).toBe(before);
  });

  it("names the person a session's token acts for, with a non-deliverable address or none at all", async () => {
    for (const person of [developer, nomail]) {
      const token = person === developer ? developerToken : nomailToken;
      const answer = await call(token, 'POST', `/addons/${addonName}/sso`);
      expect(answer.status, JSON.stringify(answer.body)).toBe(201);
      const claims = decodeJwt(new URL(answer.body.url).searchParams.get('token') as string) as any;
      expect(claims).toMatchObject({ sub: person.id, kind: 'person', email: person.email, name: person.name });
      expect((await open(answer.body.url)).status).toBe(302);
      const expected = person.email
        ? { ...person, kind: 'person' }
        : { id: person.id, name: person.name, kind: 'person' };
      expect(arrivals.at(-1)?.user).toStrictEqual(expected);
    }
  });

  it('an API token that acts for no one opens it as itself: kind token, its name and id', async () => {
    const answer = await call(orgToken, 'POST', `/addons/${addonName}/sso`);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    const claims = decodeJwt(new URL(answer.body.url).searchParams.get('token') as string) as any;
    expect(claims).toMatchObject({ sub: `token:${orgTokenId}`, kind: 'token', name: 'deploy bot', email: '' });
    expect((await open(answer.body.url)).status).toBe(302);
    expect(arrivals.at(-1)?.user).toStrictEqual({ id: `token:${orgTokenId}`, name: 'deploy bot', kind: 'token' });
    const row = await database.db
      .selectFrom('sso_tokens')
      .select(['user_id', 'user_name', 'user_email', 'requested_by'])
      .where('jti', '=', claims.jti)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ user_id: `token:${orgTokenId}`, user_name: 'deploy bot', user_email: '' });
    expect(row.requested_by).toMatchObject({ kind: 'org', tokenId: orgTokenId });

    // A platform token acting for the org may open it too, as itself.
    const viaPlatform = await call(platformToken, 'POST', `/addons/${addonName}/sso`);
    expect(viaPlatform.status, JSON.stringify(viaPlatform.body)).toBe(201);
    const platformClaims = decodeJwt(new URL(viaPlatform.body.url).searchParams.get('token') as string) as any;
    expect(platformClaims).toMatchObject({ sub: expect.stringMatching(/^token:/), kind: 'token', name: 'p' });
    expect((await open(viaPlatform.body.url)).status).toBe(302);
  });

  it('uses the manifest sso.url when the provider published one; a basic-auth provider without one gets 422', async () => {
    await database.db
      .insertInto('provider_revisions')
      .values({
        provider_id: fx.providerId,
        revision: 1,
        digest: 'sha256:test',
        manifest: JSON.stringify({
          ...manifestFor(fx.providerSlug, providerUrl),
          sso: { url: `${providerUrl}/sso?from=annex` },
        }),
        published_by: 'test',
      })
      .execute();
    await database.db.updateTable('providers').set({ current_revision: 1 }).where('id', '=', fx.providerId).execute();
    const answer = await call(adaToken, 'POST', `/addons/${addonName}/sso`);
    const url = new URL(answer.body.url);
    expect(url.searchParams.get('from')).toBe('annex');
    expect((await open(answer.body.url)).status).toBe(302);

    await database.db
      .updateTable('providers')
      .set({ current_revision: 0, osb_auth_kind: 'basic' })
      .where('id', '=', fx.providerId)
      .execute();
    try {
      const before = await countTokens();
      const refused = await call(adaToken, 'POST', `/addons/${addonName}/sso`);
      expect(refused.status).toBe(422);
      expect(refused.body.message).toMatch(/sso\.url/);
      expect(await countTokens()).toBe(before);
    } finally {
      await database.db
        .updateTable('providers')
        .set({ osb_auth_kind: 'jwt' })
        .where('id', '=', fx.providerId)
        .execute();
    }
  });

  async function countTokens(): Promise<number> {
    const row = await database.db
      .selectFrom('sso_tokens')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async function callerFor(token: string) {
    // The same authentication the route uses, to call the service in process with a past clock.
    const res = { locals: {} as Record<string, unknown> };
    await new Promise<void>((resolve, reject) =>
      authenticateApiCaller(broker.broker.context)(
        { header: (name: string) => (name === 'authorization' ? `Bearer ${token}` : undefined) } as never,
        res as never,
        (error?: unknown) => (error ? reject(error) : resolve()),
      ),
    );
    return callerOf(res as never);
  }
});

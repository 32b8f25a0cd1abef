import { authenticateToken, ROLE_SCOPES } from '@annex/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyProviderGrants, hashSessionId, parseProviderClaim } from './sessions.js';
import { TestClient } from './test-client.js';
import { type ConsoleStack, startConsoleStack, startIdentityProvider, type TestIdentityProvider } from './testing.js';

// Sign-in with OpenID Connect against a real provider (node-oidc-provider) on loopback:
// authorization code with PKCE, state and nonce; organizations from the annex_orgs claim
// or the default organization; and every way the callback can go wrong.

/** Starts a sign-in at the console and goes through the provider's login form as `login`. */
async function signInAt(stack: ConsoleStack, client: TestClient, login: string) {
  const start = await client.request(`${stack.consoleUrl}/auth/login?returnTo=%2Fapps`);
  expect(start.status).toBe(303);
  const authorize = new URL(start.location as string);
  const form = await client.follow(authorize.href);
  expect(form.body).toContain('name="login"');
  const action = form.body.match(/action="([^"]+)"/)?.[1] as string;
  const posted = await client.request(new URL(action, form.url).href, {
    form: { prompt: 'login', login, password: 'any' },
  });
  // Back at the provider, which redirects to the console's callback with the code.
  let next = posted.location as string;
  let res = await client.request(next);
  while (res.location && !next.startsWith(`${stack.consoleUrl}/auth/callback`)) {
    next = res.location;
    res = await client.request(next);
  }
  return { authorize, callbackUrl: next, callback: res };
}

describe('OpenID Connect sign-in', () => {
  let idp: TestIdentityProvider;
  let stack: ConsoleStack;
  beforeAll(async () => {
    idp = await startIdentityProvider({
      alice: { email: 'alice@example.com', name: 'Alice', annex_orgs: ['demo:admin', 'no-such-org'] },
      bob: { email: 'bob@example.com', name: 'Bob' },
      carol: { email: 'carol@example.com', name: 'Carol', annex_orgs: [] },
      mallory: { email: 'm@example.com', name: 'M', annex_orgs: 42 },
      pat: { email: 'pat@example.com', name: 'Pat', annex_providers: ['console-kv:admin', 'no-such-provider'] },
      quinn: { email: 'quinn@example.com', name: 'Quinn', annex_orgs: [], annex_providers: 'console-kv' },
      rex: { email: 'rex@example.com', name: 'Rex', annex_providers: ['console-kv:owner'] },
    });
    stack = await startConsoleStack({
      OIDC_ISSUER_URL: idp.issuer,
      OIDC_CLIENT_ID: idp.clientId,
      OIDC_CLIENT_SECRET: idp.clientSecret,
      CONSOLE_DEFAULT_ORG: 'demo',
    });
    await idp.register(`${stack.consoleUrl}/auth/callback`);
  });
  afterAll(async () => {
    await stack?.close();
    await idp?.close();
  });

  it('offers the identity provider and no development sign-in', async () => {
    const client = new TestClient();
    const page = await client.request(`${stack.consoleUrl}/signin`);
    expect(page.body).toContain('Sign in with your identity provider');
    expect(page.body).not.toContain('Development sign-in');
    const dev = await client.request(`${stack.consoleUrl}/auth/development`, {
      form: { _csrf: page.body.match(/name="_csrf" value="([^"]*)"/)?.[1] ?? 'x' },
    });
    expect(dev.status).not.toBe(303);
  });

  it('signs in with code + PKCE, state and nonce, and joins the organizations of the annex_orgs claim', async () => {
    const client = new TestClient();
    const { authorize, callback } = await signInAt(stack, client, 'alice');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('state')).toBeTruthy();
    expect(authorize.searchParams.get('nonce')).toBeTruthy();
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${stack.consoleUrl}/auth/callback`);
    expect(callback).toMatchObject({ status: 303, location: `${stack.consoleUrl}/apps` });
    expect(client.cookies.has('annex_login')).toBe(false);
    const user = await stack.database.db
      .selectFrom('users')
      .selectAll()
      .where('oidc_subject', '=', 'alice')
      .executeTakeFirstOrThrow();
    expect(user).toMatchObject({ oidc_issuer: idp.issuer, email: 'alice@example.com', name: 'Alice' });
    const memberships = await stack.database.db
      .selectFrom('memberships as m')
      .innerJoin('organizations as o', 'o.id', 'm.organization_id')
      .select(['o.slug', 'm.role'])
      .where('m.user_id', '=', user.id)
      .execute();
    expect(memberships).toEqual([{ slug: 'demo', role: 'admin' }]);
    const apps = await client.request(`${stack.consoleUrl}/apps`);
    expect(apps.status).toBe(200);
    expect(apps.body).toContain('Alice');
    expect(apps.body).not.toContain('development sign-in');
  });

  it('signs out at the identity provider too, with the ID token as hint, and comes back to sign-in', async () => {
    const client = new TestClient();
    await signInAt(stack, client, 'alice');
    const sessionId = client.cookies.get('annex_session') as string;
    const stored = await stack.database.db
      .selectFrom('console_sessions')
      .select('id_token_sealed')
      .where('id_hash', '=', hashSessionId(sessionId))
      .executeTakeFirstOrThrow();
    expect(stored.id_token_sealed).toMatch(/^v1\./); // sealed (checked against the hint below)
    const page = await client.request(`${stack.consoleUrl}/apps`);
    const out = await client.request(`${stack.consoleUrl}/auth/logout`, {
      form: { _csrf: page.body.match(/name="_csrf" value="([^"]*)"/)?.[1] ?? '' },
    });
    expect(out.status).toBe(303);
    const endSession = new URL(out.location as string);
    expect(endSession.origin).toBe(new URL(idp.issuer).origin);
    expect(endSession.searchParams.get('client_id')).toBe(idp.clientId);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${stack.consoleUrl}/signin`);
    const hint = endSession.searchParams.get('id_token_hint') as string;
    expect(hint.split('.')).toHaveLength(3);
    expect(stack.secretBox.open(stored.id_token_sealed as string)).toBe(hint);
    expect(JSON.parse(Buffer.from(hint.split('.')[1] as string, 'base64url').toString())).toMatchObject({
      sub: 'alice',
      aud: idp.clientId,
    });
    // The provider accepts it: its sign-out confirmation, not an error page.
    const atProvider = await client.request(endSession.href);
    expect(atProvider.status, atProvider.body).toBe(200);
    expect(atProvider.body).toMatch(/logout|sign.?out/i);
    // Here the session is gone.
    expect((await client.request(`${stack.consoleUrl}/apps`)).status).toBe(303);
  });

  it('puts a user without the claim in the default organization, without the right to reveal values', async () => {
    const client = new TestClient();
    const { callback } = await signInAt(stack, client, 'bob');
    expect(callback.status).toBe(303);
    const row = await stack.database.db
      .selectFrom('console_sessions as s')
      .innerJoin('api_tokens as t', 't.id', 's.api_token_id')
      .select(['t.scopes'])
      .where('s.id_hash', '=', hashSessionId(client.cookies.get('annex_session') as string))
      .executeTakeFirstOrThrow();
    expect(row.scopes).toEqual(ROLE_SCOPES.member);
    expect(row.scopes).not.toContain('config:read');
    expect(row.scopes).not.toContain('billing:write');
  });

  it('refuses a user whose claim grants no organization here', async () => {
    const client = new TestClient();
    await signInAt(stack, client, 'carol');
    const res = await client.request(`${stack.consoleUrl}/apps`);
    expect(res.status).toBe(403);
    expect(res.body).toContain('belongs to no organization');
  });

  it('refuses a malformed annex_orgs claim with a clear message', async () => {
    const client = new TestClient();
    const { callback } = await signInAt(stack, client, 'mallory');
    expect(callback.status).toBe(400);
    expect(callback.body).toContain('the annex_orgs claim must be a list of organization slugs');
    expect(client.cookies.has('annex_session')).toBe(false);
  });

  it('makes the people an annex_providers claim names members of those providers, with a provider token', async () => {
    const client = new TestClient();
    const { callback } = await signInAt(stack, client, 'pat');
    expect(callback.status).toBe(303);
    const db = stack.database.db;
    const session = await db
      .selectFrom('console_sessions as s')
      .innerJoin('providers as p', 'p.id', 's.provider_id')
      .select(['p.slug', 's.provider_token_id', 's.provider_token_sealed'])
      .where('s.id_hash', '=', hashSessionId(client.cookies.get('annex_session') as string))
      .executeTakeFirstOrThrow();
    expect(session.slug).toBe('console-kv');
    // The unknown provider is ignored (and logged); the known one is an admin membership from the claim.
    const members = await db
      .selectFrom('provider_members as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .innerJoin('providers as p', 'p.id', 'm.provider_id')
      .select(['p.slug', 'm.role', 'm.granted_by'])
      .where('u.oidc_subject', '=', 'pat')
      .execute();
    expect(members).toEqual([{ slug: 'console-kv', role: 'admin', granted_by: 'claim' }]);
    const token = stack.secretBox.open(session.provider_token_sealed as string);
    const principal = await authenticateToken(db, token);
    expect(principal).toMatchObject({ kind: 'provider', scopes: ['provider:read', 'provider:write'] });
    const overview = await client.request(`${stack.consoleUrl}/provider`);
    expect(overview.status).toBe(200);
    expect(overview.body).toContain('<h1>Console KV Inc</h1>');
    expect(overview.body).toContain('<title id="chart-active-title">Active add-ons per day, last 30 days</title>');

    // Signing out revokes it with the org token.
    const out = await client.request(`${stack.consoleUrl}/auth/logout`, {
      form: { _csrf: overview.body.match(/name="_csrf" value="([^"]*)"/)?.[1] ?? '' },
    });
    expect(out.status).toBe(303);
    expect(await authenticateToken(db, token)).toBeNull();
  });

  it("keeps an admin's grant whatever the claim says, and takes away a claim's grant when a claim no longer names it", async () => {
    const db = stack.database.db;
    const first = new TestClient();
    await signInAt(stack, first, 'quinn');
    const quinn = await db
      .selectFrom('users')
      .select('id')
      .where('oidc_subject', '=', 'quinn')
      .executeTakeFirstOrThrow();
    // A member of no organization with a provider: only the Provider section, as a member (read only).
    expect((await first.request(`${stack.consoleUrl}/`)).location).toBe(`${stack.consoleUrl}/provider`);
    const page = await first.request(`${stack.consoleUrl}/provider/installations`);
    expect(page.status).toBe(200);
    expect(page.body).not.toContain('href="/apps"');
    const sealed = await db
      .selectFrom('console_sessions')
      .select('provider_token_sealed')
      .where('id_hash', '=', hashSessionId(first.cookies.get('annex_session') as string))
      .executeTakeFirstOrThrow();
    expect(await authenticateToken(db, stack.secretBox.open(sealed.provider_token_sealed as string))).toMatchObject({
      scopes: ['provider:read'],
    });
    // An admin's grant stays the admin's when a claim names the provider too, and a claim that
    // no longer names a provider takes away only what a claim gave.
    await db.updateTable('provider_members').set({ granted_by: 'admin' }).where('user_id', '=', quinn.id).execute();
    const again = new TestClient();
    await signInAt(stack, again, 'quinn');
    expect(
      await db.selectFrom('provider_members').select(['granted_by', 'role']).where('user_id', '=', quinn.id).execute(),
    ).toEqual([{ granted_by: 'admin', role: 'member' }]);
    expect(await applyProviderGrants(db, quinn.id, [])).toEqual({ unknown: [] });
    expect(
      await db.selectFrom('provider_members').select('granted_by').where('user_id', '=', quinn.id).execute(),
    ).toEqual([{ granted_by: 'admin' }]);
    const pat = await db.selectFrom('users').select('id').where('oidc_subject', '=', 'pat').executeTakeFirstOrThrow();
    await applyProviderGrants(db, pat.id, []);
    expect(
      await db.selectFrom('provider_members').select('granted_by').where('user_id', '=', pat.id).execute(),
    ).toEqual([]);
    // Someone with neither: the section is refused, the rest of the console as before.
    const bob = new TestClient();
    await signInAt(stack, bob, 'bob');
    const refused = await bob.request(`${stack.consoleUrl}/provider`);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('Not a provider member');
  });

  it('refuses a malformed annex_providers claim, naming it', async () => {
    expect(() => parseProviderClaim(7)).toThrow('the annex_providers claim must be a list of provider slugs');
    expect(parseProviderClaim('a, b:admin')).toEqual([
      { slug: 'a', role: 'member' },
      { slug: 'b', role: 'admin' },
    ]);
    const client = new TestClient();
    const { callback } = await signInAt(stack, client, 'rex');
    expect(callback.status).toBe(400);
    expect(callback.body).toContain('the annex_providers claim has an invalid entry &quot;console-kv:owner&quot;');
    expect(client.cookies.has('annex_session')).toBe(false);
  });

  it('refuses a callback with a wrong state, without the sign-in cookie, replayed, or carrying an error', async () => {
    const client = new TestClient();
    const { callbackUrl } = await (async () => {
      // Stop just before the console consumes the callback.
      const start = await client.request(`${stack.consoleUrl}/auth/login`);
      const form = await client.follow(start.location as string);
      const action = form.body.match(/action="([^"]+)"/)?.[1] as string;
      const posted = await client.request(new URL(action, form.url).href, {
        form: { prompt: 'login', login: 'alice', password: 'any' },
      });
      let next = posted.location as string;
      while (!next.startsWith(`${stack.consoleUrl}/auth/callback`)) {
        next = (await client.request(next)).location as string;
      }
      return { callbackUrl: next };
    })();

    const wrongState = new URL(callbackUrl);
    wrongState.searchParams.set('state', 'forged');
    const forged = await client.request(wrongState.href);
    expect(forged.status).toBe(400);
    expect(forged.body).toContain('Sign-in failed');
    expect(forged.body).toMatch(/state/);
    expect(client.cookies.has('annex_session')).toBe(false);

    // The failure cleared the transaction: the genuine callback now has nothing to match.
    const replay = await client.request(callbackUrl);
    expect(replay.status).toBe(400);
    expect(replay.body).toContain('no sign-in was started from this browser');

    const stranger = new TestClient();
    const noCookie = await stranger.request(callbackUrl);
    expect(noCookie.status).toBe(400);
    expect(noCookie.body).toContain('no sign-in was started from this browser');

    const denied = new TestClient();
    await denied.request(`${stack.consoleUrl}/auth/login`);
    const error = await denied.request(
      `${stack.consoleUrl}/auth/callback?error=access_denied&error_description=nope&state=x`,
    );
    expect(error.status).toBe(400);
    expect(error.body).toContain('the identity provider refused the sign-in: access_denied (nope)');
    expect(
      await stack.database.db.selectFrom('users').select('oidc_subject').where('oidc_subject', '=', 'nobody').execute(),
    ).toEqual([]);
  });

  it('does not accept a code twice, even with the sign-in cookie kept', async () => {
    const client = new TestClient();
    const start = await client.request(`${stack.consoleUrl}/auth/login`);
    const form = await client.follow(start.location as string);
    const action = form.body.match(/action="([^"]+)"/)?.[1] as string;
    const posted = await client.request(new URL(action, form.url).href, {
      form: { prompt: 'login', login: 'alice', password: 'any' },
    });
    let next = posted.location as string;
    while (!next.startsWith(`${stack.consoleUrl}/auth/callback`))
      next = (await client.request(next)).location as string;
    const attacker = new TestClient();
    for (const [k, v] of client.cookies) attacker.cookies.set(k, v);
    expect((await client.request(next)).status).toBe(303);
    const replay = await attacker.request(next);
    expect(replay.status).toBe(400);
    expect(replay.body).toContain('the sign-in could not be completed');
    expect(attacker.cookies.has('annex_session')).toBe(false);
  });
});

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { widgetsManifest } from './__fixtures__/widgets.js';
import { type ConformanceBroker, type SsoClaims, startConformanceBroker } from './conformance/index.js';
import { createBrokerTrust, defineProvider, type SsoContext } from './index.js';

describe('broker JWKS discovery', () => {
  let url: string;
  let keys: JWK[] = [];
  let fetches = 0;
  const server = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  async function key(kid: string) {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256' };
    const sign = (times: { iat?: number; exp?: number } = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ htm: 'GET', htp: '/v2/catalog' })
        .setProtectedHeader({ alg: 'ES256', kid })
        .setIssuer(url)
        .setAudience('widgets-inc')
        .setIssuedAt(times.iat ?? now)
        .setExpirationTime(times.exp ?? now + 60)
        .setJti(crypto.randomUUID())
        .sign(pair.privateKey);
    };
    return { jwk, sign };
  }

  it('caches the keys, refreshes on an unknown kid (rotation), and rate-limits refreshes', async () => {
    const k1 = await key('k1');
    const k2 = await key('k2');
    keys = [k1.jwk];
    fetches = 0;
    const trust = createBrokerTrust({ url, jwksRefreshCooldownSeconds: 0 }, 'widgets-inc');
    await trust.verifyRequest(`Bearer ${await k1.sign()}`, 'GET', '/v2/catalog');
    await trust.verifyRequest(`Bearer ${await k1.sign()}`, 'GET', '/v2/catalog');
    expect(fetches).toBe(1); // cached
    keys = [k1.jwk, k2.jwk]; // the broker rotates: a new key appears
    await trust.verifyRequest(`Bearer ${await k2.sign()}`, 'GET', '/v2/catalog');
    expect(fetches).toBe(2); // refreshed once for the unknown kid

    const limited = createBrokerTrust({ url, jwksRefreshCooldownSeconds: 60 }, 'widgets-inc');
    fetches = 0;
    await limited.verifyRequest(`Bearer ${await k1.sign()}`, 'GET', '/v2/catalog');
    const ghost = await key('ghost');
    for (let i = 0; i < 5; i++) {
      await expect(limited.verifyRequest(`Bearer ${await ghost.sign()}`, 'GET', '/v2/catalog')).rejects.toThrow(
        /key the broker does not publish/,
      );
    }
    expect(fetches).toBe(1); // unknown kids do not hammer the broker
  });

  it('bounds clock skew and token lifetime', async () => {
    const k1 = await key('k1');
    keys = [k1.jwk];
    const trust = createBrokerTrust({ url, clockSkewSeconds: 5 }, 'widgets-inc');
    const now = Math.floor(Date.now() / 1000);
    await expect(
      trust.verifyRequest(`Bearer ${await k1.sign({ iat: now + 60, exp: now + 120 })}`, 'GET', '/v2/catalog'),
    ).rejects.toThrow(/future/);
    await trust.verifyRequest(`Bearer ${await k1.sign({ iat: now + 3, exp: now + 63 })}`, 'GET', '/v2/catalog');
    await expect(
      trust.verifyRequest(`Bearer ${await k1.sign({ iat: now, exp: now + 301 })}`, 'GET', '/v2/catalog'),
    ).rejects.toThrow(/lifetime/);
    await expect(
      trust.verifyRequest(`Bearer ${await k1.sign({ iat: now - 100, exp: now - 10 })}`, 'GET', '/v2/catalog'),
    ).rejects.toThrow(/expired/);
  });
});

describe('SSO hand-off', () => {
  let broker: ConformanceBroker;
  let url: string;
  let close: () => Promise<void>;
  const arrivals: SsoContext[] = [];
  const claims: SsoClaims = {
    sub: 'user-1',
    kind: 'person',
    email: 'ada@example.com',
    name: 'Ada',
    org: { id: 'org-1', slug: 'acme' },
    app: { id: 'app-1', name: 'shop' },
    resource: { instanceId: 'i-1', serviceId: 'svc-widgets', planId: 'plan-small' },
    addon: { id: 'a-1', name: 'widgets-shiny-42' },
  };

  beforeAll(async () => {
    broker = await startConformanceBroker();
    const provider = defineProvider({
      manifest: widgetsManifest(),
      broker: { url: broker.url },
      provision: () => {},
      deprovision: () => {},
      bind: () => ({}),
      unbind: () => {},
      sso: (sso, _req, res) => {
        arrivals.push(sso);
        res.cookie('session', sso.user.id, { httpOnly: true });
        return `/dashboard/${sso.resource.instanceId}`;
      },
    });
    const running = await provider.listen(0);
    url = running.url;
    close = running.close;
  });
  afterAll(async () => {
    await close();
    await broker.close();
  });

  const open = (token: string) => fetch(`${url}/sso?token=${encodeURIComponent(token)}`, { redirect: 'manual' });

  it('verifies the token once and gives the handler a typed context', async () => {
    const token = await broker.ssoToken('widgets-inc', claims);
    const first = await open(token);
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe('/dashboard/i-1');
    expect(first.headers.get('set-cookie')).toContain('session=user-1');
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(arrivals.at(-1)).toMatchObject({
      user: { id: 'user-1', email: 'ada@example.com', name: 'Ada', kind: 'person' },
      org: { slug: 'acme' },
      app: { name: 'shop' },
      resource: { instanceId: 'i-1' },
      addon: { name: 'widgets-shiny-42' },
    });
    const replay = await open(token);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { description: string }).description).toContain('already used');
  });

  it('lets in a person without an email, one with an address that is not deliverable, and an API token', async () => {
    const { email: _none, ...noEmail } = claims;
    const cases: [SsoClaims, SsoContext['user']][] = [
      [
        { ...noEmail, sub: 'user-2', name: 'Grace' },
        { id: 'user-2', name: 'Grace', kind: 'person' },
      ],
      [
        { ...claims, sub: 'user-3', email: '', name: 'Edsger' },
        { id: 'user-3', name: 'Edsger', kind: 'person' },
      ],
      [
        { ...claims, sub: 'user-4', email: 'developer@localhost', name: 'Development user' },
        { id: 'user-4', name: 'Development user', email: 'developer@localhost', kind: 'person' },
      ],
      [
        { ...noEmail, sub: 'token:t-1', kind: 'token', name: 'deploy bot' },
        { id: 'token:t-1', name: 'deploy bot', kind: 'token' },
      ],
      // A broker from before the `kind` claim: `email: ""` and `token:` ids for API tokens.
      [
        { ...claims, kind: undefined, sub: 'token:t-2', email: '', name: 'org API token' },
        { id: 'token:t-2', name: 'org API token', kind: 'token' },
      ],
      [
        { ...claims, kind: undefined },
        { id: 'user-1', name: 'Ada', email: 'ada@example.com', kind: 'person' },
      ],
    ];
    for (const [sent, user] of cases) {
      const answer = await open(await broker.ssoToken('widgets-inc', sent));
      expect(answer.status, JSON.stringify(sent)).toBe(302);
      expect(arrivals.at(-1)?.user).toStrictEqual(user);
    }
  });

  it('refuses expired, wrong-audience, long-lived and non-SSO tokens', async () => {
    const count = arrivals.length;
    const now = Math.floor(Date.now() / 1000);
    const refused = [
      await broker.ssoToken('widgets-inc', claims, { iat: now - 120, exp: now - 60 }),
      await broker.ssoToken('someone-else', claims),
      await broker.ssoToken('widgets-inc', claims, { iat: now, exp: now + 600 }),
      await broker.requestToken('widgets-inc', 'GET', '/sso'),
      await broker.ssoToken('widgets-inc', { ...claims, org: undefined } as unknown as SsoClaims),
      await broker.ssoToken('widgets-inc', { ...claims, kind: 'admin' } as unknown as SsoClaims),
    ];
    for (const token of refused) expect((await open(token)).status).toBe(401);
    expect((await fetch(`${url}/sso`)).status).toBe(401);
    expect(arrivals.length).toBe(count);
  });
});

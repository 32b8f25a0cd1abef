import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/**
 * Claims the kit can override in a request token (to forge bad ones).
 *
 * @example
 * const expired = await broker.requestToken('acme', 'GET', '/v2/catalog', { iat: 0, exp: 60 });
 */
export interface TokenOverrides {
  iss?: string;
  aud?: string;
  iat?: number;
  exp?: number;
  jti?: string;
  htm?: string;
  htp?: string;
  typ?: string;
  /** Sign with a key the JWKS does not publish (`unknown-kid`) or with another key under the published kid (`forged`). */
  key?: 'published' | 'unknown-kid' | 'forged';
}

/**
 * SSO claims, as the marketplace puts them in the hand-off token (docs/provider-protocol.md §2).
 *
 * @example
 * const token = await broker.ssoToken('acme', { sub: 'u1', kind: 'person', email: 'a@b.c', name: 'Ada', org: { id: 'o1', slug: 'acme' }, resource: { instanceId, serviceId, planId } });
 */
export interface SsoClaims {
  sub: string;
  /** `person` or `token` (what `sub` is); brokers before it sent none. */
  kind?: 'person' | 'token';
  /** `""` or absent when the user has none. */
  email?: string;
  name: string;
  org: { id: string; slug: string };
  app?: { id: string; name: string };
  resource: { instanceId: string; serviceId: string; planId: string };
  addon?: { id: string; name: string };
}

/**
 * A stand-in for the Annex broker's identity: its own ES256 key, a JWKS served on
 * 127.0.0.1, and token minting. Point the provider's broker URL at `url`.
 *
 * @example
 * const broker = await startConformanceBroker({ port: 4999 });
 * const token = await broker.requestToken('acme', 'GET', '/v2/catalog');
 * await broker.close();
 */
export interface ConformanceBroker {
  /** The broker URL (issuer); the JWKS is at `${url}/.well-known/jwks.json`. */
  readonly url: string;
  readonly kid: string;
  /** A request token for `aud`, bound to the method and path, valid for 60 s unless overridden. */
  requestToken(audience: string, method: string, path: string, overrides?: TokenOverrides): Promise<string>;
  /** A single-use SSO hand-off token (typ `annex-sso+jwt`, 60 s). */
  ssoToken(audience: string, claims: SsoClaims, overrides?: TokenOverrides): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts the kit's broker identity: generates an ES256 key and serves its JWKS.
 *
 * @example
 * const broker = await startConformanceBroker();
 * const provider = defineProvider({ manifest, broker: { url: broker.url }, ...handlers });
 */
export async function startConformanceBroker(
  options: {
    port?: number;
    host?: string;
    /**
     * Keeps the signing key in this file (created on first use, mode 0600), so that a provider
     * that cached the kit's JWKS keeps trusting a re-run of the kit.
     */
    keyFile?: string;
  } = {},
): Promise<ConformanceBroker> {
  const host = options.host ?? '127.0.0.1';
  const { kid, privateKey, publicJwk } = await signingKey(options.keyFile);
  const published = { privateKey };
  const other = await generateKeyPair('ES256', { extractable: true });
  const jwk: JWK = { ...publicJwk, kid, alg: 'ES256', use: 'sig' };
  const body = JSON.stringify({ keys: [jwk] });
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/.well-known/jwks.json') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=300' }).end(body);
    } else {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"description":"not found"}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;

  async function sign(payload: JWTPayload, typ: string | undefined, overrides: TokenOverrides, lifetime: number) {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const iat = overrides.iat ?? nowSeconds;
    const key: PrivateKey = overrides.key && overrides.key !== 'published' ? other.privateKey : published.privateKey;
    const headerKid = overrides.key === 'unknown-kid' ? `${kid}-unknown` : kid;
    const claims: JWTPayload = {
      ...payload,
      iss: overrides.iss ?? url,
      aud: payload.aud,
      iat,
      exp: overrides.exp ?? iat + lifetime,
      jti: overrides.jti ?? randomUUID(),
    };
    const effectiveTyp = overrides.typ ?? typ;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: headerKid, ...(effectiveTyp ? { typ: effectiveTyp } : {}) })
      .sign(key);
  }

  return {
    url,
    kid,
    requestToken(audience, method, path, overrides = {}) {
      return sign(
        { aud: overrides.aud ?? audience, htm: overrides.htm ?? method.toUpperCase(), htp: overrides.htp ?? path },
        undefined,
        overrides,
        60,
      );
    },
    ssoToken(audience, claims, overrides = {}) {
      return sign({ ...claims, aud: overrides.aud ?? audience }, 'annex-sso+jwt', overrides, 60);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function signingKey(file: string | undefined): Promise<{ kid: string; privateKey: PrivateKey; publicJwk: JWK }> {
  if (file) {
    try {
      const stored = JSON.parse(await readFile(file, 'utf8')) as { kid: string; privateJwk: JWK };
      const { d: _private, ...publicJwk } = stored.privateJwk;
      return { kid: stored.kid, privateKey: (await importJWK(stored.privateJwk, 'ES256')) as PrivateKey, publicJwk };
    } catch {
      // absent or unreadable: make a new one below
    }
  }
  const kid = `annex-kit-${randomUUID().slice(0, 8)}`;
  const pair = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(pair.publicKey);
  if (file) {
    const privateJwk = await exportJWK(pair.privateKey);
    await writeFile(file, JSON.stringify({ kid, privateJwk }), { mode: 0o600 });
  }
  return { kid, privateKey: pair.privateKey, publicJwk };
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { JWTPayload } from 'jose';
import * as z from 'zod';

/**
 * Remembers the `jti` of every accepted token until it expires, so a replayed token is
 * refused. In memory by default; share one (e.g. in Redis or PostgreSQL) between replicas.
 *
 * @example
 * const replayStore: ReplayStore = { claim: async (jti, expiresAt) => (await redis.set(`jti:${jti}`, '1', { NX: true, EXAT: expiresAt })) === 'OK' };
 */
export interface ReplayStore {
  /** Records `jti` until `expiresAt` (epoch seconds); false when it was already recorded. */
  claim(jti: string, expiresAt: number): Promise<boolean>;
}

/**
 * The default {@link ReplayStore}: one process, pruned as tokens expire.
 *
 * @example
 * const provider = defineProvider({ manifest, broker: { url, replayStore: new MemoryReplayStore() }, ...handlers });
 */
export class MemoryReplayStore implements ReplayStore {
  readonly #seen = new Map<string, number>();
  #lastPrune = 0;

  async claim(jti: string, expiresAt: number): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000);
    if (now - this.#lastPrune > 30) {
      this.#lastPrune = now;
      for (const [id, until] of this.#seen) if (until < now) this.#seen.delete(id);
    }
    if (this.#seen.has(jti)) return false;
    this.#seen.set(jti, expiresAt);
    return true;
  }
}

/**
 * Why a request or SSO token was refused; answered with 401.
 *
 * @example
 * try { await trust.verifyRequest(header, 'GET', '/v2/catalog'); }
 * catch (error) { if (error instanceof AuthenticationError) console.warn(error.message); }
 */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
}

/**
 * How the provider trusts its broker: the broker's URL (issuer and JWKS) and verification bounds.
 *
 * @example
 * const broker: BrokerTrustOptions = { url: 'http://127.0.0.1:4001', clockSkewSeconds: 10 };
 */
export interface BrokerTrustOptions {
  /** The broker's public URL: the tokens' `iss`; the JWKS is at `${url}/.well-known/jwks.json`. */
  url: string;
  /** Allowed clock difference in seconds (default 30). */
  clockSkewSeconds?: number;
  /** Where used `jti`s are remembered (default: in memory). */
  replayStore?: ReplayStore;
  /** Minimum seconds between JWKS refreshes triggered by an unknown `kid` (default 10). */
  jwksRefreshCooldownSeconds?: number;
  /** How long fetched keys are trusted before a refresh (default 600). */
  jwksMaxAgeSeconds?: number;
}

/**
 * The verified claims of a broker request token.
 *
 * @example
 * const claims: BrokerRequestClaims = await trust.verifyRequest(header, 'GET', '/v2/catalog');
 * console.log(claims.tokenId, claims.expiresAt);
 */
export interface BrokerRequestClaims {
  issuer: string;
  tokenId: string;
  issuedAt: Date;
  expiresAt: Date;
}

const ssoClaims = z.object({
  sub: z.string().min(1),
  // Brokers before `kind` sent `email: ""` for API tokens; none is a reason to refuse.
  email: z.string().optional(),
  name: z.string(),
  kind: z.enum(['person', 'token']).optional(),
  org: z.object({ id: z.string(), slug: z.string() }),
  app: z.object({ id: z.string(), name: z.string() }).optional(),
  resource: z.object({ instanceId: z.string(), serviceId: z.string(), planId: z.string() }),
  addon: z.object({ id: z.string(), name: z.string() }).optional(),
});

/**
 * Who arrives through single sign-on: the person signed in to the marketplace, or the API
 * token that asked (a script, a CLI). The broker decides it from the caller's credentials;
 * nobody can name someone else.
 *
 * @example
 * const label = (user: SsoUser) => (user.kind === 'token' ? `API token ${user.name}` : (user.email ?? user.name));
 */
export interface SsoUser {
  /** Stable across sign-ons: the person's marketplace id, or `token:<token id>`. */
  id: string;
  /** The person's name, or the API token's name. */
  name: string;
  /**
   * The address the person's identity provider gave, unverified and maybe not deliverable
   * (the development sign-in's `developer@localhost`); absent when there is none, and for tokens.
   */
  email?: string;
  kind: 'person' | 'token';
}

/**
 * Who arrives through single sign-on and for which resource, from a verified SSO token.
 *
 * @example
 * sso: (sso: SsoContext, _req, res) => void res.redirect(`/orgs/${sso.org.slug}/${sso.resource.instanceId}`)
 */
export interface SsoContext {
  user: SsoUser;
  org: { id: string; slug: string };
  app: { id: string; name: string } | undefined;
  resource: { instanceId: string; serviceId: string; planId: string };
  /** The marketplace's add-on (its id and name in the user's organization), when the broker sent it. */
  addon: { id: string; name: string } | undefined;
  tokenId: string;
  issuedAt: Date;
  expiresAt: Date;
}

/**
 * The token typ of SSO hand-off tokens.
 *
 * @example
 * const { protectedHeader } = await jwtVerify(token, jwks, { typ: SSO_TOKEN_TYPE });
 */
export const SSO_TOKEN_TYPE = 'annex-sso+jwt';

/**
 * Verifies broker request tokens and SSO tokens against the broker's JWKS.
 *
 * @example
 * const trust: BrokerTrust = createBrokerTrust({ url: brokerUrl }, 'acme');
 * const sso = await trust.verifySso(String(req.query.token));
 */
export interface BrokerTrust {
  verifyRequest(authorization: string | undefined, method: string, path: string): Promise<BrokerRequestClaims>;
  verifySso(token: string | undefined): Promise<SsoContext>;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

type Jose = typeof import('jose');
let jose: Promise<Jose> | undefined;
// Loaded by the first token verified: a process that imports this package and verifies no
// broker token (the catalog) never holds it.
const loadJose = (): Promise<Jose> => {
  jose ??= import('jose');
  return jose;
};

/**
 * Builds the verifier for the broker's tokens: ES256 against the broker's JWKS (discovered,
 * cached, refreshed on an unknown `kid` at most once per cooldown), bounded clock skew,
 * `aud` = the provider slug, `iss` = the broker URL, `htm`/`htp` bound to the request,
 * lifetime at most 5 minutes (60 s for SSO), and single-use `jti`.
 *
 * @example
 * const trust = createBrokerTrust({ url: 'http://127.0.0.1:4001' }, 'acme-db');
 * const claims = await trust.verifyRequest(req.headers.authorization, 'PUT', '/v2/service_instances/1');
 */
export function createBrokerTrust(options: BrokerTrustOptions, audience: string): BrokerTrust {
  const issuer = trimSlash(options.url);
  const skew = options.clockSkewSeconds ?? 30;
  const replay = options.replayStore ?? new MemoryReplayStore();
  let jwks: ReturnType<Jose['createRemoteJWKSet']> | undefined;

  async function verify(token: string, typ: string | undefined, maxLifetime: number): Promise<JWTPayload> {
    const { createRemoteJWKSet, errors: joseErrors, jwtVerify } = await loadJose();
    jwks ??= createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`), {
      cooldownDuration: (options.jwksRefreshCooldownSeconds ?? 10) * 1000,
      cacheMaxAge: (options.jwksMaxAgeSeconds ?? 600) * 1000,
      timeoutDuration: 5000,
    });
    let payload: JWTPayload;
    let header: { typ?: string };
    try {
      ({ payload, protectedHeader: header } = await jwtVerify(token, jwks, {
        algorithms: ['ES256'],
        audience,
        clockTolerance: skew,
        requiredClaims: ['iss', 'aud', 'iat', 'exp', 'jti'],
        ...(typ ? { typ } : {}),
      }));
    } catch (error) {
      throw new AuthenticationError(describeJoseError(error, joseErrors));
    }
    if (typ === undefined && header.typ === SSO_TOKEN_TYPE) {
      throw new AuthenticationError('an SSO token cannot authenticate a broker request');
    }
    if (trimSlash(String(payload.iss)) !== issuer) {
      throw new AuthenticationError(`token issuer "${payload.iss}" is not the broker ${issuer}`);
    }
    const iat = Number(payload.iat);
    const exp = Number(payload.exp);
    const now = Date.now() / 1000;
    if (iat > now + skew) throw new AuthenticationError('token issued in the future (iat)');
    if (exp - iat > maxLifetime) {
      throw new AuthenticationError(`token lifetime ${exp - iat}s exceeds the allowed ${maxLifetime}s`);
    }
    if (typeof payload.jti !== 'string' || payload.jti.length === 0) throw new AuthenticationError('token has no jti');
    return payload;
  }

  async function claimOnce(payload: JWTPayload): Promise<void> {
    if (!(await replay.claim(`${issuer} ${payload.jti}`, Number(payload.exp) + skew))) {
      throw new AuthenticationError(`token ${payload.jti} was already used (replay)`);
    }
  }

  return {
    async verifyRequest(authorization, method, path) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
      if (!match?.[1]) throw new AuthenticationError('missing bearer token (Authorization: Bearer <JWT>)');
      const payload = await verify(match[1], undefined, 300);
      if (String(payload.htm ?? '').toUpperCase() !== method.toUpperCase()) {
        throw new AuthenticationError(`token is for method ${String(payload.htm)}, not ${method}`);
      }
      if (payload.htp !== path) throw new AuthenticationError(`token is for path ${String(payload.htp)}, not ${path}`);
      await claimOnce(payload);
      return {
        issuer,
        tokenId: String(payload.jti),
        issuedAt: new Date(Number(payload.iat) * 1000),
        expiresAt: new Date(Number(payload.exp) * 1000),
      };
    },
    async verifySso(token) {
      if (!token) throw new AuthenticationError('missing SSO token (?token=)');
      const payload = await verify(token, SSO_TOKEN_TYPE, 60);
      const parsed = ssoClaims.safeParse(payload);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new AuthenticationError(`SSO token claim ${issue?.path.join('.')}: ${issue?.message}`);
      }
      await claimOnce(payload);
      const claims = parsed.data;
      return {
        user: ssoUserOf(claims),
        org: claims.org,
        app: claims.app,
        resource: claims.resource,
        addon: claims.addon,
        tokenId: String(payload.jti),
        issuedAt: new Date(Number(payload.iat) * 1000),
        expiresAt: new Date(Number(payload.exp) * 1000),
      };
    },
  };
}

function ssoUserOf(claims: z.infer<typeof ssoClaims>): SsoUser {
  // Brokers before `kind` named API tokens `token:<id>`.
  const kind = claims.kind ?? (claims.sub.startsWith('token:') ? 'token' : 'person');
  return { id: claims.sub, name: claims.name, kind, ...(claims.email ? { email: claims.email } : {}) };
}

function describeJoseError(error: unknown, joseErrors: Jose['errors']): string {
  if (error instanceof joseErrors.JWTExpired) return 'token expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed)
    return `token claim ${error.claim} invalid: ${error.message}`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'token signed with a key the broker does not publish';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not allowed (ES256 only)';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return 'token malformed';
  if (error instanceof joseErrors.JWKSTimeout) return 'broker JWKS did not answer in time';
  return `token refused: ${(error as Error).message}`;
}

/**
 * Checks `Authorization: Basic ...` against the expected credentials in constant time.
 *
 * @example
 * if (!basicAuthMatches(req.headers.authorization, 'broker', secret)) res.status(401).json({ description: 'bad credentials' });
 */
export function basicAuthMatches(authorization: string | undefined, username: string, password: string): boolean {
  const match = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
  const given = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(`${username}:${password}`));
}

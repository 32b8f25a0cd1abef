import { createHash } from 'node:crypto';
import {
  authenticateToken,
  bearerToken,
  hashPassword,
  platformOrganizations,
  randomSecret,
  verifyPassword,
} from '@annex/platform';
import type { BrokerDb } from '../../shared/db/executor.js';
import type { Caller, OriginatingIdentity } from '../../shared/domain/context.js';
import { isCleanId, jsonValueFailure, MAX_JSON_DEPTH, RequestFailure } from '../../shared/http/request-input.js';
import { findPlatformByOsbUsername } from '../db/platforms.js';
import { osbError } from './errors.js';
import { LoginThrottle } from './login-throttle.js';
import type { OsbRequest, OsbResponse } from './node-http.js';

/** The oldest OSB version this broker serves (maintenance_info and binding rotation need 2.15+/2.17). */
const MINIMUM_MINOR = 13;

/** `X-Broker-API-Version` must be 2.x with x ≥ 13; otherwise 412 (and false). */
export function requireApiVersion(req: OsbRequest, res: OsbResponse): boolean {
  const version = req.header('x-broker-api-version');
  const match = version?.trim().match(/^2\.(\d+)$/);
  if (!match || Number(match[1]) < MINIMUM_MINOR) {
    osbError(
      res,
      412,
      'PreconditionFailed',
      version
        ? `X-Broker-API-Version "${version}" is not supported; use 2.${MINIMUM_MINOR} to 2.17`
        : 'the X-Broker-API-Version header is required (2.17)',
    );
    return false;
  }
  return true;
}

/** Echoes `X-Broker-API-Request-Identity`. */
export function echoRequestIdentity(req: OsbRequest, res: OsbResponse): void {
  const identity = req.header('x-broker-api-request-identity');
  if (identity) res.setHeader('x-broker-api-request-identity', identity);
}

/**
 * Parses `X-Broker-API-Originating-Identity: <platform> <base64 JSON object>`; undefined
 * when malformed. The decoded object is kept (audit, operations), so it is held to what
 * request bodies are: no NUL characters, bounded depth.
 */
export function parseOriginatingIdentity(header: string): OriginatingIdentity | undefined {
  const match = header.trim().match(/^(\S+)\s+(\S+)$/);
  if (!match || !isCleanId(match[1] as string)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(match[2] as string, 'base64').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || jsonValueFailure(value)) return undefined;
  return { platform: match[1] as string, value: value as Record<string, unknown>, header: header.trim() };
}

const BASIC_CACHE_MS = 60_000;

export interface PlatformAuthenticationOptions {
  /** Counts failed logins; a new one per broker by default. */
  throttle?: LoginThrottle;
  /** The password check (the platform package's scrypt verification unless a test wraps it). */
  verifyPassword?: (password: string, hash: string) => Promise<boolean>;
}

type BasicOutcome = { platformId: string } | { retryAfterSeconds: number } | undefined;

/**
 * Authenticates the platform: OSB basic auth (scrypt-verified, then remembered briefly
 * under a hash of the credentials) or a platform bearer token. Sets `res.locals.caller`
 * and answers true, or answers the platform itself (401, 429, 400) and false.
 *
 * A password is hashed only when the throttle allows it (failed logins per source address
 * and per username, checked before hashing); credentials verified in the last minute skip
 * both, so a platform already signed in keeps working during a flood of bad logins. An
 * unknown username is checked against a dummy hash, so it takes as long as a wrong password.
 */
export function authenticatePlatform(
  db: BrokerDb,
  options: PlatformAuthenticationOptions = {},
): (req: OsbRequest, res: OsbResponse) => Promise<boolean> {
  const throttle = options.throttle ?? new LoginThrottle();
  const verify = options.verifyPassword ?? verifyPassword;
  const verified = new Map<string, { platformId: string; until: number }>();
  // Identical credentials arriving together share one verification (and one throttle slot).
  const verifying = new Map<string, Promise<{ platformId: string } | undefined>>();
  const organizationsCache = new Map<string, { organizations: readonly string[]; until: number }>();
  let dummyHash: Promise<string> | undefined;

  async function organizationsOf(platformId: string): Promise<readonly string[]> {
    const cached = organizationsCache.get(platformId);
    if (cached && cached.until > Date.now()) return cached.organizations;
    const organizations = await platformOrganizations(db, platformId);
    organizationsCache.set(platformId, { organizations, until: Date.now() + 10_000 });
    return organizations;
  }

  async function check(username: string, password: string): Promise<{ platformId: string } | undefined> {
    const platform = await findPlatformByOsbUsername(db, username);
    dummyHash ??= hashPassword(randomSecret());
    const matches = await verify(password, platform?.osb_password_hash ?? (await dummyHash));
    return platform && matches ? { platformId: platform.id } : undefined;
  }

  async function basic(header: string, address: string): Promise<BasicOutcome> {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const username = decoded.slice(0, colon);
    if (!isCleanId(username)) {
      throw new RequestFailure(400, 'BadRequest', 'Authorization', 'the username must not contain control characters');
    }
    const key = createHash('sha256').update(decoded).digest('hex');
    const hit = verified.get(key);
    if (hit && hit.until > Date.now()) return hit;
    const running = verifying.get(key);
    if (running) return running;
    const attempt = throttle.begin(address, username);
    if ('retryAfterSeconds' in attempt) return attempt;
    const verification = check(username, decoded.slice(colon + 1));
    verifying.set(key, verification);
    let outcome: { platformId: string } | undefined;
    try {
      outcome = await verification;
    } catch (error) {
      // Not a failed login (the database, say): the attempt is given back.
      attempt.finish(true);
      throw error;
    } finally {
      verifying.delete(key);
    }
    attempt.finish(outcome !== undefined);
    if (outcome) {
      if (verified.size > 10_000) verified.clear();
      verified.set(key, { platformId: outcome.platformId, until: Date.now() + BASIC_CACHE_MS });
    }
    return outcome;
  }

  return async (req, res) => {
    const header = req.header('authorization') ?? '';
    let platformId: string | undefined;
    let tokenId: string | null = null;
    let organizations: readonly string[] | undefined;
    if (/^basic /i.test(header)) {
      const outcome = await basic(header, req.remoteAddress);
      if (outcome && 'retryAfterSeconds' in outcome) {
        res.setHeader('retry-after', String(outcome.retryAfterSeconds));
        osbError(
          res,
          429,
          'TooManyRequests',
          `too many failed logins from this address or for this username; retry in ${outcome.retryAfterSeconds} s`,
        );
        return false;
      }
      platformId = outcome?.platformId;
    } else {
      const token = bearerToken(header);
      const principal = token ? await authenticateToken(db, token) : null;
      if (principal?.kind === 'platform') {
        platformId = principal.platformId;
        tokenId = principal.tokenId;
        organizations = principal.organizations;
      }
    }
    if (!platformId) {
      res.setHeader('www-authenticate', 'Basic realm="annex-broker"');
      osbError(
        res,
        401,
        'Unauthorized',
        'valid platform credentials are required (OSB basic auth or a platform token)',
      );
      return false;
    }
    let originatingIdentity: OriginatingIdentity | null = null;
    const originating = req.header('x-broker-api-originating-identity');
    if (originating) {
      const parsed = parseOriginatingIdentity(originating);
      if (!parsed) {
        osbError(
          res,
          400,
          'BadRequest',
          'X-Broker-API-Originating-Identity must be "<platform> <base64-encoded JSON object>", ' +
            `with no NUL characters and at most ${MAX_JSON_DEPTH} levels deep`,
        );
        return false;
      }
      originatingIdentity = parsed;
    }
    const caller: Caller = {
      platformId,
      tokenId,
      organizations: organizations ?? (await organizationsOf(platformId)),
      originatingIdentity,
      requestIdentity: req.header('x-broker-api-request-identity') ?? null,
    };
    res.locals.caller = caller;
    return true;
  };
}

export function callerOf(res: OsbResponse): Caller {
  return res.locals.caller as Caller;
}

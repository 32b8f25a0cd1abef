import { randomUUID } from 'node:crypto';
import type { SecretBox } from '@annex/platform';
import type { JWK } from 'jose';
import type { BrokerDb } from '../db/executor.js';
import {
  insertSigningKey,
  listSigningKeys,
  lockSigningKeys,
  retireSigningKeys,
  type SigningKeyRow,
} from '../db/signing-keys.js';

/** Tokens to providers live this long (the SDK accepts at most 300 s). */
export const TOKEN_LIFETIME_SECONDS = 120;
/** A retired key stays in the JWKS this long: longer than any token it signed can live. */
export const RETIRED_KEY_RETENTION_SECONDS = 300;
/** A new key is published this long before it signs, so every verifier's JWKS cache has it. */
export const DEFAULT_PUBLISH_LEAD_MS = 60_000;
const ALG = 'ES256';

type Jose = typeof import('jose');
let jose: Promise<Jose> | undefined;
// Loaded by the first key made or token signed: a restarted replica that signs nothing while
// idle never holds it.
const loadJose = (): Promise<Jose> => {
  jose ??= import('jose');
  return jose;
};

async function newKeyRow(box: SecretBox, signsFrom: Date) {
  const { exportJWK, generateKeyPair } = await loadJose();
  const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true });
  const kid = `annex-${randomUUID()}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALG };
  return {
    kid,
    alg: ALG,
    public_jwk: JSON.stringify(publicJwk),
    private_key_sealed: box.seal(JSON.stringify(privateJwk)),
    signs_from: signsFrom,
  };
}

/** Creates the first signing key when there is none (every replica may call it at start). */
export async function ensureSigningKey(db: BrokerDb, box: SecretBox): Promise<void> {
  // Generated outside the transaction: the lock is held only for the insert.
  const candidate = await newKeyRow(box, new Date());
  await db.transaction().execute(async (trx) => {
    await lockSigningKeys(trx);
    const keys = await listSigningKeys(trx);
    if (keys.length === 0) await insertSigningKey(trx, candidate);
  });
}

/**
 * Rotates the provider-call signing key without downtime: the new key is published in the
 * JWKS at once but signs only from `now + publishLeadMs`; the current key signs until then,
 * and stays published `RETIRED_KEY_RETENTION_SECONDS` more so its tokens keep verifying.
 *
 * @example
 * const { kid, signsFrom } = await rotateSigningKey(db, secretBox);
 */
export async function rotateSigningKey(
  db: BrokerDb,
  box: SecretBox,
  options: { publishLeadMs?: number; now?: Date } = {},
): Promise<{ kid: string; signsFrom: Date }> {
  const now = options.now ?? new Date();
  const signsFrom = new Date(now.getTime() + (options.publishLeadMs ?? DEFAULT_PUBLISH_LEAD_MS));
  const row = await newKeyRow(box, signsFrom);
  return db.transaction().execute(async (trx) => {
    await lockSigningKeys(trx);
    await retireSigningKeys(trx, signsFrom);
    await insertSigningKey(trx, row);
    return { kid: row.kid, signsFrom };
  });
}

/** The keys a verifier must know at `now`: every key not retired longer ago than tokens live. */
export function publishedKeys(rows: readonly SigningKeyRow[], now: Date): SigningKeyRow[] {
  return rows.filter(
    (row) => !row.retired_at || row.retired_at.getTime() + RETIRED_KEY_RETENTION_SECONDS * 1000 > now.getTime(),
  );
}

/** The key that signs at `now`: the newest whose time has come and that is not retired. */
export function activeKey(rows: readonly SigningKeyRow[], now: Date): SigningKeyRow | undefined {
  return rows
    .filter((row) => row.signs_from.getTime() <= now.getTime() && (!row.retired_at || row.retired_at > now))
    .sort((a, b) => b.signs_from.getTime() - a.signs_from.getTime())[0];
}

/** A JWT the broker signs with its keys: who it is for, what it says, how long it lives. */
export interface SignedTokenRequest {
  audience: string;
  /** The header's `typ`. */
  type: string;
  /** Claims beyond `iss`, `aud`, `iat`, `exp` and `jti`, which are set here. */
  claims: Record<string, unknown>;
  lifetimeSeconds: number;
}

/** A signed token, with the id and times the broker may record. */
export interface SignedToken {
  token: string;
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
}

export interface TokenBinding {
  /** The provider's slug. */
  audience: string;
  method: string;
  /** Request path without the query. */
  path: string;
}

/**
 * Signs the broker's JWTs — the ones that authenticate it to SDK providers, and SSO
 * hand-off tokens — with the keys in the database (every replica signs with the same
 * keys, published at `/.well-known/jwks.json`). Keys are re-read every few seconds; a key
 * another replica rotated away keeps signing validly until then, since a rotation
 * publishes the new key before it signs and keeps the old one published after.
 */
export class RequestSigner {
  readonly #db: BrokerDb;
  readonly #box: SecretBox;
  readonly #issuer: string;
  readonly #refreshMs: number;
  #rows: { at: number; rows: Promise<SigningKeyRow[]> } | undefined;
  readonly #imported = new Map<string, ReturnType<Jose['importJWK']>>();

  constructor(db: BrokerDb, box: SecretBox, issuer: string, refreshMs = 5_000) {
    this.#db = db;
    this.#box = box;
    this.#issuer = issuer;
    this.#refreshMs = refreshMs;
  }

  get issuer(): string {
    return this.#issuer;
  }

  async #keys(): Promise<SigningKeyRow[]> {
    const now = Date.now();
    if (!this.#rows || now - this.#rows.at > this.#refreshMs) {
      const rows = listSigningKeys(this.#db);
      this.#rows = { at: now, rows };
      rows.catch(() => {
        this.#rows = undefined;
      });
    }
    let rows = await this.#rows.rows;
    if (rows.length === 0) {
      await ensureSigningKey(this.#db, this.#box);
      this.#rows = undefined;
      rows = await listSigningKeys(this.#db);
    }
    return rows;
  }

  /** Forgets cached keys (after a rotation in this process). */
  refresh(): void {
    this.#rows = undefined;
  }

  /** The JSON Web Key Set of public keys verifiers must accept now. */
  async jwks(now = new Date()): Promise<{ keys: JWK[] }> {
    const rows = publishedKeys(await this.#keys(), now);
    return { keys: rows.map((row) => row.public_jwk as JWK) };
  }

  /** A provider call's token, bound to its method and path. */
  async sign(binding: TokenBinding, now = new Date()): Promise<string> {
    const signed = await this.signToken(
      {
        audience: binding.audience,
        type: 'JWT',
        claims: { htm: binding.method.toUpperCase(), htp: binding.path },
        lifetimeSeconds: TOKEN_LIFETIME_SECONDS,
      },
      now,
    );
    return signed.token;
  }

  /** Any of the broker's tokens, signed with the key active at `now`. */
  async signToken(request: SignedTokenRequest, now = new Date()): Promise<SignedToken> {
    const key = activeKey(await this.#keys(), now);
    if (!key) throw new Error('no signing key is active');
    const { importJWK, SignJWT } = await loadJose();
    let imported = this.#imported.get(key.kid);
    if (!imported) {
      imported = importJWK(JSON.parse(this.#box.open(key.private_key_sealed)) as JWK, key.alg);
      this.#imported.set(key.kid, imported);
    }
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + request.lifetimeSeconds;
    const jti = randomUUID();
    const token = await new SignJWT(request.claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: request.type })
      .setIssuer(this.#issuer)
      .setAudience(request.audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(await imported);
    return { token, jti, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000) };
  }
}

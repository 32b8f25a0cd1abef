import { randomUUID } from 'node:crypto';
import type { DB, SecretBox } from '@annex/platform';
import { SSO_TOKEN_TYPE } from '@annex/sdk';
import { importJWK, type JWK, SignJWT } from 'jose';
import type { Kysely } from 'kysely';
import { listSigningKeys } from '../db/signing-keys.js';
import { activeKey } from '../domain/signing.js';

/** SSO hand-off tokens live this long: the most the SDK accepts (docs/provider-protocol.md §2). */
export const SSO_TOKEN_LIFETIME_SECONDS = 60;

/** The claims of an SSO hand-off token beyond `iss`, `aud`, `iat`, `exp` and `jti`. */
export interface SsoClaims {
  sub: string;
  email: string;
  name: string;
  org: { id: string; slug: string };
  app: { id: string; name: string };
  resource: { instanceId: string; serviceId: string; planId: string };
  addon: { id: string; name: string };
}

/** A minted token, with the times and id the broker records. */
export interface MintedSsoToken {
  token: string;
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
}

type PrivateKey = Awaited<ReturnType<typeof importJWK>>;

/**
 * Signs SSO hand-off tokens with the broker's current request-signing key (the keys in the
 * database, published at `/.well-known/jwks.json`), so providers verify both kinds of token
 * against the same JWKS. The keys are read on every mint: SSO is rare, and a rotation made
 * by another replica is then followed at once.
 */
export class SsoTokenSigner {
  readonly #db: Kysely<DB>;
  readonly #box: SecretBox;
  readonly #issuer: string;
  readonly #imported = new Map<string, Promise<PrivateKey>>();

  constructor(db: Kysely<DB>, box: SecretBox, issuer: string) {
    this.#db = db;
    this.#box = box;
    this.#issuer = issuer;
  }

  async mint(audience: string, claims: SsoClaims, now = new Date()): Promise<MintedSsoToken> {
    const key = activeKey(await listSigningKeys(this.#db), now);
    if (!key) throw new Error('no signing key is active');
    let imported = this.#imported.get(key.kid);
    if (!imported) {
      imported = importJWK(JSON.parse(this.#box.open(key.private_key_sealed)) as JWK, key.alg);
      this.#imported.set(key.kid, imported);
    }
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + SSO_TOKEN_LIFETIME_SECONDS;
    const jti = randomUUID();
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: SSO_TOKEN_TYPE })
      .setIssuer(this.#issuer)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(await imported);
    return { token, jti, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000) };
  }
}

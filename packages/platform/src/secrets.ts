import { createCipheriv, createDecipheriv, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: object,
) => Promise<Buffer>;

/**
 * AES-256-GCM for secrets kept in the database (binding credentials, provider passwords).
 * Each sealed value names the key that sealed it, so keys rotate: the first key seals,
 * every listed key opens.
 *
 * @example
 * const box = SecretBox.fromSpec('k2:BASE64KEY,k1:OLDKEY');
 * const sealed = box.seal('s3cret'); // "v1.k2.<iv>.<ciphertext>"
 * box.open(sealed); // "s3cret"
 */
export class SecretBox {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly #primary: string;

  constructor(keys: ReadonlyArray<{ id: string; key: Buffer }>) {
    if (keys.length === 0) throw new Error('SecretBox needs at least one key');
    for (const { id, key } of keys) {
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(id))
        throw new Error(`encryption key id "${id}" must be 1-32 of A-Z a-z 0-9 _ -`);
      if (key.length !== 32) throw new Error(`encryption key "${id}" must be 32 bytes (base64), got ${key.length}`);
    }
    this.#keys = new Map(keys.map((k) => [k.id, k.key]));
    this.#primary = (keys[0] as { id: string }).id;
  }

  /** Parses `id:base64key[,id:base64key...]`; the first key seals new values. */
  static fromSpec(spec: string): SecretBox {
    return new SecretBox(
      spec.split(',').map((entry) => {
        const [id, key] = entry.trim().split(':');
        if (!id || !key) throw new Error('expected id:base64key[,id:base64key...]');
        return { id, key: Buffer.from(key, 'base64') };
      }),
    );
  }

  /** A new random key spec, for development installations and tests. */
  static generateSpec(id = 'k1'): string {
    return `${id}:${randomBytes(32).toString('base64')}`;
  }

  get primaryKeyId(): string {
    return this.#primary;
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.#primary) as Buffer, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return ['v1', this.#primary, iv.toString('base64url'), body.toString('base64url')].join('.');
  }

  open(sealed: string): string {
    const [version, keyId, iv, body] = sealed.split('.');
    if (version !== 'v1' || !keyId || !iv || !body) throw new Error('not a sealed value');
    const key = this.#keys.get(keyId);
    if (!key) throw new Error(`sealed with unknown key "${keyId}"`);
    const data = Buffer.from(body, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
  }

  /** The key id a sealed value names (to find values still sealed with a retired key). */
  static keyIdOf(sealed: string): string | undefined {
    return sealed.split('.')[1];
  }
}

const SCRYPT = { N: 16384, r: 8, p: 1 };

/** Hashes a password (scrypt, random salt) for storage. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** Checks a password against `hashPassword`'s output in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, {
    ...SCRYPT,
    N: Number(n),
  });
  return timingSafeEqual(actual, expected);
}

/** A random secret suitable for a password or token body. */
export function randomSecret(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

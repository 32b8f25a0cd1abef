import { SecretBox } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  ensureSigningKey,
  RETIRED_KEY_RETENTION_SECONDS,
  RequestSigner,
  rotateSigningKey,
  TOKEN_LIFETIME_SECONDS,
} from './signing.js';

const ISSUER = 'http://127.0.0.1:4001';

describe.each(testDatabaseKinds('broker signing keys'))('provider JWT signing ($name)', (kind) => {
  it('signs ES256 tokens bound to audience, method and path, verifiable with the JWKS', async () => {
    const database = await kind.open();
    try {
      const box = SecretBox.fromSpec(SecretBox.generateSpec());
      await ensureSigningKey(database.db, box);
      await ensureSigningKey(database.db, box);
      const signer = new RequestSigner(database.db, box, ISSUER);
      const jwks = await signer.jwks();
      expect(jwks.keys).toHaveLength(1);
      expect(jwks.keys[0]).not.toHaveProperty('d');
      const token = await signer.sign({ audience: 'acme-db', method: 'put', path: '/v2/service_instances/x' });
      const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
        issuer: ISSUER,
        audience: 'acme-db',
        algorithms: ['ES256'],
      });
      expect(protectedHeader.kid).toBe(jwks.keys[0]?.kid);
      expect(payload).toMatchObject({ htm: 'PUT', htp: '/v2/service_instances/x' });
      expect((payload.exp as number) - (payload.iat as number)).toBe(TOKEN_LIFETIME_SECONDS);
      const second = await signer.sign({ audience: 'acme-db', method: 'PUT', path: '/v2/service_instances/x' });
      const { payload: other } = await jwtVerify(second, createLocalJWKSet(jwks), { audience: 'acme-db' });
      expect(other.jti).not.toBe(payload.jti);
      // The private key is sealed in the database.
      const row = await database.db.selectFrom('broker_signing_keys').selectAll().executeTakeFirstOrThrow();
      expect(row.private_key_sealed.startsWith('v1.')).toBe(true);
      await expect(
        jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISSUER, audience: 'someone-else' }),
      ).rejects.toThrow();
    } finally {
      await database.close();
    }
  });

  it('rotates without downtime: published before it signs, the old key kept until its tokens expire', async () => {
    const database = await kind.open();
    try {
      const box = SecretBox.fromSpec(SecretBox.generateSpec());
      await ensureSigningKey(database.db, box);
      // Two replicas sharing the database.
      const a = new RequestSigner(database.db, box, ISSUER, 0);
      const b = new RequestSigner(database.db, box, ISSUER, 0);
      const binding = { audience: 'p', method: 'GET', path: '/v2/catalog' };
      const oldToken = await a.sign(binding);
      const oldKid = decodeProtectedHeader(oldToken).kid;

      const t0 = new Date();
      const { kid: newKid, signsFrom } = await rotateSigningKey(database.db, box, { publishLeadMs: 60_000, now: t0 });
      const published = await b.jwks(t0);
      expect(published.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
      // Before signs_from every replica still signs with the old key...
      expect(decodeProtectedHeader(await b.sign(binding, t0)).kid).toBe(oldKid);
      // ...and the old token still verifies against the published set.
      await expect(jwtVerify(oldToken, createLocalJWKSet(published), { audience: 'p' })).resolves.toBeDefined();
      const after = new Date(signsFrom.getTime() + 1_000);
      const newToken = await a.sign(binding, after);
      expect(decodeProtectedHeader(newToken).kid).toBe(newKid);
      const stillBoth = await a.jwks(after);
      expect(stillBoth.keys.map((k) => k.kid)).toContain(oldKid);
      await expect(
        jwtVerify(newToken, createLocalJWKSet(stillBoth), { audience: 'p', currentDate: after }),
      ).resolves.toBeDefined();
      // Once every token the old key signed has expired, it leaves the JWKS.
      const later = new Date(signsFrom.getTime() + (RETIRED_KEY_RETENTION_SECONDS + 1) * 1000);
      expect((await a.jwks(later)).keys.map((k) => k.kid)).toEqual([newKid]);
    } finally {
      await database.close();
    }
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from './testing.js';
import { authenticateToken, bearerToken, createApiToken, hashToken, visibleOrganizations } from './tokens.js';

describe.each(testDatabaseKinds('API tokens'))('API tokens on $name', (kind) => {
  const opened = kind.open();
  afterAll(async () => (await opened).close());

  it('stores only a hash and resolves each kind to its principal', async () => {
    const { db } = await opened;
    const acme = await db
      .insertInto('organizations')
      .values({ slug: 'acme', name: 'Acme' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const beta = await db
      .insertInto('organizations')
      .values({ slug: 'beta', name: 'Beta' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const platform = await db
      .insertInto('platforms')
      .values({ slug: 'paas', name: 'PaaS', osb_username: 'u', osb_password_hash: 'x' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('platform_organizations')
      .values([
        { platform_id: platform.id, organization_id: beta.id },
        { platform_id: platform.id, organization_id: acme.id },
      ])
      .execute();

    const org = await createApiToken(db, { kind: 'org', name: 'ci', organizationId: acme.id, scopes: ['config:read'] });
    const stored = await db.selectFrom('api_tokens').selectAll().where('id', '=', org.id).executeTakeFirstOrThrow();
    expect(stored.token_hash).toBe(hashToken(org.token));
    expect(JSON.stringify(stored)).not.toContain(org.token);
    expect(await authenticateToken(db, org.token)).toEqual({
      kind: 'org',
      tokenId: org.id,
      organizationId: acme.id,
      organization: 'acme',
      scopes: ['config:read'],
    });

    const p = await createApiToken(db, { kind: 'platform', name: 'paas', platformId: platform.id });
    const principal = await authenticateToken(db, p.token);
    expect(principal).toMatchObject({ kind: 'platform', platformId: platform.id, organizations: ['acme', 'beta'] });
    expect(visibleOrganizations(principal as never)).toEqual(['acme', 'beta']);

    const admin = await createApiToken(db, { kind: 'admin', name: 'root' });
    expect(visibleOrganizations((await authenticateToken(db, admin.token)) as never)).toBe('all');
  });

  it('refuses revoked, expired, unknown and malformed tokens', async () => {
    const { db } = await opened;
    const revoked = await createApiToken(db, { kind: 'admin', name: 'old' });
    await db.updateTable('api_tokens').set({ revoked_at: new Date() }).where('id', '=', revoked.id).execute();
    const expired = await createApiToken(db, { kind: 'admin', name: 'short', expiresAt: new Date(Date.now() - 1000) });
    expect(await authenticateToken(db, revoked.token)).toBeNull();
    expect(await authenticateToken(db, expired.token)).toBeNull();
    expect(await authenticateToken(db, `${revoked.token.slice(0, -2)}xx`)).toBeNull();
    expect(await authenticateToken(db, "annex_admin_' or 1=1 --")).toBeNull();
  });
});

describe('bearerToken', () => {
  it('reads only the Bearer scheme', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

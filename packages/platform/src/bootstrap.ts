import type { Kysely } from 'kysely';
import type { DB } from './db/schema.js';
import { ALL_SCOPES } from './scopes.js';
import { hashPassword, randomSecret } from './secrets.js';
import { createApiToken } from './tokens.js';

export interface DevelopmentCredentials {
  adminToken: string;
  organization: string;
  orgToken: string;
  platform: string;
  platformToken: string;
  osbUsername: string;
  osbPassword: string;
}

/**
 * On an empty installation, creates what a developer needs to try Annex: an admin token,
 * a demo organization with a token, and a development platform with its OSB basic-auth
 * credentials. Every secret is random and returned once; nothing is created (and `null`
 * returned) when an admin token already exists.
 */
export async function ensureDevelopmentCredentials(db: Kysely<DB>): Promise<DevelopmentCredentials | null> {
  return db.transaction().execute(async (trx) => {
    // Serialises two processes bootstrapping the same fresh database.
    await trx.selectFrom('api_tokens').select('id').forUpdate().execute();
    const existing = await trx.selectFrom('api_tokens').select('id').where('kind', '=', 'admin').executeTakeFirst();
    if (existing) return null;
    const admin = await createApiToken(trx, { kind: 'admin', name: 'development admin' });
    const org = await trx
      .insertInto('organizations')
      .values({ slug: 'demo', name: 'Demo organization' })
      .onConflict((oc) => oc.column('slug').doUpdateSet({ name: 'Demo organization' }))
      .returning(['id', 'slug'])
      .executeTakeFirstOrThrow();
    const orgToken = await createApiToken(trx, {
      kind: 'org',
      name: 'demo organization (development)',
      organizationId: org.id,
      scopes: ALL_SCOPES,
    });
    const osbUsername = `platform-${randomSecret(6)
      .toLowerCase()
      .replace(/[^a-z0-9]/g, 'x')}`;
    const osbPassword = randomSecret(24);
    const platform = await trx
      .insertInto('platforms')
      .values({
        slug: 'dev-platform',
        name: 'Development platform',
        osb_username: osbUsername,
        osb_password_hash: await hashPassword(osbPassword),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('platform_organizations')
      .values({ platform_id: platform.id, organization_id: org.id })
      .execute();
    const platformToken = await createApiToken(trx, {
      kind: 'platform',
      name: 'development platform',
      platformId: platform.id,
    });
    return {
      adminToken: admin.token,
      organization: org.slug,
      orgToken: orgToken.token,
      platform: 'dev-platform',
      platformToken: platformToken.token,
      osbUsername,
      osbPassword,
    };
  });
}

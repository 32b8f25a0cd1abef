import type { TokenKind } from '@annex/platform';
import type { Executor } from './executor.js';

export interface Organization {
  id: string;
  slug: string;
  name: string;
}

export interface Platform {
  id: string;
  slug: string;
  name: string;
  osbUsername: string;
  organizations: string[];
}

export interface ApiTokenRecord {
  id: string;
  kind: TokenKind;
  name: string;
  prefix: string;
  scopes: string[];
  createdAt: Date;
  revokedAt: Date | null;
}

export async function insertOrganization(db: Executor, slug: string, name: string): Promise<Organization | null> {
  const row = await db
    .insertInto('organizations')
    .values({ slug, name })
    .onConflict((oc) => oc.column('slug').doNothing())
    .returning(['id', 'slug', 'name'])
    .executeTakeFirst();
  return row ?? null;
}

export async function findOrganizationsBySlugs(db: Executor, slugs: readonly string[]): Promise<Organization[]> {
  if (slugs.length === 0) return [];
  return db
    .selectFrom('organizations')
    .select(['id', 'slug', 'name'])
    .where('slug', 'in', [...slugs])
    .execute();
}

export async function insertPlatform(
  db: Executor,
  values: { slug: string; name: string; osbUsername: string; osbPasswordHash: string; organizationIds: string[] },
): Promise<string | null> {
  const row = await db
    .insertInto('platforms')
    .values({
      slug: values.slug,
      name: values.name,
      osb_username: values.osbUsername,
      osb_password_hash: values.osbPasswordHash,
    })
    .onConflict((oc) => oc.doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!row) return null;
  if (values.organizationIds.length > 0) {
    await db
      .insertInto('platform_organizations')
      .values(values.organizationIds.map((organization_id) => ({ platform_id: row.id, organization_id })))
      .execute();
  }
  return row.id;
}

export async function findPlatformBySlug(db: Executor, slug: string): Promise<{ id: string } | null> {
  return (await db.selectFrom('platforms').select('id').where('slug', '=', slug).executeTakeFirst()) ?? null;
}

export async function revokeToken(db: Executor, id: string): Promise<ApiTokenRecord | null> {
  const row = await db
    .updateTable('api_tokens')
    .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(new Date())) }))
    .where('id', '=', id)
    .returning(['id', 'kind', 'name', 'token_prefix', 'scopes', 'created_at', 'revoked_at'])
    .executeTakeFirst();
  return row
    ? {
        id: row.id,
        kind: row.kind,
        name: row.name,
        prefix: row.token_prefix,
        scopes: row.scopes,
        createdAt: row.created_at,
        revokedAt: row.revoked_at,
      }
    : null;
}

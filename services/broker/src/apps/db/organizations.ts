import type { Executor } from '../../shared/db/executor.js';

/** The id of the organization with this slug. */
export async function findOrganizationIdBySlug(db: Executor, slug: string): Promise<string | undefined> {
  const org = await db.selectFrom('organizations').select('id').where('slug', '=', slug).executeTakeFirst();
  return org?.id;
}

/** The slug of the organization with this id; throws when there is none. */
export async function organizationSlugById(db: Executor, id: string): Promise<string> {
  const row = await db.selectFrom('organizations').select('slug').where('id', '=', id).executeTakeFirstOrThrow();
  return row.slug;
}

/** Organizations' slugs by id. */
export async function organizationSlugsByIds(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('organizations')
    .select(['id', 'slug'])
    .where('id', 'in', [...new Set(ids)])
    .execute();
  return new Map(rows.map((o) => [o.id, o.slug]));
}

import type { OrganizationsTable } from '@annex/platform';
import type { Selectable } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

type OrganizationRow = Selectable<OrganizationsTable>;

/** The org's slug and name; throws when there is no such org. */
export async function getOrganizationNames(
  db: Executor,
  organizationId: string,
): Promise<Pick<OrganizationRow, 'slug' | 'name'>> {
  return db
    .selectFrom('organizations')
    .select(['slug', 'name'])
    .where('id', '=', organizationId)
    .executeTakeFirstOrThrow();
}

/** The org's slug; throws when there is no such org. */
export async function getOrganizationSlug(db: Executor, organizationId: string): Promise<string> {
  const row = await db
    .selectFrom('organizations')
    .select('slug')
    .where('id', '=', organizationId)
    .executeTakeFirstOrThrow();
  return row.slug;
}

/** The id of the org with this slug, if any. */
export async function findOrganizationIdBySlug(db: Executor, slug: string): Promise<string | undefined> {
  const org = await db.selectFrom('organizations').select('id').where('slug', '=', slug).executeTakeFirst();
  return org?.id;
}

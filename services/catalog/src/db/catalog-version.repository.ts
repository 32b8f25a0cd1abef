import { sql } from 'kysely';
import type { Executor } from './executor.js';

/**
 * A fingerprint of the published catalog: every publish bumps its provider's revision
 * and `updated_at`, and a new provider changes the count. A handful of provider rows, so
 * this is cheap.
 */
export async function catalogVersion(db: Executor): Promise<string> {
  const row = await db
    .selectFrom('providers')
    .select([
      sql<number>`count(*)`.as('providers'),
      sql<number>`coalesce(sum(current_revision), 0)`.as('revisions'),
      sql<string>`coalesce(max(updated_at)::text, '')`.as('updated'),
    ])
    .executeTakeFirstOrThrow();
  return `${row.providers}.${row.revisions}.${row.updated}`;
}

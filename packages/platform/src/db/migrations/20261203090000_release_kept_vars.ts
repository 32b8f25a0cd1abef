import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// A rollback restores the vars people set and never touches add-on state: the release
// records which attachment-owned vars it left as they were (docs/apps.md, "Rollback").
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(db, `alter table releases add column kept jsonb not null default '[]'::jsonb;`);
}

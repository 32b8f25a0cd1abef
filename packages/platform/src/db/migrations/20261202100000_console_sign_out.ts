import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// Signing out at the identity provider too (RP-initiated logout, docs/console.md): the ID
// token a session was signed in with is its `id_token_hint`, kept sealed with the session.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(db, 'alter table console_sessions add column id_token_sealed text;');
}

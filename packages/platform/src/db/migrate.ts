import { type Kysely, sql } from 'kysely';
import { migrations } from './migrations/index.js';

/**
 * Runs a migration's SQL one statement at a time (PGlite's extended protocol takes one
 * statement per query). Statements are split at a semicolon that ends a line, so a
 * function body must not end one of its own lines with a semicolon.
 */
export async function executeStatements(db: Kysely<any>, text: string): Promise<void> {
  for (const statement of text.split(/;\s*\n/)) {
    if (statement.replace(/--.*$/gm, '').trim() === '') continue;
    await sql.raw(statement).execute(db);
  }
}

/** A forward-only schema change. Frozen once it has landed: fix forward with a new one. */
export interface Migration {
  up(db: Kysely<any>): Promise<void>;
}

// Arbitrary but fixed: every Annex process contends for the same advisory lock.
const MIGRATION_LOCK_ID = 7_263_918_401;

export interface MigrationResult {
  applied: string[];
}

/**
 * Brings the schema up to date. Safe when several processes start at once: they queue on
 * a session advisory lock, and each migration runs in its own transaction, so a failure
 * leaves the schema at the last migration that succeeded.
 *
 * @example
 * const { applied } = await migrateToLatest(db);
 */
export async function migrateToLatest(
  db: Kysely<any>,
  all: Readonly<Record<string, Migration>> = migrations,
): Promise<MigrationResult> {
  const names = Object.keys(all).sort();
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${sql.lit(MIGRATION_LOCK_ID)})`.execute(conn);
    try {
      await sql`create table if not exists annex_migrations (
        name text primary key,
        applied_at timestamptz not null default now()
      )`.execute(conn);
      const done = new Set(
        (await sql<{ name: string }>`select name from annex_migrations`.execute(conn)).rows.map((r) => r.name),
      );
      const unknown = [...done].filter((name) => !(name in all));
      if (unknown.length > 0) {
        // A newer release migrated this database; running older code against it is unsafe.
        throw new Error(`database has migrations this build does not know: ${unknown.join(', ')}`);
      }
      const applied: string[] = [];
      for (const name of names) {
        if (done.has(name)) continue;
        const migration = all[name] as Migration;
        await conn.transaction().execute(async (trx) => {
          await migration.up(trx);
          await sql`insert into annex_migrations (name) values (${name})`.execute(trx);
        });
        applied.push(name);
      }
      return { applied };
    } finally {
      await sql`select pg_advisory_unlock(${sql.lit(MIGRATION_LOCK_ID)})`.execute(conn);
    }
  });
}

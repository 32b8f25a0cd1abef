import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { PGliteDialect } from './pglite-dialect.js';
import type { DB } from './schema.js';

/** Where the data lives: a PostgreSQL server, a PGlite directory, or PGlite in memory. */
export type DatabaseTarget =
  | { kind: 'postgres'; url: string; poolSize?: number }
  | { kind: 'pglite'; dataDir: string }
  | { kind: 'pglite-memory'; loadDataDir?: Blob };

export interface Database {
  readonly db: Kysely<DB>;
  readonly target: DatabaseTarget['kind'];
  /** The PGlite instance when embedded (tests dump it as a template). */
  readonly client?: PGlite;
  /** Round-trips a trivial query; used by `/readyz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const INT8_OID = 20;

/**
 * Opens the database. PostgreSQL through a `pg` pool when a URL is given, otherwise
 * PGlite in process: the same SQL, the same migrations.
 *
 * @example
 * const { db } = await openDatabase({ kind: 'pglite', dataDir: '.annex/db' });
 * await migrateToLatest(db);
 */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  let db: Kysely<DB>;
  let client: PGlite | undefined;
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: target.poolSize ?? 10,
      types: {
        getTypeParser: (oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as 'text'),
      },
    });
    // An idle client that loses its server must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  } else {
    if (target.kind === 'pglite') mkdirSync(target.dataDir, { recursive: true });
    client = await PGlite.create({
      ...(target.kind === 'pglite' ? { dataDir: target.dataDir } : {}),
      ...(target.kind === 'pglite-memory' && target.loadDataDir ? { loadDataDir: target.loadDataDir } : {}),
      parsers: { [INT8_OID]: (value: string) => Number(value) },
    });
    db = new Kysely<DB>({ dialect: new PGliteDialect(client) });
  }
  return {
    db,
    target: target.kind,
    ...(client ? { client } : {}),
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}

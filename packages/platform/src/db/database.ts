import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { CompiledQuery, Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
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

const pools = new WeakMap<Kysely<DB>, pg.Pool>();

/**
 * Runs one fixed statement (`text` with `$1…` placeholders) outside any transaction as a
 * named prepared statement when the database is PostgreSQL: parsed and planned once per
 * connection instead of on every call, and built once rather than compiled by Kysely on
 * every call (what a hot path's large statements spend most of their time on). Through
 * Kysely otherwise (PGlite, or inside a transaction). `name` must be unique per `text`.
 */
export async function executePrepared<R>(
  db: Kysely<DB> | Transaction<DB>,
  name: string,
  text: string,
  values: readonly unknown[],
): Promise<R[]> {
  const pool = db.isTransaction ? undefined : pools.get(db as Kysely<DB>);
  if (!pool) return (await db.executeQuery<R>(CompiledQuery.raw(text, [...values]))).rows as R[];
  const result = await pool.query({ name, text, values: [...values] });
  return result.rows as R[];
}

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
      // A server that drops packets silently would otherwise hold a request until the OS
      // gives up; past this the request answers 503 (isDatabaseUnavailable) and can be retried.
      connectionTimeoutMillis: 10_000,
      types: {
        getTypeParser: (oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as 'text'),
      },
    });
    // An idle client that loses its server must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    // Nor one that loses it while checked out: `pg` then rejects the query in flight and also
    // emits 'error' on the client, which the pool listens to only while the client is idle.
    // The broken client is dropped when it is released.
    pool.on('connect', (client) => client.on('error', () => {}));
    db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    pools.set(db, pool);
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

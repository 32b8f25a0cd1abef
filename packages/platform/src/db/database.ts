import { execFile } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { childSpan, currentSpan, now } from '@annex/tracing';
import type { PGlite } from '@electric-sql/pglite';
import { CompiledQuery, Kysely, type LogEvent, PostgresDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import { PGliteDialect, pgliteNotificationListeners } from './pglite-dialect.js';
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
  /**
   * Calls `onNotify` with each notification's payload on `channel` (`pg_notify`), after the
   * notifying transaction commits. One listening connection per `Database` serves every
   * channel on PostgreSQL; PGlite delivers in process. After a lost listening connection is
   * replaced, every listener is called with `''`: notifications may have been missed.
   * Resolves, once listening, with the function that stops this listener.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /** Statements sent so far through this database (queries, including failed ones). */
  statementCount(): number;
  close(): Promise<void>;
}

const INT8_OID = 20;

const pools = new WeakMap<Kysely<DB>, pg.Pool>();
const counters = new WeakMap<Kysely<DB>, { statements: number }>();

/**
 * Runs one fixed statement (`text` with `$1…` placeholders) outside any transaction as a
 * named prepared statement: parsed and planned once per connection instead of on every call
 * (planning a join costs more than running it on small tables), and built once rather than
 * compiled by Kysely on every call (what a hot path's large statements spend most of their
 * time on). Through Kysely inside a transaction, and on PGlite, whose dialect runs every
 * statement prepared. `name` must be unique per `text`.
 */
export async function executePrepared<R>(
  db: Kysely<DB> | Transaction<DB>,
  name: string,
  text: string,
  values: readonly unknown[],
): Promise<R[]> {
  const pool = db.isTransaction ? undefined : pools.get(db as Kysely<DB>);
  if (!pool) return (await db.executeQuery<R>(CompiledQuery.raw(text, [...values]))).rows as R[];
  const counter = counters.get(db as Kysely<DB>);
  if (counter) counter.statements += 1;
  const started = now();
  try {
    const rows = (await pool.query({ name, text, values: [...values] })).rows as R[];
    traceStatement(text, now() - started, undefined);
    return rows;
  } catch (error) {
    traceStatement(text, now() - started, error ?? new Error('the statement failed'));
    throw error;
  }
}

/**
 * A client span for a statement that ran inside a traced request or job, timed by the
 * caller (Kysely's log hook, which serves PostgreSQL and PGlite alike): named by the
 * statement's first keyword, with its text as sent (placeholders, never the values).
 * Nothing is made when no recording span is current.
 */
function traceStatement(text: string, durationMs: number, error: unknown): void {
  if (!currentSpan()?.recording) return;
  const end = now();
  const operation = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'SQL';
  const span = childSpan(operation, {
    kind: 'client',
    startTime: end - durationMs,
    attributes: { 'db.system.name': 'postgresql', 'db.operation.name': operation, 'db.query.text': text },
  });
  if (!span) return;
  if (error !== undefined) span.recordError(error);
  span.end(end);
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
  const counter = { statements: 0 };
  const log = (event: LogEvent) => {
    counter.statements += 1;
    traceStatement(event.query.sql, event.queryDurationMillis, event.level === 'error' ? event.error : undefined);
  };
  let listener: Listener;
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
    db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }), log });
    pools.set(db, pool);
    listener = postgresListener(target.url);
  } else {
    // Loaded only here: a process on PostgreSQL never holds the embedded database's code.
    const pglite = await import('@electric-sql/pglite');
    const { PGlite } = pglite;
    const startParams = [...PGlite.defaultStartParams, ...PGLITE_SETTINGS];
    if (target.kind === 'pglite') await ensurePGliteDataDir(target.dataDir, startParams);
    client = await PGlite.create({
      ...(target.kind === 'pglite' ? { dataDir: target.dataDir } : {}),
      ...(target.kind === 'pglite-memory' && target.loadDataDir ? { loadDataDir: target.loadDataDir } : {}),
      startParams,
      parsers: { [INT8_OID]: (value: string) => Number(value) },
    });
    db = new Kysely<DB>({ dialect: new PGliteDialect(client, pglite), log });
    listener = pgliteListener(client, db);
  }
  counters.set(db, counter);
  return {
    db,
    target: target.kind,
    ...(client ? { client } : {}),
    async ping() {
      await sql`select 1`.execute(db);
    },
    listen: (channel, onNotify) => listener.listen(channel, onNotify),
    statementCount: () => counter.statements,
    async close() {
      await listener.close();
      await db.destroy();
    },
  };
}

/**
 * Settings of the embedded PostgreSQL beyond PGlite's own. Its shared buffers are taken from the
 * WASM heap and held resident from start: PostgreSQL's default of 128 MB, sized for a server with
 * a machine of its own, cost an idle service about 130 MB. 16 MB holds a marketplace's working set
 * (the data directory of a fresh installation is about 40 MB, most of it catalogs read once); a
 * page outside it is read back from the data directory's files, which the OS caches.
 *
 * Statements are planned once, without their values (`plan_cache_mode`): by default PostgreSQL
 * re-plans a prepared statement with each call's values as long as that plan looks cheaper than
 * one made without them, which on a marketplace's small tables is always, so the hot reads
 * (`executePrepared`) were planned on every call, in this process: 0.7 ms of an organization's
 * apps list that runs in 0.2. A statement whose plan depends on its values (a text search: how
 * many services a term matches) asks for its own plan with `set local plan_cache_mode`.
 * PostgreSQL servers keep their default: their planning runs in the server's process, and the
 * setting would have to travel in every connection's start-up, which poolers refuse.
 */
const PGLITE_SETTINGS = ['-c', 'shared_buffers=16MB', '-c', 'plan_cache_mode=force_generic_plan'];

const PGLITE_INITDB = `
const [url, dataDir, startParams] = process.argv.slice(1);
const { PGlite } = await import(url);
const client = await PGlite.create({ dataDir, startParams: JSON.parse(startParams) });
await client.close();
`;

/**
 * Makes `dataDir` a PGlite data directory unless it is one. initdb runs in a short-lived Node
 * process: PGlite runs it with a second PostgreSQL instance and the initdb program beside the
 * one it opens, whose WASM memories (about 450 MB) the process would hold until a full garbage
 * collection, which an idle process does not run. The directory is made beside `dataDir` and
 * renamed into place once complete, so an installation stopped during initdb leaves no
 * half-made database to open later; `dataDir` must be missing or empty.
 */
async function ensurePGliteDataDir(dataDir: string, startParams: readonly string[]): Promise<void> {
  if (existsSync(join(dataDir, 'PG_VERSION'))) return;
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new Error(`could not create the embedded database in ${dataDir}: it is not empty and holds no database`);
  }
  const parent = dirname(dataDir);
  mkdirSync(parent, { recursive: true });
  const making = `${dataDir}.initdb-${process.pid}`;
  rmSync(making, { recursive: true, force: true });
  const url = pathToFileURL(createRequire(import.meta.url).resolve('@electric-sql/pglite')).href;
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--input-type=module', '-e', PGLITE_INITDB, url, making, JSON.stringify(startParams)],
        { env: { ...process.env, NODE_OPTIONS: '' }, maxBuffer: 16 * 1024 * 1024 },
        (error, _stdout, stderr) =>
          error
            ? reject(new Error(`could not create the embedded database in ${dataDir}: ${stderr || error.message}`))
            : resolve(),
      );
    });
    renameSync(making, dataDir);
  } finally {
    rmSync(making, { recursive: true, force: true });
  }
  const directory = openSync(parent, 'r');
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
}

interface Listener {
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

const CHANNEL = /^[a-z_][a-z0-9_]*$/;

function checkChannel(channel: string): void {
  if (!CHANNEL.test(channel)) throw new Error(`listen: channel must match ${CHANNEL}, got ${JSON.stringify(channel)}`);
}

// PGlite is one session: LISTEN sent while a transaction is open would join it (and be
// undone by its rollback), so it is sent holding the dialect's one connection. A listener
// hears the notifications PGlite reads itself (`listen`'s callback) and those in the answers
// the dialect reads (`pgliteNotificationListeners`).
function pgliteListener(client: PGlite, db: Kysely<DB>): Listener {
  const stops = new Set<() => Promise<void>>();
  return {
    async listen(channel, onNotify) {
      checkChannel(channel);
      const unlisten = await db.connection().execute(() => client.listen(channel, onNotify));
      const listeners = pgliteNotificationListeners(client);
      const ofChannel = listeners.get(channel) ?? new Set();
      listeners.set(channel, ofChannel.add(onNotify));
      const stop = async () => {
        if (!stops.delete(stop)) return;
        ofChannel.delete(onNotify);
        if (!client.closed) await db.connection().execute(() => unlisten());
      };
      stops.add(stop);
      return stop;
    },
    async close() {
      await Promise.all([...stops].map((stop) => stop()));
    },
  };
}

/**
 * One `pg.Client` outside the pool, opened on the first `listen` and kept for the process:
 * LISTEN holds its connection, so it cannot borrow a pooled one. A connection lost is
 * replaced after a second; the listeners then hear `''` so they look for what they missed.
 */
function postgresListener(url: string): Listener {
  const channels = new Map<string, Set<(payload: string) => void>>();
  let connection: Promise<pg.Client> | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = (): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    const lost = () => {
      if (connection === undefined || closed) return;
      connection = undefined;
      client.end().catch(() => {});
      retry = setTimeout(() => {
        retry = undefined;
        if (closed || channels.size === 0) return;
        void ensure().then(
          () => {
            for (const set of channels.values()) for (const onNotify of set) onNotify('');
          },
          () => lost(),
        );
      }, 1_000);
      retry.unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      for (const onNotify of channels.get(message.channel) ?? []) onNotify(message.payload ?? '');
    });
    return client.connect().then(async () => {
      for (const channel of channels.keys()) await client.query(`listen ${channel}`);
      return client;
    });
  };
  const ensure = (): Promise<pg.Client> => {
    if (!connection) {
      connection = connect();
      connection.catch(() => {
        connection = undefined;
      });
    }
    return connection;
  };

  return {
    async listen(channel, onNotify) {
      checkChannel(channel);
      if (closed) throw new Error('listen: the database is closed');
      let set = channels.get(channel);
      const fresh = set === undefined;
      if (!set) {
        set = new Set();
        channels.set(channel, set);
      }
      set.add(onNotify);
      try {
        const client = await ensure();
        if (fresh) await client.query(`listen ${channel}`);
      } catch (error) {
        set.delete(onNotify);
        if (set.size === 0) channels.delete(channel);
        throw error;
      }
      const listeners = set;
      return async () => {
        listeners.delete(onNotify);
        if (listeners.size > 0 || channels.get(channel) !== listeners) return;
        channels.delete(channel);
        const client = await connection?.catch(() => undefined);
        await client?.query(`unlisten ${channel}`).catch(() => {});
      };
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const client = await connection?.catch(() => undefined);
      connection = undefined;
      await client?.end().catch(() => {});
    },
  };
}

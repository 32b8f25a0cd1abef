import pg from 'pg';
import type { ReplayStore } from '../auth.js';
import type { BindingRecord, InstanceRecord, OperationRecord, ProviderStore } from '../store.js';

/**
 * Options for {@link PostgresStore}: a connection string or a `pg` pool you own.
 *
 * @example
 * const store = new PostgresStore({ pool, tablePrefix: 'acme_osb' } satisfies PostgresStoreOptions);
 */
export interface PostgresStoreOptions {
  /** `postgres://...`; the store opens (and closes) its own pool. */
  connectionString?: string;
  /** An existing pool; the store leaves it open on `close()`. */
  pool?: pg.Pool;
  /** Table name prefix, default `annex_sdk` (tables `<prefix>_instances`, `_bindings`, `_operations`). */
  tablePrefix?: string;
}

/**
 * The PostgreSQL store: protocol state shared by every replica of a provider, surviving
 * restarts. Creates its three tables on `init()` (idempotent, safe when replicas start together).
 * Needs the `pg` package (an optional peer dependency).
 *
 * @example
 * import { PostgresStore } from '@annex/sdk/postgres';
 * const provider = defineProvider({ manifest, store: new PostgresStore({ connectionString: process.env.DATABASE_URL }), ...handlers });
 */
export class PostgresStore implements ProviderStore {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #t: { instances: string; bindings: string; operations: string };

  constructor(options: PostgresStoreOptions) {
    if (!options.pool && !options.connectionString)
      throw new TypeError('PostgresStore needs a connectionString or a pool');
    this.#pool = options.pool ?? ownPool(options.connectionString as string, 5);
    this.#ownsPool = !options.pool;
    const prefix = options.tablePrefix ?? 'annex_sdk';
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) throw new TypeError(`invalid tablePrefix "${prefix}"`);
    this.#t = { instances: `${prefix}_instances`, bindings: `${prefix}_bindings`, operations: `${prefix}_operations` };
  }

  async init(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query('begin');
      // Two replicas creating the tables at once would collide on the catalog; serialise them.
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [this.#t.instances]);
      await client.query(`create table if not exists ${this.#t.instances} (
        id text primary key, state text not null, data jsonb not null)`);
      await client.query(`create table if not exists ${this.#t.bindings} (
        instance_id text not null, id text not null, state text not null, data jsonb not null,
        primary key (instance_id, id))`);
      await client.query(`create table if not exists ${this.#t.operations} (
        instance_id text not null, binding_id text not null, operation text not null, data jsonb not null,
        primary key (instance_id, binding_id, operation))`);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async getInstance(id: string): Promise<InstanceRecord | undefined> {
    const { rows } = await this.#pool.query(`select data from ${this.#t.instances} where id = $1`, [id]);
    return rows[0]?.data as InstanceRecord | undefined;
  }
  async insertInstance(record: InstanceRecord): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      `insert into ${this.#t.instances} (id, state, data) values ($1, $2, $3)
       on conflict (id) do update set state = excluded.state, data = excluded.data
       where ${this.#t.instances}.state = 'deleted'`,
      [record.id, record.state, JSON.stringify(record)],
    );
    return rowCount === 1;
  }
  async saveInstance(record: InstanceRecord): Promise<void> {
    await this.#pool.query(
      `insert into ${this.#t.instances} (id, state, data) values ($1, $2, $3)
       on conflict (id) do update set state = excluded.state, data = excluded.data`,
      [record.id, record.state, JSON.stringify(record)],
    );
  }
  async removeInstance(id: string): Promise<void> {
    await this.#pool.query(`delete from ${this.#t.instances} where id = $1`, [id]);
  }
  async getBinding(instanceId: string, bindingId: string): Promise<BindingRecord | undefined> {
    const { rows } = await this.#pool.query(`select data from ${this.#t.bindings} where instance_id = $1 and id = $2`, [
      instanceId,
      bindingId,
    ]);
    return rows[0]?.data as BindingRecord | undefined;
  }
  async insertBinding(record: BindingRecord): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      `insert into ${this.#t.bindings} (instance_id, id, state, data) values ($1, $2, $3, $4)
       on conflict (instance_id, id) do update set state = excluded.state, data = excluded.data
       where ${this.#t.bindings}.state = 'deleted'`,
      [record.instanceId, record.id, record.state, JSON.stringify(record)],
    );
    return rowCount === 1;
  }
  async saveBinding(record: BindingRecord): Promise<void> {
    await this.#pool.query(
      `insert into ${this.#t.bindings} (instance_id, id, state, data) values ($1, $2, $3, $4)
       on conflict (instance_id, id) do update set state = excluded.state, data = excluded.data`,
      [record.instanceId, record.id, record.state, JSON.stringify(record)],
    );
  }
  async removeBinding(instanceId: string, bindingId: string): Promise<void> {
    await this.#pool.query(`delete from ${this.#t.bindings} where instance_id = $1 and id = $2`, [
      instanceId,
      bindingId,
    ]);
  }
  async getOperation(instanceId: string, bindingId: string | null, operation: string) {
    const { rows } = await this.#pool.query(
      `select data from ${this.#t.operations} where instance_id = $1 and binding_id = $2 and operation = $3`,
      [instanceId, bindingId ?? '', operation],
    );
    return rows[0]?.data as OperationRecord | undefined;
  }
  async saveOperation(record: OperationRecord): Promise<void> {
    await this.#pool.query(
      `insert into ${this.#t.operations} (instance_id, binding_id, operation, data) values ($1, $2, $3, $4)
       on conflict (instance_id, binding_id, operation) do update set data = excluded.data`,
      [record.instanceId, record.bindingId ?? '', record.operation, JSON.stringify(record)],
    );
  }
  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }
}

/**
 * A replay store in PostgreSQL: every replica of a provider refuses a token another replica
 * already accepted. Creates its table on first use; forgets ids once their token expired.
 *
 * @example
 * import { PostgresReplayStore } from '@annex/sdk/postgres';
 * const provider = defineProvider({ manifest, broker: { url, replayStore: new PostgresReplayStore({ pool }) }, ...handlers });
 */
export class PostgresReplayStore implements ReplayStore {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #table: string;
  #ready: Promise<void> | undefined;
  #lastPrune = 0;

  constructor(options: PostgresStoreOptions) {
    if (!options.pool && !options.connectionString) {
      throw new TypeError('PostgresReplayStore needs a connectionString or a pool');
    }
    this.#pool = options.pool ?? ownPool(options.connectionString as string, 3);
    this.#ownsPool = !options.pool;
    const prefix = options.tablePrefix ?? 'annex_sdk';
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) throw new TypeError(`invalid tablePrefix "${prefix}"`);
    this.#table = `${prefix}_token_ids`;
  }

  async claim(jti: string, expiresAt: number): Promise<boolean> {
    this.#ready ??= this.#createTable();
    await this.#ready;
    const now = Date.now();
    if (now - this.#lastPrune > 60_000) {
      this.#lastPrune = now;
      await this.#pool.query(`delete from ${this.#table} where expires_at < now()`);
    }
    const { rowCount } = await this.#pool.query(
      `insert into ${this.#table} (jti, expires_at) values ($1, to_timestamp($2)) on conflict (jti) do nothing`,
      [jti, expiresAt],
    );
    return rowCount === 1;
  }

  async #createTable(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query('begin');
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [this.#table]);
      await client.query(
        `create table if not exists ${this.#table} (jti text primary key, expires_at timestamptz not null)`,
      );
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      this.#ready = undefined;
      throw error;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }
}

/**
 * A pool the store owns. An idle connection the server ends (a restart, a failover, an
 * administrator) emits an error on the pool; unhandled, it would crash the provider. The
 * pool drops that client and connects afresh on the next query, so there is nothing to do.
 */
function ownPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  pool.on('error', () => {});
  return pool;
}

import pg from 'pg';
import type { ApiKeyRecord, GatewayStore, PendingReport, UsageEntry } from './store.js';

/**
 * The gateway's state in PostgreSQL (EXAMPLE_AI_DATABASE_URL): shared by replicas (rate
 * windows and quotas are counted in the database, not per process) and kept across restarts,
 * so usage the broker has not acknowledged is reported after a crash too.
 */
export class PostgresGatewayStore implements GatewayStore {
  readonly #pool: pg.Pool;

  constructor(options: { connectionString: string }) {
    this.#pool = new pg.Pool({ connectionString: options.connectionString, max: 5 });
    // An idle connection the server ends must not crash the provider; the pool reconnects.
    this.#pool.on('error', () => {});
  }

  async init() {
    const client = await this.#pool.connect();
    try {
      await client.query('begin');
      // Replicas starting together would collide creating the tables; serialise them.
      await client.query(`select pg_advisory_xact_lock(hashtext('ai_gateway_schema'))`);
      await client.query(`create table if not exists ai_gateway_api_keys (
        hash text primary key, instance_id text not null, binding_id text not null,
        created_at timestamptz not null, revoked_at timestamptz)`);
      await client.query(
        'create index if not exists ai_gateway_api_keys_instance on ai_gateway_api_keys (instance_id)',
      );
      await client.query(`create table if not exists ai_gateway_rate_windows (
        instance_id text not null, window_start bigint not null, requests integer not null,
        primary key (instance_id, window_start))`);
      await client.query(`create table if not exists ai_gateway_monthly_tokens (
        instance_id text not null, month text not null, tokens bigint not null,
        primary key (instance_id, month))`);
      await client.query(`create table if not exists ai_gateway_usage (
        id text primary key, instance_id text not null, binding_id text not null, endpoint text not null,
        model text not null, prompt_tokens integer not null, completion_tokens integer not null,
        total_tokens integer not null, at timestamptz not null, month text not null,
        report_unit text, report_quantity double precision, reported_at timestamptz, rejected text)`);
      await client.query(`create index if not exists ai_gateway_usage_pending on ai_gateway_usage (at)
        where report_unit is not null and reported_at is null and rejected is null`);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async insertKey(record: ApiKeyRecord) {
    await this.#pool.query(
      'insert into ai_gateway_api_keys (hash, instance_id, binding_id, created_at, revoked_at) values ($1, $2, $3, $4, $5)',
      [record.hash, record.instanceId, record.bindingId, record.createdAt, record.revokedAt],
    );
  }

  async findKey(hash: string) {
    const { rows } = await this.#pool.query<{
      hash: string;
      instance_id: string;
      binding_id: string;
      created_at: Date;
      revoked_at: Date | null;
    }>('select * from ai_gateway_api_keys where hash = $1', [hash]);
    const row = rows[0];
    return (
      row && {
        hash: row.hash,
        instanceId: row.instance_id,
        bindingId: row.binding_id,
        createdAt: row.created_at.toISOString(),
        revokedAt: row.revoked_at?.toISOString() ?? null,
      }
    );
  }

  async revokeBindingKeys(instanceId: string, bindingId: string, at: string) {
    const result = await this.#pool.query(
      'update ai_gateway_api_keys set revoked_at = $3 where instance_id = $1 and binding_id = $2 and revoked_at is null',
      [instanceId, bindingId, at],
    );
    return result.rowCount ?? 0;
  }

  async revokeInstanceKeys(instanceId: string, at: string) {
    const result = await this.#pool.query(
      'update ai_gateway_api_keys set revoked_at = $2 where instance_id = $1 and revoked_at is null',
      [instanceId, at],
    );
    return result.rowCount ?? 0;
  }

  async countActiveKeys(instanceId: string) {
    const { rows } = await this.#pool.query<{ n: string }>(
      'select count(*) as n from ai_gateway_api_keys where instance_id = $1 and revoked_at is null',
      [instanceId],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async hitRateWindow(instanceId: string, windowStart: number) {
    const { rows } = await this.#pool.query<{ requests: number }>(
      `insert into ai_gateway_rate_windows (instance_id, window_start, requests) values ($1, $2, 1)
       on conflict (instance_id, window_start) do update set requests = ai_gateway_rate_windows.requests + 1
       returning requests`,
      [instanceId, windowStart],
    );
    return rows[0]?.requests ?? 1;
  }

  async monthTokens(instanceId: string, month: string) {
    const { rows } = await this.#pool.query<{ tokens: string }>(
      'select tokens from ai_gateway_monthly_tokens where instance_id = $1 and month = $2',
      [instanceId, month],
    );
    return Number(rows[0]?.tokens ?? 0);
  }

  async tokensByBinding(instanceId: string, month: string) {
    const { rows } = await this.#pool.query<{ binding_id: string; tokens: string }>(
      `select binding_id, sum(total_tokens) as tokens from ai_gateway_usage
       where instance_id = $1 and month = $2 group by binding_id`,
      [instanceId, month],
    );
    return Object.fromEntries(rows.map((row) => [row.binding_id, Number(row.tokens)]));
  }

  async recordUsage(entry: UsageEntry) {
    const client = await this.#pool.connect();
    try {
      await client.query('begin');
      const inserted = await client.query(
        `insert into ai_gateway_usage (id, instance_id, binding_id, endpoint, model, prompt_tokens, completion_tokens,
           total_tokens, at, month, report_unit, report_quantity)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) on conflict (id) do nothing`,
        [
          entry.id,
          entry.instanceId,
          entry.bindingId,
          entry.endpoint,
          entry.model,
          entry.promptTokens,
          entry.completionTokens,
          entry.totalTokens,
          entry.at,
          entry.month,
          entry.report?.unit ?? null,
          entry.report?.quantity ?? null,
        ],
      );
      if (inserted.rowCount === 1) {
        await client.query(
          `insert into ai_gateway_monthly_tokens (instance_id, month, tokens) values ($1, $2, $3)
           on conflict (instance_id, month) do update set tokens = ai_gateway_monthly_tokens.tokens + excluded.tokens`,
          [entry.instanceId, entry.month, entry.totalTokens],
        );
      }
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async pendingReports(limit: number) {
    const { rows } = await this.#pool.query<{
      id: string;
      instance_id: string;
      binding_id: string;
      endpoint: UsageEntry['endpoint'];
      model: string;
      prompt_tokens: number;
      completion_tokens: number;
      total_tokens: number;
      at: Date;
      month: string;
      report_unit: string;
      report_quantity: number;
    }>(
      `select * from ai_gateway_usage where report_unit is not null and reported_at is null and rejected is null
       order by at, id limit $1`,
      [limit],
    );
    return rows.map(
      (row): PendingReport => ({
        id: row.id,
        instanceId: row.instance_id,
        bindingId: row.binding_id,
        endpoint: row.endpoint,
        model: row.model,
        promptTokens: row.prompt_tokens,
        completionTokens: row.completion_tokens,
        totalTokens: row.total_tokens,
        at: row.at.toISOString(),
        month: row.month,
        report: { unit: row.report_unit, quantity: row.report_quantity },
      }),
    );
  }

  async markReported(ids: readonly string[], at: string) {
    await this.#pool.query('update ai_gateway_usage set reported_at = $2 where id = any($1)', [[...ids], at]);
  }

  async markRejected(ids: readonly string[], reason: string) {
    await this.#pool.query('update ai_gateway_usage set rejected = $2 where id = any($1)', [[...ids], reason]);
  }

  async pruneRateWindows(before: number) {
    await this.#pool.query('delete from ai_gateway_rate_windows where window_start < $1', [before]);
  }

  async close() {
    await this.#pool.end();
  }
}

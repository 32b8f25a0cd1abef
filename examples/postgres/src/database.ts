import pg from 'pg';
import type { InstanceNames } from './names.js';
import type { PostgresPlan } from './plans.js';
import { scramSha256Verifier } from './scram.js';

/**
 * The SQL the provider runs on the PostgreSQL server, as its admin role. Every step is
 * idempotent, so an interrupted operation can simply be run again (after a restart, by the
 * `lastOperation` handler). Identifiers come from `names.ts` and are quoted anyway.
 */

const id = (name: string) => pg.escapeIdentifier(name);
const literal = (value: string) => pg.escapeLiteral(value);

/** Marks a database whose provisioning finished: `lastOperation` reads it after a restart. */
export const READY_COMMENT = 'annex-postgres: ready';

export class AdminDatabase {
  readonly #pool: pg.Pool;
  readonly #adminUrl: string;

  constructor(adminUrl: string) {
    this.#adminUrl = adminUrl;
    this.#pool = new pg.Pool({ connectionString: adminUrl, max: 4 });
    // An idle connection the server ends must not crash the provider; the pool reconnects.
    this.#pool.on('error', () => {});
  }

  get pool(): pg.Pool {
    return this.#pool;
  }

  /** Host and port the apps connect to (those of the admin URL). */
  endpoint(): { host: string; port: number } {
    const url = new URL(this.#adminUrl);
    return { host: url.hostname, port: url.port ? Number(url.port) : 5432 };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  /** Runs `fn` with a client connected as the admin to another database of the server. */
  async #inDatabase<T>(database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const url = new URL(this.#adminUrl);
    url.pathname = `/${database}`;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  async roleExists(role: string): Promise<boolean> {
    const { rowCount } = await this.#pool.query('select 1 from pg_roles where rolname = $1', [role]);
    return rowCount === 1;
  }

  /** Whether the database exists and its provisioning finished. */
  async instanceState(names: InstanceNames): Promise<'absent' | 'partial' | 'ready'> {
    const { rows } = await this.#pool.query<{ comment: string | null }>(
      `select shobj_description(oid, 'pg_database') as comment from pg_database where datname = $1`,
      [names.database],
    );
    const owner = await this.roleExists(names.owner);
    if (!rows[0]) return owner ? 'partial' : 'absent';
    return rows[0].comment === READY_COMMENT && owner ? 'ready' : 'partial';
  }

  /**
   * Creates the instance: its owner role (no login), its database owned by that role and closed
   * to everyone else, and the plan's limits. `signal` stops it between steps.
   */
  async createInstance(names: InstanceNames, plan: PostgresPlan, signal?: AbortSignal): Promise<void> {
    const step = () => signal?.throwIfAborted();
    step();
    await ignoreCode('42710', () => this.#pool.query(`create role ${id(names.owner)} nologin`)); // duplicate_object
    step();
    const exists = await this.#pool.query('select 1 from pg_database where datname = $1', [names.database]);
    if (exists.rowCount === 0) {
      // CREATE DATABASE cannot run in a transaction; a concurrent creator makes it fail with 42P04.
      await ignoreCode('42P04', () =>
        this.#pool.query(`create database ${id(names.database)} owner ${id(names.owner)}`),
      );
    }
    step();
    await this.#pool.query(`revoke all on database ${id(names.database)} from public`);
    await this.applyPlan(names, plan);
    step();
    await this.#pool.query(`comment on database ${id(names.database)} is ${literal(READY_COMMENT)}`);
  }

  /** Sets the plan's limits on the database and on every login role of the instance. */
  async applyPlan(names: InstanceNames, plan: PostgresPlan): Promise<void> {
    const limit = plan.connectionLimit;
    await this.#pool.query(`alter database ${id(names.database)} connection limit ${limit}`);
    await this.#pool.query(
      `alter database ${id(names.database)} set statement_timeout = ${literal(`${plan.statementTimeoutSeconds}s`)}`,
    );
    for (const role of await this.bindingRoles(names)) {
      await this.#pool.query(`alter role ${id(role)} connection limit ${limit}`);
    }
  }

  /** The login roles of an instance: the members of its owner role. */
  async bindingRoles(names: InstanceNames): Promise<string[]> {
    const { rows } = await this.#pool.query<{ rolname: string }>(
      `select member.rolname from pg_auth_members m
         join pg_roles member on member.oid = m.member
         join pg_roles owner on owner.oid = m.roleid
        where owner.rolname = $1 order by 1`,
      [names.owner],
    );
    return rows.map((r) => r.rolname);
  }

  /**
   * Creates (or, on a retry, re-passwords) a login role that acts as the owner role: every
   * session switches to it, so tables belong to the instance and outlive the credentials.
   */
  async createLoginRole(names: InstanceNames, role: string, password: string, plan: PostgresPlan): Promise<void> {
    // The server gets the SCRAM verifier, never the password itself (statement logs, pg_stat_activity).
    const verifier = scramSha256Verifier(password);
    const options = `login password ${literal(verifier)} connection limit ${plan.connectionLimit}`;
    if (await this.roleExists(role)) {
      await this.#pool.query(`alter role ${id(role)} ${options}`);
    } else {
      await this.#pool.query(`create role ${id(role)} ${options} in role ${id(names.owner)}`);
    }
    await this.#pool.query(`grant ${id(names.owner)} to ${id(role)}`);
    await this.#pool.query(`alter role ${id(role)} set role = ${literal(names.owner)}`);
  }

  /** Ends the role's sessions, hands anything it owns to the instance, and drops it. */
  async dropLoginRole(names: InstanceNames, role: string): Promise<void> {
    if (!(await this.roleExists(role))) return;
    // No new sessions first, then end the open ones.
    await this.#pool.query(`alter role ${id(role)} nologin`);
    await this.#endSessionsOf(role);
    const database = await this.#pool.query('select 1 from pg_database where datname = $1', [names.database]);
    if (database.rowCount === 1) {
      await this.#inDatabase(names.database, async (client) => {
        await client.query(`reassign owned by ${id(role)} to ${id(names.owner)}`);
        await client.query(`drop owned by ${id(role)}`);
      });
    }
    await ignoreCode('42704', () => this.#pool.query(`drop role ${id(role)}`)); // undefined_object
  }

  /** Drops the database, every login role of the instance and its owner role. */
  async dropInstance(names: InstanceNames): Promise<void> {
    await this.#pool.query(`drop database if exists ${id(names.database)} with (force)`);
    for (const role of await this.bindingRoles(names)) {
      await this.#pool.query(`alter role ${id(role)} nologin`);
      await this.#endSessionsOf(role);
      await ignoreCode('42704', () => this.#pool.query(`drop role ${id(role)}`));
    }
    if (await this.roleExists(names.owner)) {
      await this.#endSessionsOf(names.owner);
      await ignoreCode('42704', () => this.#pool.query(`drop role ${id(names.owner)}`));
    }
  }

  // Waits (up to 5 s each) for the sessions to end, so none outlives the role or its database.
  async #endSessionsOf(role: string): Promise<void> {
    await this.#pool.query(
      'select pg_terminate_backend(pid, 5000) from pg_stat_activity where usename = $1 and pid <> pg_backend_pid()',
      [role],
    );
  }
}

async function ignoreCode(code: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if ((error as { code?: string }).code !== code) throw error;
  }
}

import { createServer } from 'node:net';
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createScratchDatabase, serverUrl } from '../testing.js';
import { openDatabase } from './database.js';
import { isDatabaseUnavailable } from './unavailable.js';

/** The error a statement fails with. */
async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('the statement succeeded');
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('isDatabaseUnavailable', () => {
  it('is true for a PostgreSQL server that refuses connections', async () => {
    const database = await openDatabase({
      kind: 'postgres',
      url: `postgres://annex@127.0.0.1:${await closedPort()}/annex`,
    });
    try {
      expect(isDatabaseUnavailable(await failure(() => sql`select 1`.execute(database.db)))).toBe(true);
    } finally {
      await database.close();
    }
  });

  it('is true for PGlite closed under the service, or a database the service closed', async () => {
    const database = await openDatabase({ kind: 'pglite-memory' });
    await database.client?.close();
    expect(isDatabaseUnavailable(await failure(() => sql`select 1`.execute(database.db)))).toBe(true);
    const closed = await openDatabase({ kind: 'pglite-memory' });
    await closed.ping();
    await closed.close();
    expect(isDatabaseUnavailable(await failure(() => sql`select 1`.execute(closed.db)))).toBe(true);
  });

  it('is false for a statement that fails on a working database, and for anything else', async () => {
    const database = await openDatabase({ kind: 'pglite-memory' });
    try {
      expect(isDatabaseUnavailable(await failure(() => sql`select * from nowhere`.execute(database.db)))).toBe(false);
      expect(isDatabaseUnavailable(await failure(() => sql`select 1/0`.execute(database.db)))).toBe(false);
    } finally {
      await database.close();
    }
    expect(isDatabaseUnavailable(new Error('Connection to the broker terminated'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
    expect(
      isDatabaseUnavailable(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) })),
    ).toBe(true);
  });

  const url = serverUrl('TEST_DATABASE_URL', 'isDatabaseUnavailable on PostgreSQL');
  it.runIf(url)('is true for a connection the server terminates, and for a database that was dropped', async () => {
    const scratch = await createScratchDatabase(url as string);
    const database = await openDatabase({ kind: 'postgres', url: scratch.url, poolSize: 2 });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const sleeping = failure(() => sql`select pg_sleep(30)`.execute(database.db));
      const name = new URL(scratch.url).pathname.slice(1);
      // Wait until the sleep runs, then end its backend as an administrator would.
      for (let ended = 0; ended === 0; ) {
        const result = await admin.query(
          `select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and query like '%pg_sleep%' and pid <> pg_backend_pid()`,
          [name],
        );
        ended = result.rowCount ?? 0;
      }
      expect(isDatabaseUnavailable(await sleeping)).toBe(true);
      await scratch.drop();
      expect(isDatabaseUnavailable(await failure(() => sql`select 1`.execute(database.db)))).toBe(true);
    } finally {
      await admin.end();
      await database.close();
      await scratch.drop();
    }
  });
});

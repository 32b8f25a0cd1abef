import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { type Database, openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { createLogger, type Logger } from './log.js';

/**
 * Test helpers. Suites that need a server ask for it with `serverUrl`; when the variable
 * is unset they are skipped with a message, unless `ANNEX_REQUIRE_SERVERS=1` (CI), where
 * a missing server fails the run instead.
 */

export interface TestDatabaseKind {
  name: 'pglite' | 'postgres';
  /** A fresh, migrated database of this kind; close it to drop it. */
  open(): Promise<Database>;
}

const announced = new Set<string>();

/** The URL of a server-backed suite's server, or undefined (with a notice) when unset. */
export function serverUrl(variable: 'TEST_DATABASE_URL' | 'TEST_REDIS_URL', suite: string): string | undefined {
  const url = process.env[variable];
  if (url) return url;
  if (process.env.ANNEX_REQUIRE_SERVERS === '1') {
    throw new Error(`${suite} needs ${variable}, and ANNEX_REQUIRE_SERVERS=1 forbids skipping it`);
  }
  if (!announced.has(`${variable}:${suite}`)) {
    announced.add(`${variable}:${suite}`);
    console.warn(`[annex] SKIPPED ${suite}: set ${variable} to run it against a real server`);
  }
  return undefined;
}

/**
 * The Chromium a browser suite drives with playwright-core (which never downloads one):
 * `CHROMIUM_PATH` or Debian's; undefined (with a notice) when it is not installed, unless
 * `ANNEX_REQUIRE_SERVERS=1` forbids skipping.
 */
export function chromiumPath(suite: string): string | undefined {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (existsSync(path)) return path;
  if (process.env.ANNEX_REQUIRE_SERVERS === '1') {
    throw new Error(`${suite} needs chromium at ${path}, and ANNEX_REQUIRE_SERVERS=1 forbids skipping it`);
  }
  console.warn(`[annex] SKIPPED ${suite}: install chromium (apt-get install -y chromium) to run it`);
  return undefined;
}

/** A logger whose lines a test reads: `lines` as written, `records` parsed. */
export interface CapturedLogs {
  logger: Logger;
  lines: string[];
  records(): Record<string, unknown>[];
}

/** `createLogger(service, level)`, writing into memory instead of standard output. */
export function captureLogs(service: string, level = 'info'): CapturedLogs {
  const lines: string[] = [];
  const logger = createLogger(service, level, {
    write(chunk: string) {
      lines.push(...chunk.split('\n').filter((line) => line !== ''));
    },
  });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

/** PGlite always; PostgreSQL too when `TEST_DATABASE_URL` is set. */
export function testDatabaseKinds(suite: string): TestDatabaseKind[] {
  const kinds: TestDatabaseKind[] = [{ name: 'pglite', open: openMigratedPGlite }];
  const url = serverUrl('TEST_DATABASE_URL', `${suite} on PostgreSQL`);
  if (url) kinds.push({ name: 'postgres', open: () => openScratchPostgres(url) });
  return kinds;
}

let template: Promise<Blob> | undefined;

// Creating a PGlite cluster costs seconds; loading a dump of a migrated one costs a fraction.
async function openMigratedPGlite(): Promise<Database> {
  template ??= (async () => {
    const database = await openDatabase({ kind: 'pglite-memory' });
    await migrateToLatest(database.db);
    const dump = await (database.client as PGlite).dumpDataDir('none');
    await database.close();
    return dump;
  })();
  return openDatabase({ kind: 'pglite-memory', loadDataDir: await template });
}

/** Creates an empty database on the test server, for one test file or case. */
export async function createScratchDatabase(serverUrlString: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `annex_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrlString });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrlString);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrlString });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

async function openScratchPostgres(serverUrlString: string, poolSize = 10): Promise<Database> {
  const scratch = await createScratchDatabase(serverUrlString);
  const database = await openDatabase({ kind: 'postgres', url: scratch.url, poolSize });
  await migrateToLatest(database.db);
  return {
    ...database,
    async close() {
      await database.close();
      await scratch.drop();
    },
  };
}

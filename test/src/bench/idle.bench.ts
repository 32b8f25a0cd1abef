import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBroker, loadBrokerConfig } from '@annex/broker';
import { createApiToken, createLogger, type Database, migrateToLatest, openDatabase, SecretBox } from '@annex/platform';
import { createScratchDatabase } from '@annex/platform/testing';
import type { Section } from './catalog.bench.js';

const TARGET = 1;

/**
 * Statements per second of an idle broker replica (its job runner started, one event
 * long poll open and waiting), counted by the database handle over `seconds` after a
 * warm-up, on each database. Target: under one a second.
 */
export async function benchIdleReplica(
  kinds: readonly ('pglite' | 'postgres')[],
  serverUrl: string | undefined,
  seconds: number,
): Promise<Section> {
  const rows: string[] = [];
  let ok = true;
  for (const kind of kinds) {
    let database: Database;
    let databaseUrl: string | undefined;
    let drop = async () => {};
    if (kind === 'postgres') {
      if (!serverUrl) throw new Error('the postgres row needs TEST_DATABASE_URL');
      const scratch = await createScratchDatabase(serverUrl);
      drop = scratch.drop;
      databaseUrl = scratch.url;
      database = await openDatabase({ kind: 'postgres', url: scratch.url });
    } else {
      database = await openDatabase({ kind: 'pglite-memory' });
    }
    const server = createServer();
    const poll = new AbortController();
    let broker: ReturnType<typeof createBroker> | undefined;
    try {
      await migrateToLatest(database.db);
      const org = await database.db
        .insertInto('organizations')
        .values({ slug: 'idle', name: 'Idle' })
        .returning('id')
        .executeTakeFirstOrThrow();
      await database.db.insertInto('apps').values({ name: 'idle-app', organization_id: org.id }).execute();
      const token = await createApiToken(database.db, { kind: 'org', name: 'idle', organizationId: org.id });
      const secretSpec = SecretBox.generateSpec();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const config = loadBrokerConfig({
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
        ANNEX_ENCRYPTION_KEYS: secretSpec,
        BROKER_PUBLIC_URL: url,
        LOG_LEVEL: 'silent',
        NODE_ENV: 'production',
      });
      broker = createBroker(config, {
        database,
        logger: createLogger('broker', 'silent'),
        secretBox: SecretBox.fromSpec(secretSpec),
      });
      server.on('request', broker.app);
      await broker.start();
      const waiting = fetch(`${url}/v1/apps/idle-app/events?waitMs=25000`, {
        headers: { authorization: `Bearer ${token.token}` },
        signal: poll.signal,
      }).catch(() => undefined);
      // Warm-up: the passes a starting replica makes, the poll's first read.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const before = database.statementCount();
      const started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, seconds * 1_000));
      const statements = database.statementCount() - before;
      const perSecond = statements / ((performance.now() - started) / 1_000);
      poll.abort();
      await waiting;
      const meets = perSecond < TARGET;
      if (!meets) ok = false;
      rows.push(
        `| ${kind} | ${seconds} | ${statements} | ${perSecond.toFixed(2)} | ${meets ? 'meets' : 'misses'} < ${TARGET}/s |`,
      );
    } finally {
      poll.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await broker?.close();
      await database.close();
      await drop();
    }
  }
  return {
    title: 'Broker: statements of an idle replica',
    ok,
    markdown: [
      `A broker replica with its job runner started (default settings) and one \`/v1/apps/:app/events\` long poll`,
      `open and waiting, nothing else happening: statements it sends in ${seconds} s after a 3 s warm-up, counted`,
      'by its database handle. Background work and live events wake it by notification (docs/jobs.md); what it',
      'still sends are its fallback checks and recurring jobs (dunning every minute), so the window is a whole',
      'minute: a shorter one reads high or low depending on whether it holds a dunning run.',
      `Target: under ${TARGET} a second.`,
      '',
      '| database | seconds | statements | statements/s | target |',
      '|---|---:|---:|---:|---|',
      ...rows,
    ].join('\n'),
  };
}

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBroker, loadBrokerConfig } from '@annex/broker';
import { seedCatalog } from '@annex/broker/testing';
import { createApiToken, createLogger, type Database, migrateToLatest, openDatabase, SecretBox } from '@annex/platform';
import { createScratchDatabase } from '@annex/platform/testing';
import pg from 'pg';

// A broker for the apps benchmarks: BENCH_DB=pglite|postgres, PROVIDER_URL, BENCH_APPS=N apps
// (bench-app-0 … bench-app-N) in one organization. `GET /bench/counters` answers the statements
// and transactions sent to the database so far: a transaction is an explicit commit or a
// statement sent outside one (which PostgreSQL commits on its own).
const counters = { statements: 0, transactions: 0 };
function counted(sql: string, inTransaction: boolean): boolean {
  const head = sql.trimStart().slice(0, 8).toLowerCase();
  counters.statements += 1;
  if (head.startsWith('begin')) return true;
  if (head.startsWith('commit')) {
    counters.transactions += 1;
    return false;
  }
  if (head.startsWith('rollback')) return false;
  if (!inTransaction) counters.transactions += 1;
  return inTransaction;
}
const kind = process.env.BENCH_DB ?? 'pglite';
const appCount = Number(process.env.BENCH_APPS ?? 500);
let database: Database;
let drop = async () => {};
let databaseUrl: string | undefined;
if (kind === 'postgres') {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('BENCH_DB=postgres needs TEST_DATABASE_URL');
  const scratch = await createScratchDatabase(serverUrl);
  drop = scratch.drop;
  databaseUrl = scratch.url;
  database = await openDatabase({ kind: 'postgres', url: scratch.url, poolSize: 20 });
} else {
  database = await openDatabase({ kind: 'pglite-memory' });
}
const countFrom = () => {
  if (kind === 'postgres') {
    // Each pooled connection is a session of its own.
    const sessions = new WeakMap<object, boolean>();
    const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
    pg.Client.prototype.query = function (this: object, ...args: unknown[]) {
      const config = args[0] as string | { text?: string };
      const text = typeof config === 'string' ? config : (config?.text ?? '');
      sessions.set(this, counted(text, sessions.get(this) ?? false));
      return query.apply(this, args);
    } as typeof pg.Client.prototype.query;
  } else {
    // The embedded database's dialect speaks PGlite's wire protocol: a statement runs as a Bind
    // of a statement prepared earlier (its text learnt from that Parse) or a Parse of an
    // unnamed one, which is what is counted.
    const client = database.client as NonNullable<Database['client']>;
    const texts = new Map<string, string>();
    let inTransaction = false;
    const messages = (bytes: Uint8Array, each: (type: string, fields: string[]) => void) => {
      const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let at = 0; at < buffer.length; at += 1 + buffer.readInt32BE(at + 1)) {
        const type = String.fromCharCode(buffer[at] as number);
        if (type !== 'P' && type !== 'B') continue;
        // Parse: name, text; Bind: portal, statement (each a NUL-ended string).
        const first = buffer.indexOf(0, at + 5);
        const second = buffer.indexOf(0, first + 1);
        each(type, [buffer.toString('utf8', at + 5, first), buffer.toString('utf8', first + 1, second)]);
      }
    };
    const stream = client.execProtocolStream.bind(client);
    client.execProtocolStream = (bytes, options) => {
      messages(bytes, (type, [name, text]) => {
        if (type === 'P' && name) texts.set(name, text as string);
      });
      return stream(bytes, options);
    };
    const raw = client.execProtocolRawStream.bind(client);
    client.execProtocolRawStream = (bytes, options) => {
      messages(bytes, (type, [first, second]) => {
        const text = type === 'P' && first === '' ? second : type === 'B' && second ? texts.get(second) : undefined;
        if (text !== undefined) inTransaction = counted(text, inTransaction);
      });
      return raw(bytes, options);
    };
  }
};
await migrateToLatest(database.db);
const secretSpec = SecretBox.generateSpec();
const secretBox = SecretBox.fromSpec(secretSpec);
const fixture = await seedCatalog(database.db, secretBox, {
  providerUrl: process.env.PROVIDER_URL as string,
  auth: { kind: 'basic', username: 'bench', password: 'bench-secret' },
  plans: [{ slug: 'fast', free: true }],
});
const org = await database.db
  .selectFrom('platform_organizations')
  .select('organization_id')
  .where('platform_id', '=', fixture.platformId)
  .executeTakeFirstOrThrow();
const token = await createApiToken(database.db, { kind: 'org', name: 'bench', organizationId: org.organization_id });
const plan = fixture.plans.fast as { osbId: string };
const service = await database.db
  .selectFrom('services')
  .select('slug')
  .where('id', '=', fixture.serviceId)
  .executeTakeFirstOrThrow();
await database.db
  .insertInto('apps')
  .values(
    Array.from({ length: appCount + 1 }, (_, i) => ({ name: `bench-app-${i}`, organization_id: org.organization_id })),
  )
  .execute();

const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const brokerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const config = loadBrokerConfig({
  ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  ANNEX_ENCRYPTION_KEYS: secretSpec,
  BROKER_PUBLIC_URL: brokerUrl,
  LOG_LEVEL: 'silent',
  NODE_ENV: 'production',
  // Its providers listen on loopback, which production closes to provider URLs by default.
  ANNEX_ALLOW_PRIVATE_NETWORKS: 'true',
});
const broker = createBroker(config, { database, logger: createLogger('broker', 'silent'), secretBox });
server.on('request', (req, res) => {
  if (req.url === '/bench/counters') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counters));
    return;
  }
  broker.app(req, res);
});
await broker.start();
countFrom();
console.log(
  `FIXTURE ${JSON.stringify({
    token: token.token,
    plan: `${service.slug}:fast`,
    apps: appCount,
    serviceOsbId: fixture.serviceOsbId,
    planOsbId: plan.osbId,
    platformAuth: `Basic ${Buffer.from(`${fixture.osbUsername}:${fixture.osbPassword}`).toString('base64')}`,
  })}`,
);
console.log(`LISTENING ${brokerUrl}`);
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void broker
    .close()
    .then(() => database.close())
    .then(drop)
    .finally(() => process.exit(0));
});

import http, { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';

// The smallest durable relay, for the broker benchmark: what any broker that records a
// provision durably before answering must do at least, with nothing else. For each PUT it
// calls PROVIDER_URL over a keep-alive connection, commits one single-row insert (the
// baseline's transaction) on DATABASE_URL through one raw client, then answers with the
// provider's status and body. No authentication, validation, routing or bookkeeping: the
// gap between it and the broker is the broker's own cost; its own gap over calling the
// provider directly is this machine's floor (one more loopback hop, one durable commit).
const provider = new URL(process.env.PROVIDER_URL as string);
const providerAuth = process.env.PROVIDER_AUTH as string;
const client = new pg.Client({ connectionString: process.env.DATABASE_URL as string });
await client.connect();
await client.query(
  'create table if not exists bench_relay (id text primary key, at timestamptz not null default now())',
);
const agent = new http.Agent({ keepAlive: true });

function callProvider(path: string, body: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: provider.hostname,
        port: provider.port,
        path,
        method: 'PUT',
        agent,
        headers: {
          authorization: providerAuth,
          'x-broker-api-version': '2.17',
          'content-type': 'application/json',
          'content-length': body.length,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const path = req.url ?? '/';
    callProvider(path, Buffer.concat(chunks))
      .then(async (answer) => {
        if (answer.status === 201) {
          await client.query({ name: 'record', text: 'insert into bench_relay (id) values ($1)', values: [path] });
        }
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
      })
      .catch((error: Error) => res.writeHead(502).end(error.message));
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`LISTENING http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  agent.destroy();
  void client.end().finally(() => process.exit(0));
});

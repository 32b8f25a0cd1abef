import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { createScratchDatabase } from '@annex/platform/testing';
import autocannon from 'autocannon';
import pg from 'pg';
import type { Section } from './catalog.bench.js';
import { type ChildServer, startChildServer } from './child.js';
import { interleavedLatency } from './load.js';

const PROVIDER_AUTH = `Basic ${Buffer.from('bench:bench-secret').toString('base64')}`;
const LATENCY_SAMPLES = 600;

/** One PUT over `agent`; its status once the whole answer is read. */
function putOnce(agent: http.Agent, url: string, headers: Record<string, string>, body: string): Promise<number> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'PUT',
        agent,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** Single-row insert transactions per second on the same PostgreSQL, 16 clients. */
async function transactionRate(url: string, seconds: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: 16 });
  await pool.query('create table bench_tx (id uuid primary key, at timestamptz not null default now())');
  let count = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      const client = await pool.connect();
      try {
        while (Date.now() < until) {
          await client.query('begin');
          await client.query('insert into bench_tx (id) values ($1)', [randomUUID()]);
          await client.query('commit');
          count++;
        }
      } finally {
        client.release();
      }
    }),
  );
  await pool.end();
  return count / seconds;
}

/**
 * Sync provisions per second through the broker to a provider that answers at once,
 * beside single-row transactions per second on the same PostgreSQL; and the broker's
 * added latency over calling the provider directly.
 */
export async function benchBrokerProvisioning(serverUrl: string | undefined, seconds: number): Promise<Section> {
  const title = 'Broker: synchronous provisions';
  if (!serverUrl) {
    return { title, ok: true, markdown: 'Not measured in this run: it needs PostgreSQL (TEST_DATABASE_URL).' };
  }
  const scratch = await createScratchDatabase(serverUrl);
  const started: ChildServer[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const start = async (script: string, env: Record<string, string> = {}) => {
      const child = await startChildServer(script, env);
      started.push(child);
      return child;
    };
    const provider = await start('./servers/osb-provider.ts');
    const broker = await start('./servers/broker.ts', { DATABASE_URL: scratch.url, PROVIDER_URL: provider.url });
    const relay = await start('./servers/relay.ts', {
      DATABASE_URL: scratch.url,
      PROVIDER_URL: provider.url,
      PROVIDER_AUTH,
    });
    const txRate = await transactionRate(scratch.url, seconds);
    const fixture = broker.fixture as { serviceId: string; planId: string; platformAuth: string };
    const body = JSON.stringify({
      service_id: fixture.serviceId,
      plan_id: fixture.planId,
      organization_guid: 'bench-org',
      space_guid: 'bench-space',
    });
    const headers = {
      authorization: fixture.platformAuth,
      'x-broker-api-version': '2.17',
      'content-type': 'application/json',
    };
    const load = (duration: number) =>
      autocannon({
        url: `${broker.url}/v2/service_instances/[<id>]`,
        method: 'PUT',
        idReplacement: true,
        headers,
        body,
        connections: 16,
        duration,
      });
    await load(2);
    const result = await load(seconds);
    const non2xx = result.non2xx + result.errors + result.timeouts;
    const ratio = result.requests.average / txRate;

    // One request at a time to each in turn, over node:http keep-alive connections (a
    // lighter client than fetch, so less of its own noise in the differences).
    const put = (base: string, authorization: string) => async () => {
      const status = await putOnce(
        agent,
        `${base}/v2/service_instances/${randomUUID()}`,
        { ...headers, authorization },
        body,
      );
      if (status !== 201) throw new Error(`${base} answered ${status}`);
    };
    const latency = await interleavedLatency(
      {
        direct: put(provider.url, PROVIDER_AUTH),
        broker: put(broker.url, fixture.platformAuth),
        relay: put(relay.url, fixture.platformAuth),
      },
      LATENCY_SAMPLES,
    );
    const { direct, broker: viaBroker, relay: viaRelay } = latency;
    const addedP50 = viaBroker.p50 - direct.p50;
    const addedP99 = viaBroker.p99 - direct.p99;
    const throughputOk = ratio >= 0.3 && non2xx === 0;
    const latencyOk = addedP50 <= 2;
    const overRelayP50 = viaBroker.p50 - viaRelay.p50;
    const overRelayOk = overRelayP50 <= 0.5;
    return {
      title,
      ok: throughputOk && latencyOk && overRelayOk,
      markdown: [
        'PUT /v2/service_instances/:id (sync) through the broker to a provider that answers 201 at once, on',
        `PostgreSQL; ${seconds} s after a 2 s warm-up, 16 keep-alive connections; broker and provider each in`,
        'their own process. Baseline: single-row insert transactions per second from 16 clients on the same',
        'PostgreSQL in the same run. Targets: at least 0.3x that rate; broker-added p50 at most 2 ms, and at most',
        '0.5 ms over the smallest durable relay below.',
        '',
        '| measure | value | target |',
        '|---|---:|---|',
        `| single-row transactions/s (baseline) | ${Math.round(txRate).toLocaleString('en')} | |`,
        `| sync provisions/s through the broker | ${Math.round(result.requests.average).toLocaleString('en')} (${non2xx} failed) | |`,
        `| ratio | ${ratio.toFixed(3)}x | ${throughputOk ? 'meets' : 'MISSES'} ≥ 0.3x |`,
        `| provider called directly, p50 / p99 ms | ${direct.p50.toFixed(2)} / ${direct.p99.toFixed(2)} | |`,
        `| through the broker, p50 / p99 ms | ${viaBroker.p50.toFixed(2)} / ${viaBroker.p99.toFixed(2)} | |`,
        `| added by the broker, p50 / p99 ms | ${addedP50.toFixed(2)} / ${addedP99.toFixed(2)} | ${latencyOk ? 'meets' : 'MISSES'} p50 ≤ 2 ms |`,
        `| through the smallest durable relay, p50 / p99 ms | ${viaRelay.p50.toFixed(2)} / ${viaRelay.p99.toFixed(2)} | |`,
        `| added by that relay (this machine's floor), p50 / p99 ms | ${(viaRelay.p50 - direct.p50).toFixed(2)} / ${(viaRelay.p99 - direct.p99).toFixed(2)} | for reference |`,
        `| added by the broker over the relay, p50 ms | ${overRelayP50.toFixed(2)} | ${overRelayOk ? 'meets' : 'MISSES'} ≤ 0.5 ms |`,
        '',
        `Latency: ${LATENCY_SAMPLES} sequential PUTs to each of the provider, the broker and the relay, taking turns`,
        '(after 50 each to warm up), over node:http keep-alive connections. The relay is the least any broker',
        'that records a provision durably before it answers must do: it calls the provider, commits one',
        "single-row insert (the baseline's transaction) through a raw `pg` client and answers, with no",
        'authentication, validation or bookkeeping (`test/src/bench/servers/relay.ts`). What it adds over',
        'calling the provider directly (one more loopback hop and one durable commit) is the floor on this',
        'machine; what the broker adds over the relay is its own cost.',
      ].join('\n'),
    };
  } finally {
    agent.destroy();
    for (const child of started.reverse()) await child.stop();
    await scratch.drop();
  }
}

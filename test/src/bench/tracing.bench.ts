import { Agent, createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { childSpan, injectTraceHeaders, NO_TRACING, nameServerSpan, traceRequests } from '@annex/tracing';
import type { Section } from './catalog.bench.js';
import { interleavedLatency } from './load.js';

// What tracing costs a request when it is off (no OTEL_* endpoint): the same handler served
// bare and behind `traceRequests`, doing what a catalog or broker request does with the
// tracing hooks (the route naming, ten statements' checks, one call out's headers), taken
// in turns so both see the same machine. Beside it, the nanoseconds each off-path hook takes.

const STATEMENTS = 10;
const CALLER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
/** Off counts as free when its p50 is within this of the bare server's (or 20 µs). */
const TOLERANCE = 0.05;

async function work(hooks: boolean, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (hooks) nameServerSpan(req, res, () => '/bench');
  for (let i = 0; i < STATEMENTS; i++) {
    // A statement's round trip, and (traced) the check its log hook makes.
    await Promise.resolve();
    if (hooks) childSpan('SELECT');
  }
  const headers = hooks ? injectTraceHeaders({ accept: 'application/json' }) : { accept: 'application/json' };
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(headers));
}

async function listen(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Nanoseconds per call of `fn`, over `times` calls after a warm-up. */
function nsPerCall(fn: () => unknown, times = 1_000_000): number {
  for (let i = 0; i < 10_000; i++) fn();
  const started = process.hrtime.bigint();
  for (let i = 0; i < times; i++) fn();
  return Number(process.hrtime.bigint() - started) / times;
}

export async function benchTracingOff(count: number): Promise<Section> {
  const bare = await listen((req, res) => void work(false, req, res));
  const off = await listen(traceRequests(NO_TRACING, (req, res) => void work(true, req, res)));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send = (server: Server, headers: Record<string, string>) => () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/bench', agent, headers },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end();
    });
  let latency: Awaited<ReturnType<typeof interleavedLatency<'bare' | 'off' | 'offWithCaller'>>>;
  try {
    latency = await interleavedLatency(
      { bare: send(bare, {}), off: send(off, {}), offWithCaller: send(off, { traceparent: CALLER }) },
      count,
      200,
    );
  } finally {
    agent.destroy();
    bare.close();
    off.close();
  }

  const fakeReq = { headers: {}, method: 'GET' } as IncomingMessage;
  const fakeRes = {} as ServerResponse;
  const wrapped = traceRequests(NO_TRACING, () => {});
  const hooks = {
    'request wrapper (no traceparent)': nsPerCall(() => wrapped(fakeReq, fakeRes)),
    'statement check': nsPerCall(() => childSpan('SELECT')),
    'call-out headers': nsPerCall(() => injectTraceHeaders({ accept: 'application/json' })),
  };
  const perRequest =
    hooks['request wrapper (no traceparent)'] + STATEMENTS * hooks['statement check'] + hooks['call-out headers'];
  const within = (p50: number) => p50 <= latency.bare.p50 * (1 + TOLERANCE) || p50 - latency.bare.p50 <= 0.02;
  const ok = within(latency.off.p50) && within(latency.offWithCaller.p50);
  const ms = (value: number) => value.toFixed(3);
  const row = (name: string, p: { p50: number; p90: number; p99: number }) =>
    `| ${name} | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p99)} | ${(p.p50 / latency.bare.p50).toFixed(2)}x |`;
  return {
    title: 'Tracing off',
    ok,
    markdown: [
      `${count} sequential requests to each server in turns (keep-alive, one connection): the same handler`,
      `(${STATEMENTS} awaited statements, one JSON answer) bare, and behind \`traceRequests\` with tracing off`,
      `doing every off-path hook a request meets. Target: off within ${TOLERANCE * 100}% (or 20 µs) of bare at p50: ${ok ? 'met' : '**not met**'}.`,
      '',
      '| server | p50 ms | p90 ms | p99 ms | p50 vs bare |',
      '|---|---|---|---|---|',
      row('bare handler', latency.bare),
      row('tracing off', latency.off),
      row('tracing off, caller sent traceparent (passed on)', latency.offWithCaller),
      '',
      '| off-path hook | ns per call |',
      '|---|---|',
      ...Object.entries(hooks).map(([name, ns]) => `| ${name} | ${ns.toFixed(0)} |`),
      `| one request (wrapper, ${STATEMENTS} statements, one call out) | ${perRequest.toFixed(0)} |`,
    ].join('\n'),
  };
}

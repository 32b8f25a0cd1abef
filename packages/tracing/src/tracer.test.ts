import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracingConfig } from './config.js';
import { parseTraceparent } from './context.js';
import { traceRequests } from './http.js';
import { type OtlpReceiver, startOtlpReceiver } from './testing.js';
import { childSpan, currentContext, injectTraceHeaders, NO_TRACING, Tracer } from './tracer.js';

const CALLER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** Serves `listener` once on 127.0.0.1 and answers what a GET with `headers` got back. */
async function serveOnce(
  listener: Parameters<typeof createServer>[1],
  headers: Record<string, string>,
): Promise<string> {
  const server = createServer(listener as never);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await new Promise<string>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/things?x=1', headers },
        (res) => {
          let text = '';
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.close();
  }
}

/** What a handler passes on: the headers a call out from it would carry. */
const echoPropagation = (_req: unknown, res: { end(text: string): void }) => {
  res.end(JSON.stringify(injectTraceHeaders({})));
};

describe('with tracing off', () => {
  it('passes a valid traceparent (and tracestate) on as it came, and a malformed one not at all', async () => {
    const listener = traceRequests(NO_TRACING, echoPropagation as never);
    expect(JSON.parse(await serveOnce(listener, { traceparent: CALLER, tracestate: 'rojo=1' }))).toEqual({
      traceparent: CALLER,
      tracestate: 'rojo=1',
    });
    expect(JSON.parse(await serveOnce(listener, { traceparent: 'nonsense' }))).toEqual({});
    expect(JSON.parse(await serveOnce(listener, {}))).toEqual({});
  });

  it('makes spans that record nothing and loads no exporter', async () => {
    const span = NO_TRACING.startSpan('work');
    expect(span.recording).toBe(false);
    span.setAttribute('a', 1).end();
    expect(span.attributes).toEqual({});
    await NO_TRACING.flush();
  });
});

describe('with tracing on, exported as OTLP/HTTP JSON', () => {
  let receiver: OtlpReceiver;
  let tracer: Tracer;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    tracer = new Tracer(
      tracingConfig(
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_BSP_SCHEDULE_DELAY: '20',
          OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
        },
        { serviceName: 'tracer-test' },
      ),
    );
  });
  afterAll(async () => {
    await tracer.shutdown();
    await receiver.close();
  });

  it('continues the caller trace in a server span, passes its own span on, and exports both spans', async () => {
    let passedOn: Record<string, string> = {};
    const listener = traceRequests(tracer, (_req, res) => {
      const child = childSpan('SELECT things', { kind: 'client', attributes: { 'db.system.name': 'postgresql' } });
      child?.end();
      passedOn = injectTraceHeaders({});
      res.statusCode = 503;
      res.end('{}');
    });
    await serveOnce(listener, { traceparent: CALLER, tracestate: 'rojo=1' });
    await tracer.flush();
    const spans = await receiver.waitFor((s) => s.length >= 2);
    const server = spans.find((s) => s.kind === 2);
    const select = spans.find((s) => s.name === 'SELECT things');
    expect(server).toMatchObject({
      service: 'tracer-test',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentSpanId: '00f067aa0ba902b7',
      name: 'GET',
      attributes: { 'http.request.method': 'GET', 'url.path': '/things', 'http.response.status_code': 503 },
      status: { code: 2 },
    });
    expect(select).toMatchObject({ kind: 3, parentSpanId: server?.spanId, traceId: server?.traceId });
    // What a call out carries is this service's span, in the same trace, with the caller's tracestate.
    expect(parseTraceparent(passedOn.traceparent)).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: server?.spanId,
      sampled: true,
    });
    expect(passedOn.tracestate).toBe('rojo=1');
    const exported = receiver.requests.at(-1);
    expect(exported?.path).toBe('/v1/traces');
    expect(exported?.contentType).toBe('application/json');
    const resource = (exported?.body as { resourceSpans: { resource: { attributes: unknown[] } }[] }).resourceSpans[0]
      ?.resource.attributes;
    expect(resource).toContainEqual({ key: 'deployment.environment.name', value: { stringValue: 'test' } });
    expect(BigInt(server?.endTimeUnixNano ?? 0)).toBeGreaterThanOrEqual(BigInt(server?.startTimeUnixNano ?? 0));
    expect(BigInt(server?.startTimeUnixNano ?? 0)).toBeGreaterThan(BigInt(Date.now() - 60_000) * 1_000_000n);
  });

  it('records a failure in inSpan and passes it on; a caller that does not sample is followed', async () => {
    const failing = tracer.inSpan('job failing', { kind: 'consumer', parent: null }, async () => {
      expect(currentContext()?.sampled).toBe(true);
      throw new Error('no luck');
    });
    await expect(failing).rejects.toThrow('no luck');
    const unsampled = tracer.startSpan('ignored', { parent: parseTraceparent(CALLER.replace(/01$/, '00')) });
    expect(unsampled.recording).toBe(false);
    unsampled.end();
    await tracer.flush();
    const spans = await receiver.waitFor((s) => s.some((span) => span.name === 'job failing'));
    expect(spans.find((s) => s.name === 'job failing')).toMatchObject({
      kind: 5,
      status: { code: 2, message: 'no luck' },
    });
    expect(spans.some((s) => s.name === 'ignored')).toBe(false);
  });

  it('keeps nothing from an unreachable collector, without failing the work', async () => {
    const lost = new Tracer(
      tracingConfig(
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_BSP_SCHEDULE_DELAY: '10' },
        { serviceName: 'x' },
      ),
    );
    await lost.inSpan('work', {}, async () => 'done');
    await expect(lost.flush()).resolves.toBeUndefined();
  });
});

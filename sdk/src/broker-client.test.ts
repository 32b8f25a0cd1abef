import type { AddressInfo } from 'node:net';
import { type FinishedSpan, parseTraceparent } from '@annex/tracing';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerCallbackError, createBrokerClient, Tracer, tracingConfig } from './index.js';

interface Received {
  method: string;
  path: string;
  authorization: string | undefined;
  traceparent: string | undefined;
  body: any;
}

describe('broker callback client', () => {
  const received: Received[] = [];
  const billed = new Map<string, number>();
  let failNextUsage = 0;
  let url: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const app = express();
    app.use(express.json());
    app.use((req, res, next) => {
      received.push({
        method: req.method,
        path: req.originalUrl,
        authorization: req.headers.authorization,
        traceparent: req.header('traceparent'),
        body: req.body,
      });
      if (req.headers.authorization !== 'Bearer annex_provider_test')
        return void res.status(401).json({ description: 'bad token' });
      next();
    });
    app.post('/v1/provider/usage', (req, res) => {
      if (failNextUsage > 0) {
        failNextUsage--;
        return void res.status(503).json({ description: 'try again' });
      }
      // Idempotent by key, like the broker: a re-sent record is not billed twice.
      for (const record of req.body.records)
        if (!billed.has(record.idempotencyKey)) billed.set(record.idempotencyKey, record.quantity);
      res.json({ accepted: req.body.records.length });
    });
    app.post('/v1/provider/instances/:id/config', (req, res) => {
      if (req.params.id === 'unknown') return void res.status(404).json({ description: 'no such instance' });
      res.json({ ok: true });
    });
    app.post('/v1/provider/operations/:op/complete', (_req, res) => void res.json({ ok: true }));
    app.get(
      '/v1/provider/instances/:id/allowance',
      (req, res) => void res.json(req.query.unit === 'capped' ? { allowed: false, remaining: 0 } : { allowed: true }),
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise<void>((r) => server.close(() => r()));
  });
  afterAll(() => close());

  it('batches usage, retries a failed batch with the same idempotency keys, and bills each record once', async () => {
    const client = createBrokerClient({ brokerUrl: url, token: 'annex_provider_test', batchSize: 3, backoffMs: 10 });
    received.length = 0;
    failNextUsage = 1;
    for (let i = 0; i < 7; i++)
      client.reportUsage({ instanceId: 'i-1', unit: '1k_tokens', quantity: i, idempotencyKey: `req-${i}` });
    await client.flush();
    const usage = received.filter((r) => r.path === '/v1/provider/usage');
    expect(usage.map((r) => r.body.records.length)).toEqual([3, 3, 3, 1]); // first batch re-sent after the 503
    expect(usage[0]?.body.records.map((r: { idempotencyKey: string }) => r.idempotencyKey)).toEqual(
      usage[1]?.body.records.map((r: { idempotencyKey: string }) => r.idempotencyKey),
    );
    expect(usage[0]?.body.records[0]).toMatchObject({ instanceId: 'i-1', unit: '1k_tokens', quantity: 0 });
    expect(Number.isNaN(Date.parse(usage[0]?.body.records[0].at))).toBe(false);
    expect([...billed.values()].reduce((a, b) => a + b, 0)).toBe(0 + 1 + 2 + 3 + 4 + 5 + 6);
    await client.close();
  });

  it('pushes config, completes operations, checks allowances', async () => {
    const client = createBrokerClient({ brokerUrl: `${url}/`, token: 'annex_provider_test' });
    received.length = 0;
    await client.pushConfig('i-1', { DATABASE_URL: 'postgres://new' }, 'credential rotation');
    await client.completeOperation('op/1', { state: 'failed', description: 'disk full' });
    expect(await client.checkAllowance('i-1', '1k_tokens')).toEqual({ allowed: true });
    expect(await client.checkAllowance('i-1', 'capped')).toEqual({ allowed: false, remaining: 0 });
    expect(received.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/provider/instances/i-1/config',
      'POST /v1/provider/operations/op%2F1/complete',
      'GET /v1/provider/instances/i-1/allowance?unit=1k_tokens',
      'GET /v1/provider/instances/i-1/allowance?unit=capped',
    ]);
    expect(received[0]?.body).toEqual({ config: { DATABASE_URL: 'postgres://new' }, reason: 'credential rotation' });
    expect(received[1]?.body).toEqual({ state: 'failed', description: 'disk full' });
    expect(received.every((r) => r.authorization === 'Bearer annex_provider_test')).toBe(true);
  });

  it("joins the trace of the provider's span it is made in, and carries none outside one", async () => {
    const exported: FinishedSpan[] = [];
    const tracer = new Tracer(
      tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' }, { serviceName: 'p' }),
      {
        add: (span) => exported.push(span),
        flush: async () => {},
        shutdown: async () => {},
      },
    );
    const client = createBrokerClient({ brokerUrl: url, token: 'annex_provider_test' });
    received.length = 0;
    await client.pushConfig('i-1', { A: '1' }, 'outside');
    const traceId = await tracer.inSpan('PUT /v2/service_instances/:instanceId', { kind: 'server' }, async (span) => {
      await client.pushConfig('i-1', { A: '2' }, 'inside');
      return span.context.traceId;
    });
    expect(received[0]?.traceparent).toBeUndefined();
    const call = exported.find((span) => span.kind === 'client');
    expect(call).toMatchObject({ name: 'POST', attributes: { 'http.response.status_code': 200 } });
    expect(parseTraceparent(received[1]?.traceparent)).toEqual({
      traceId,
      spanId: call?.context.spanId,
      sampled: true,
    });
  });

  it('does not retry a refusal and says why', async () => {
    const client = createBrokerClient({ brokerUrl: url, token: 'annex_provider_test', backoffMs: 10 });
    received.length = 0;
    const error = await client.pushConfig('unknown', { A: 'b' }, 'test').catch((e) => e);
    expect(error).toBeInstanceOf(BrokerCallbackError);
    expect(error.status).toBe(404);
    expect(error.message).toContain('no such instance');
    expect(received).toHaveLength(1);
    const wrong = createBrokerClient({ brokerUrl: url, token: 'annex_provider_wrong' });
    await expect(wrong.checkAllowance('i-1', 'x')).rejects.toThrow(/401 bad token/);
  });
});

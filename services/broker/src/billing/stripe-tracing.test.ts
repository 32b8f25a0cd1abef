import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type FinishedSpan, parseTraceparent, Tracer, tracingConfig } from '@annex/tracing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBilling } from './domain/context.js';

describe('Stripe calls and the trace', () => {
  const seen: { path: string; traceparent: string | undefined }[] = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', traceparent: req.headers.traceparent as string | undefined });
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"cus_test","object":"customer"}');
  });
  beforeAll(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('are client spans of the span they are made in, and carry it; outside one, neither', async () => {
    const billing = createBilling({
      stripeSecretKey: 'sk_test_tracing',
      stripeWebhookSecret: 'whsec_test',
      stripeApi: { host: '127.0.0.1', port: (server.address() as AddressInfo).port, protocol: 'http' },
      graceDays: 7,
      defaultRevenueShare: 0.8,
      jobsMs: 60_000,
    });
    const exported: FinishedSpan[] = [];
    const tracer = new Tracer(
      tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' }, { serviceName: 'b' }),
      {
        add: (span) => exported.push(span),
        flush: async () => {},
        shutdown: async () => {},
      },
    );
    await billing.stripe?.customers.create({ email: 'outside@example.com' });
    await tracer.inSpan('job billing.invoicing', { kind: 'consumer' }, async () => {
      await billing.stripe?.customers.create({ email: 'inside@example.com' });
    });
    expect(seen.map((s) => s.path)).toEqual(['/v1/customers', '/v1/customers']);
    expect(seen[0]?.traceparent).toBeUndefined();
    const job = exported.find((span) => span.name === 'job billing.invoicing');
    const call = exported.find((span) => span.kind === 'client');
    expect(call).toMatchObject({
      name: 'POST',
      parentSpanId: job?.context.spanId,
      attributes: { 'server.address': '127.0.0.1', 'http.response.status_code': 200 },
    });
    expect(call?.attributes['url.full']).toMatch(/\/v1\/customers$/);
    expect(parseTraceparent(seen[1]?.traceparent)?.spanId).toBe(call?.context.spanId);
  });
});

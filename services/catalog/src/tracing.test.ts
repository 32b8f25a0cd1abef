import { testDatabaseKinds } from '@annex/platform/testing';
import { type OtlpReceiver, startOtlpReceiver } from '@annex/tracing/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCatalog, type TestCatalog } from './testing.js';

const [pglite] = testDatabaseKinds('catalog traces');
const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('catalog traces', () => {
  let receiver: OtlpReceiver;
  let catalog: TestCatalog;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    catalog = await startTestCatalog(pglite as NonNullable<typeof pglite>, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '20',
    });
  });
  afterAll(async () => {
    await catalog?.close();
    await receiver?.close();
  });

  it("continue the caller's trace: the request, the GraphQL operation inside it, its statements inside that", async () => {
    const response = await fetch(`${catalog.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        traceparent: `00-${CALLER_TRACE}-00f067aa0ba902b7-01`,
      },
      body: JSON.stringify({ query: 'query listing { categories { id } }', operationName: 'listing' }),
    });
    expect(response.status).toBe(200);
    const spans = await receiver.waitFor((all) =>
      all.some((s) => s.name === 'query listing' && all.some((o) => o.parentSpanId === s.spanId)),
    );
    const request = spans.find((s) => s.kind === 2 && s.traceId === CALLER_TRACE);
    expect(request).toMatchObject({
      service: 'annex-catalog',
      name: 'POST /graphql',
      parentSpanId: '00f067aa0ba902b7',
      attributes: { 'http.route': '/graphql', 'http.response.status_code': 200 },
    });
    const operation = spans.find((s) => s.name === 'query listing');
    expect(operation).toMatchObject({
      traceId: CALLER_TRACE,
      parentSpanId: request?.spanId,
      kind: 1,
      attributes: { 'graphql.operation.type': 'query', 'graphql.operation.name': 'listing' },
    });
    const statements = spans.filter((s) => s.parentSpanId === operation?.spanId);
    expect(statements.length).toBeGreaterThan(0);
    expect(statements.every((s) => s.kind === 3 && s.attributes['db.system.name'] === 'postgresql')).toBe(true);
  });

  it('start a trace of their own for a caller without one, or with a malformed one', async () => {
    const before = receiver.spans.length;
    const response = await fetch(`${catalog.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: '00-not-a-trace-01' },
      body: JSON.stringify({ query: 'query again { categories { id } }' }),
    });
    expect(response.status).toBe(200);
    const spans = await receiver.waitFor((all) => all.slice(before).some((s) => s.name === 'query again'));
    const operation = spans.find((s) => s.name === 'query again');
    const request = spans.find((s) => s.spanId === operation?.parentSpanId);
    expect(request?.parentSpanId).toBeUndefined();
    expect(request?.traceId).not.toBe(CALLER_TRACE);
  });

  it('mark an operation whose result has errors as failed', async () => {
    const answer = await catalog.gql('query mine { apps { name } }');
    expect(answer.errors?.length).toBeGreaterThan(0);
    const spans = await receiver.waitFor((all) => all.some((s) => s.name === 'query mine'));
    expect(spans.find((s) => s.name === 'query mine')?.status).toMatchObject({
      code: 2,
      message: answer.errors?.[0]?.message,
    });
  });
});

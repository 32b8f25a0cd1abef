import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A span as an OTLP/HTTP JSON receiver got it, with the `service.name` of its resource. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
  status: { code?: number; message?: string };
}

export interface OtlpReceiver {
  /** The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  url: string;
  /** Every span received so far. */
  spans: ReceivedSpan[];
  /** The raw request bodies and their content types, in order. */
  requests: { path: string; contentType: string | undefined; body: unknown }[];
  /** Waits until `done(spans)` holds (rejects after `timeoutMs`). */
  waitFor(done: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

type AnyValue = {
  stringValue?: string;
  intValue?: string;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values: AnyValue[] };
};

function plain(value: AnyValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.doubleValue !== undefined) return value.doubleValue;
  return value.arrayValue?.values.map(plain);
}

function attributes(list: { key: string; value: AnyValue }[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, plain(value)]));
}

/**
 * An OTLP/HTTP receiver on 127.0.0.1 (a random port) that keeps what it is sent to
 * `/v1/traces`, for tests. It accepts JSON bodies only and answers 200 `{}`.
 *
 * @example
 * const receiver = await startOtlpReceiver();
 * const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' };
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: OtlpReceiver['requests'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body: { resourceSpans?: Record<string, unknown>[] };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end();
        return;
      }
      requests.push({ path: req.url ?? '', contentType: req.headers['content-type'], body });
      for (const resourceSpans of body.resourceSpans ?? []) {
        const resource = attributes((resourceSpans.resource as { attributes?: [] } | undefined)?.attributes);
        for (const scope of (resourceSpans.scopeSpans as { spans?: Record<string, unknown>[] }[]) ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({
              ...(span as unknown as ReceivedSpan),
              service: String(resource['service.name']),
              attributes: attributes(span.attributes as []),
              links: (span.links as ReceivedSpan['links']) ?? [],
              status: (span.status as ReceivedSpan['status']) ?? {},
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    spans,
    requests,
    async waitFor(done, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (!done(spans)) {
        if (Date.now() > until)
          throw new Error(`the spans expected did not arrive within ${timeoutMs} ms (${spans.length} came)`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return spans;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

import http from 'node:http';
import https from 'node:https';
import type { TracingConfig } from './config.js';
import type { Attributes, AttributeValue, FinishedSpan, SpanKind, SpanSink } from './tracer.js';

// OTLP over HTTP with JSON bodies (https://opentelemetry.io/docs/specs/otlp/#otlphttp): an
// ExportTraceServiceRequest POSTed as application/json. The JSON mapping is protobuf's with
// OTLP's exceptions: trace and span ids are hex strings (not base64), enums are integers,
// field names are lowerCamelCase, and 64-bit integers are decimal strings.

const KINDS: Record<SpanKind, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
const STATUS = { unset: 0, ok: 1, error: 2 } as const;
/** Answers worth another try (the specification's retryable statuses). */
const RETRYABLE = new Set([429, 502, 503, 504]);
const MAX_ATTEMPTS = 3;

type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: AnyValue[] } };

function anyValue(value: AttributeValue): AnyValue {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  return { arrayValue: { values: value.map((item) => ({ stringValue: item })) } };
}

function keyValues(attributes: Readonly<Attributes>): { key: string; value: AnyValue }[] {
  const list: { key: string; value: AnyValue }[] = [];
  for (const [key, value] of Object.entries(attributes))
    if (value !== undefined) list.push({ key, value: anyValue(value) });
  return list;
}

/** Milliseconds since the epoch (with fractions) as OTLP's fixed64 nanoseconds, a decimal string. */
function nanos(ms: number): string {
  const whole = Math.floor(ms);
  const fraction = Math.round((ms - whole) * 1e6);
  return (BigInt(whole) * 1_000_000n + BigInt(fraction)).toString();
}

/** One ExportTraceServiceRequest for spans of one resource. */
export function exportRequest(resource: Readonly<Record<string, string>>, spans: readonly FinishedSpan[]) {
  return {
    resourceSpans: [
      {
        resource: { attributes: keyValues(resource) },
        scopeSpans: [
          {
            scope: { name: '@annex/tracing', version: '0.1.0' },
            spans: spans.map((span) => ({
              traceId: span.context.traceId,
              spanId: span.context.spanId,
              ...(span.context.traceState ? { traceState: span.context.traceState } : {}),
              ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
              // Bits 0-7 the W3C trace flags; bit 8 says whether the parent is known to be remote (not set: unknown).
              flags: span.context.sampled ? 1 : 0,
              name: span.name,
              kind: KINDS[span.kind],
              startTimeUnixNano: nanos(span.startTime),
              endTimeUnixNano: nanos(span.endTime),
              attributes: keyValues(span.attributes),
              events: span.events.map((event) => ({
                timeUnixNano: nanos(event.time),
                name: event.name,
                attributes: keyValues(event.attributes),
              })),
              links: span.links.map((link) => ({
                traceId: link.traceId,
                spanId: link.spanId,
                ...(link.traceState ? { traceState: link.traceState } : {}),
                flags: link.sampled ? 1 : 0,
              })),
              status: {
                code: STATUS[span.status.code],
                ...(span.status.message ? { message: span.status.message } : {}),
              },
            })),
          },
        ],
      },
    ],
  };
}

/**
 * Batches ended spans and POSTs them to the configured OTLP/HTTP endpoint: at most
 * `scheduleDelayMs` after a span ends, or as soon as `maxExportBatchSize` are waiting. A
 * failed export is retried (429, 502, 503, 504 and network errors, up to three tries) and
 * then dropped: tracing never holds back or fails the work it observes.
 */
export class OtlpHttpExporter implements SpanSink {
  readonly #config: TracingConfig;
  readonly #url: URL;
  #queue: FinishedSpan[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #sending = new Set<Promise<void>>();
  /** Spans that could not be delivered. */
  failed = 0;

  constructor(config: TracingConfig) {
    this.#config = config;
    this.#url = new URL(config.endpoint);
  }

  add(span: FinishedSpan): void {
    if (this.#queue.length >= this.#config.maxQueueSize) {
      this.failed += 1;
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= this.#config.maxExportBatchSize) {
      this.#send();
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => this.#send(), this.#config.scheduleDelayMs);
      this.#timer.unref();
    }
  }

  async flush(): Promise<void> {
    while (this.#queue.length > 0) this.#send();
    await Promise.all([...this.#sending]);
  }

  shutdown(): Promise<void> {
    return this.flush();
  }

  #send(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue.splice(0, this.#config.maxExportBatchSize);
    if (batch.length === 0) return;
    const body = JSON.stringify(exportRequest(this.#config.resource, batch));
    const sending = this.#deliver(body).then(
      (delivered) => {
        if (!delivered) this.failed += batch.length;
      },
      () => {
        this.failed += batch.length;
      },
    );
    this.#sending.add(sending);
    void sending.finally(() => this.#sending.delete(sending));
    if (this.#queue.length > 0 && !this.#timer) {
      this.#timer = setTimeout(() => this.#send(), this.#config.scheduleDelayMs);
      this.#timer.unref();
    }
  }

  async #deliver(body: string): Promise<boolean> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const status = await this.#post(body).catch(() => 0);
      if (status >= 200 && status < 300) return true;
      if (status !== 0 && !RETRYABLE.has(status)) return false;
      if (attempt < MAX_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, 100 * 4 ** (attempt - 1)));
    }
    return false;
  }

  /** The answer's status (0: no answer). */
  #post(body: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const request = (this.#url.protocol === 'https:' ? https : http).request(
        this.#url,
        {
          method: 'POST',
          headers: {
            ...this.#config.headers,
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
          },
          timeout: this.#config.timeoutMs,
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.#config.timeoutMs} ms`)));
      request.on('error', reject);
      request.end(body);
    });
  }
}

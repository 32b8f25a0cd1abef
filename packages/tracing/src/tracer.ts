import { AsyncLocalStorage } from 'node:async_hooks';
import { TRACING_OFF, type TracingConfig } from './config.js';
import { formatTraceparent, newSpanId, newTraceId, type SpanContext } from './context.js';

export type AttributeValue = string | number | boolean | readonly string[];
export type Attributes = Record<string, AttributeValue | undefined>;

/** What a span is in its trace (OTLP's `SpanKind`). */
export type SpanKind = 'internal' | 'server' | 'client' | 'producer' | 'consumer';

/** A span's outcome: unset unless the work failed (`error`) or is known to have succeeded (`ok`). */
export interface SpanStatus {
  code: 'unset' | 'ok' | 'error';
  message?: string;
}

/** A span as it is exported once ended. */
export interface FinishedSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly context: SpanContext;
  readonly parentSpanId: string | undefined;
  /** Milliseconds since the epoch, with fractions. */
  readonly startTime: number;
  readonly endTime: number;
  readonly attributes: Readonly<Attributes>;
  readonly events: readonly { name: string; time: number; attributes: Attributes }[];
  readonly links: readonly SpanContext[];
  readonly status: SpanStatus;
}

/** What receives ended spans (the OTLP exporter). */
export interface SpanSink {
  add(span: FinishedSpan): void;
  /** Sends what is held now. */
  flush(): Promise<void>;
  /** Sends what is held and stops. */
  shutdown(): Promise<void>;
}

/** Milliseconds since the epoch, with fractions (what spans' times are in). */
export const now = () => performance.timeOrigin + performance.now();

/**
 * One unit of work in a trace. A span that is not sampled still has ids (they travel in
 * `traceparent`) but records nothing. End it exactly once; later calls are ignored.
 */
export class Span {
  readonly context: SpanContext;
  readonly parentSpanId: string | undefined;
  readonly kind: SpanKind;
  /** Milliseconds since the epoch, with fractions. */
  readonly startTime: number;
  readonly attributes: Attributes = {};
  readonly events: { name: string; time: number; attributes: Attributes }[] = [];
  readonly links: readonly SpanContext[];
  status: SpanStatus = { code: 'unset' };
  #name: string;
  #ended = false;

  constructor(
    /** The tracer that made it: child spans (SQL statements, outbound calls) use it too. */
    readonly tracer: Tracer,
    name: string,
    kind: SpanKind,
    context: SpanContext,
    parentSpanId: string | undefined,
    links: readonly SpanContext[],
    attributes: Attributes | undefined,
    startTime: number = now(),
  ) {
    this.startTime = startTime;
    this.#name = name;
    this.kind = kind;
    this.context = context;
    this.parentSpanId = parentSpanId;
    this.links = links;
    if (attributes) this.setAttributes(attributes);
  }

  get name(): string {
    return this.#name;
  }

  /** Whether this span is exported (its trace is sampled and tracing is on). */
  get recording(): boolean {
    return this.context.sampled && this.tracer.enabled && !this.#ended;
  }

  /** Names the span once what it was is known (a route matched, an operation parsed). */
  updateName(name: string): this {
    this.#name = name;
    return this;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (value !== undefined && this.recording) this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const [key, value] of Object.entries(attributes)) this.setAttribute(key, value);
    return this;
  }

  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }

  /** An `exception` event (OpenTelemetry's semantic conventions) and the status `error`. */
  recordError(error: unknown): this {
    if (!this.recording) return this;
    const err = error instanceof Error ? error : new Error(String(error));
    this.events.push({
      name: 'exception',
      time: now(),
      attributes: { 'exception.type': err.name, 'exception.message': err.message },
    });
    this.status = { code: 'error', message: err.message };
    return this;
  }

  /** Ends the span now, or at `endTime` (milliseconds since the epoch) for work timed elsewhere. */
  end(endTime: number = now()): void {
    if (this.#ended) return;
    const recording = this.recording;
    this.#ended = true;
    if (recording) this.tracer.export(this, endTime);
  }
}

/**
 * What is current in the running async context: the span that work belongs to, or (tracing
 * off) only the caller's trace context, passed on as it came.
 */
interface Scope {
  readonly span: Span | undefined;
  readonly context: SpanContext;
}

const storage = new AsyncLocalStorage<Scope>();

/** The span current in this async context, if any (recording or not). */
export function currentSpan(): Span | undefined {
  return storage.getStore()?.span;
}

/** The trace context current in this async context: the current span's, or a caller's passed on. */
export function currentContext(): SpanContext | undefined {
  return storage.getStore()?.context;
}

/** Runs `fn` with `span` current: spans started inside are its children; outbound calls carry it. */
export function withSpan<T>(span: Span, fn: () => T): T {
  return storage.run({ span, context: span.context }, fn);
}

/** Runs `fn` with a caller's context current but no span of ours (tracing off): it is passed on as it came. */
export function withRemoteContext<T>(context: SpanContext, fn: () => T): T {
  return storage.run({ span: undefined, context }, fn);
}

/**
 * Adds `traceparent` (and `tracestate`) for the current context to `headers`; leaves them
 * as they are when there is none. The one way an outbound call carries the trace.
 *
 * @example
 * await fetch(url, { headers: injectTraceHeaders({ accept: 'application/json' }) });
 */
export function injectTraceHeaders<T extends Record<string, string>>(headers: T): T {
  const context = storage.getStore()?.context;
  if (!context) return headers;
  const out = headers as Record<string, string>;
  out.traceparent = formatTraceparent(context);
  if (context.traceState) out.tracestate = context.traceState;
  return headers;
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /**
   * The parent: by default the current context's span (or caller); `null` starts a new
   * trace; a context given continues it (a job continuing the request that enqueued it).
   */
  parent?: SpanContext | null;
  /** Traces this span is related to without being their child. */
  links?: readonly SpanContext[];
  /** When the work began (milliseconds since the epoch), for work timed elsewhere; default now. */
  startTime?: number;
}

/**
 * Makes spans for one service (its `service.name`) and hands the ended ones to the exporter.
 * Off (`enabled` false), it makes spans that record nothing, so code can use one path;
 * the hot paths check `enabled` (or `Span.recording`) first and make none.
 */
export class Tracer {
  readonly enabled: boolean;
  readonly config: TracingConfig;
  /** Spans not kept because the queue was full. */
  dropped = 0;
  #sink: SpanSink | undefined;
  #loading: Promise<SpanSink> | undefined;
  #held: { span: Span; end: number }[] = [];

  /** @param sink where ended spans go; by default the OTLP exporter, loaded on the first span */
  constructor(config: TracingConfig, sink?: SpanSink) {
    this.config = config;
    this.enabled = config.enabled;
    this.#sink = sink;
  }

  /** The service this tracer's spans are from. */
  get serviceName(): string {
    return this.config.resource['service.name'] ?? 'unknown_service';
  }

  startSpan(name: string, options: SpanOptions = {}): Span {
    const parent = options.parent === undefined ? currentContext() : (options.parent ?? undefined);
    const traceId = parent?.traceId ?? newTraceId();
    const sampled = this.enabled && this.#sample(traceId, parent);
    const context: SpanContext = parent?.traceState
      ? { traceId, spanId: newSpanId(), sampled, traceState: parent.traceState }
      : { traceId, spanId: newSpanId(), sampled };
    return new Span(
      this,
      name,
      options.kind ?? 'internal',
      context,
      parent?.spanId,
      options.links ?? [],
      sampled ? options.attributes : undefined,
      options.startTime,
    );
  }

  /**
   * Runs `fn` in a new span current for its duration, ended when `fn` settles; a throw or
   * rejection is recorded on it and passed on.
   *
   * @example
   * await tracer.inSpan('job billing.invoice', { kind: 'consumer' }, async (span) => runJob(span));
   */
  inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
    const span = this.startSpan(name, options);
    return withSpan(span, async () => {
      try {
        return await fn(span);
      } catch (error) {
        span.recordError(error);
        throw error;
      } finally {
        span.end();
      }
    });
  }

  /** @internal Called by `Span.end`. */
  export(span: Span, end: number): void {
    if (this.#held.length >= this.config.maxQueueSize) {
      this.dropped += 1;
      return;
    }
    this.#held.push({ span, end });
    if (this.#sink) this.#drain(this.#sink);
    else
      this.#load().then(
        (sink) => this.#drain(sink),
        () => {},
      );
  }

  /** Sends the spans ended so far (tests, shutdown). */
  async flush(): Promise<void> {
    if (!this.enabled) return;
    const sink = this.#sink ?? (this.#held.length > 0 ? await this.#load() : undefined);
    if (!sink) return;
    this.#drain(sink);
    await sink.flush();
  }

  /** Sends what is left and stops the exporter. */
  async shutdown(): Promise<void> {
    await this.flush().catch(() => {});
    await this.#sink?.shutdown();
  }

  #drain(sink: SpanSink): void {
    const held = this.#held;
    this.#held = [];
    for (const { span, end } of held) sink.add(finished(span, end));
  }

  #load(): Promise<SpanSink> {
    // The exporter is its own module, imported on the first span: a service with tracing
    // off never loads it (and a bundled service keeps it out of the bundle).
    this.#loading ??= import('@annex/tracing/otlp').then(({ OtlpHttpExporter }) => {
      this.#sink = new OtlpHttpExporter(this.config);
      return this.#sink;
    });
    return this.#loading;
  }

  #sample(traceId: string, parent: SpanContext | undefined): boolean {
    const { root, parentBased, ratio } = this.config.sampler;
    if (parent && parentBased) return parent.sampled;
    if (root === 'always_on') return true;
    if (root === 'always_off') return false;
    // The trace id's last 56 bits are random (W3C Trace Context level 2): the same id gets
    // the same answer in every service with the same ratio.
    return Number.parseInt(traceId.slice(-14), 16) < ratio * 2 ** 56;
  }
}

function finished(span: Span, end: number): FinishedSpan {
  return {
    name: span.name,
    kind: span.kind,
    context: span.context,
    parentSpanId: span.parentSpanId,
    startTime: span.startTime,
    endTime: end,
    attributes: span.attributes,
    events: span.events,
    links: span.links,
    status: span.status,
  };
}

/** A tracer that is off: for services and tests started without tracing. */
export const NO_TRACING = new Tracer(TRACING_OFF);

/**
 * A span for work done inside the current span, by the same tracer (SQL statements, calls
 * out): undefined — and nothing made — when no recording span is current, which is all
 * this costs with tracing off.
 *
 * @example
 * const span = childSpan('SELECT', { kind: 'client', attributes: { 'db.system.name': 'postgresql' } });
 * try { return await run(); } finally { span?.end(); }
 */
export function childSpan(name: string, options: Omit<SpanOptions, 'parent'> = {}): Span | undefined {
  const parent = storage.getStore()?.span;
  if (!parent?.recording) return undefined;
  return parent.tracer.startSpan(name, { ...options, parent: parent.context });
}

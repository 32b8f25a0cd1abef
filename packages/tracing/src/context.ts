import { randomBytes } from 'node:crypto';

/**
 * Where a span sits in a trace, as W3C Trace Context carries it between processes
 * (https://www.w3.org/TR/trace-context/): the trace, the span, whether the trace is sampled,
 * and the vendors' `tracestate`, passed on unchanged.
 */
export interface SpanContext {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  readonly spanId: string;
  /** The `sampled` flag: the caller records this trace. */
  readonly sampled: boolean;
  /** The `tracestate` header, when one came and was well formed. */
  readonly traceState?: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-|$)/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/**
 * The context a `traceparent` header names, or null when it is not one: a header that is
 * missing, malformed, of version `ff`, with an all-zero id, or (version `00`) longer than 55
 * characters. A later version is read by its first four fields, as the specification asks.
 * Never throws: a bad header only means the trace starts here.
 *
 * @example
 * parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
 * // { traceId: '4bf92f35…', spanId: '00f067aa0ba902b7', sampled: true }
 */
export function parseTraceparent(header: unknown, tracestate?: unknown): SpanContext | null {
  if (typeof header !== 'string' || header.length < 55) return null;
  const text = header.trim();
  const match = TRACEPARENT.exec(text);
  if (!match) return null;
  const [, version, traceId = '', spanId = '', flags = ''] = match;
  if (version === 'ff') return null;
  if (version === '00' && text.length !== 55) return null;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  const state = parseTracestate(tracestate);
  const sampled = (Number.parseInt(flags, 16) & 1) === 1;
  return state === undefined ? { traceId, spanId, sampled } : { traceId, spanId, sampled, traceState: state };
}

const TRACESTATE_KEY = /^(?:[a-z0-9][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})$/;
const TRACESTATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * A `tracestate` header as it may be passed on (its members trimmed, empty ones left out), or
 * undefined when there is none or it breaks the specification's grammar (more than 32
 * members, a key twice, a malformed key or value): such a header is dropped, not repaired.
 */
export function parseTracestate(header: unknown): string | undefined {
  const text = Array.isArray(header) ? header.join(',') : header;
  if (typeof text !== 'string' || text.length > 8192) return undefined;
  const members: string[] = [];
  const keys = new Set<string>();
  for (const raw of text.split(',')) {
    const member = raw.trim();
    if (member === '') continue;
    const at = member.indexOf('=');
    if (at <= 0) return undefined;
    const key = member.slice(0, at);
    if (!TRACESTATE_KEY.test(key) || !TRACESTATE_VALUE.test(member.slice(at + 1)) || keys.has(key)) return undefined;
    keys.add(key);
    members.push(member);
  }
  if (members.length === 0 || members.length > 32) return undefined;
  return members.join(',');
}

/** The `traceparent` header (version `00`) for a context. */
export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.sampled ? '01' : '00'}`;
}

/** A fresh random trace id (never all zero). */
export function newTraceId(): string {
  const id = randomBytes(16).toString('hex');
  return id === ZERO_TRACE ? newTraceId() : id;
}

/** A fresh random span id (never all zero). */
export function newSpanId(): string {
  const id = randomBytes(8).toString('hex');
  return id === ZERO_SPAN ? newSpanId() : id;
}

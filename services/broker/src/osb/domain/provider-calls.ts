import type { Logger, ProviderCallOperation } from '@annex/platform';
import type { BrokerDb } from '../../shared/db/executor.js';
import { insertProviderCalls, type ProviderCallRecord } from '../db/provider-calls.js';
import type { ProviderRequest, ProviderResponse } from './provider-client.js';

// The record of every call the broker makes to a provider (docs/provider-portal.md, "Health").
// Calls are kept in memory and written in one multi-row statement about every second (and
// when the broker stops), never on the request's path: provisioning and binding cost no
// statement more. A process that crashes loses at most the calls of its last unwritten
// second, and only those: nothing else depends on them.

/** The most of a provider's failure answer kept (its OSB `error` and `description`). */
export const FAILURE_ANSWER_MAX_CHARS = 1024;

const INSTANCE_PATH = /^\/v2\/service_instances\/[^/]+$/;
const BINDING_PATH = /^\/v2\/service_instances\/[^/]+\/service_bindings\/[^/]+$/;

/** Which OSB operation a request to a provider is, from its method and path. */
export function operationOf(request: Pick<ProviderRequest, 'method' | 'path'>): ProviderCallOperation {
  const { method, path } = request;
  if (method === 'GET' && path.endsWith('/last_operation')) return 'last_operation';
  if (BINDING_PATH.test(path)) {
    if (method === 'PUT') return 'bind';
    if (method === 'DELETE') return 'unbind';
    if (method === 'GET') return 'fetch_binding';
  } else if (INSTANCE_PATH.test(path)) {
    if (method === 'PUT') return 'provision';
    if (method === 'PATCH') return 'update';
    if (method === 'DELETE') return 'deprovision';
    if (method === 'GET') return 'fetch_instance';
  }
  return 'other';
}

const clip = (text: string) =>
  text.length > FAILURE_ANSWER_MAX_CHARS ? `${text.slice(0, FAILURE_ANSWER_MAX_CHARS - 1)}…` : text;

const field = (body: unknown, name: string): string | null => {
  const value = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' && value !== '' ? clip(value) : null;
};

/**
 * How a call went. `ok`: a 2xx with a readable body (a last_operation that is not `failed`),
 * or the protocol's answer that a resource is gone (410 to a delete or a poll, 404 or 410 to
 * a fetch). `error`: any other answer, including 4xx refusals. `timeout` / `unreachable`: no
 * answer (a URL the outbound policy refuses counts as unreachable). Only a failure keeps what
 * the provider said, and only its OSB `error` and `description`: a success's body (a bind's
 * credentials) is never kept.
 */
export function callOutcome(
  operation: ProviderCallOperation,
  method: ProviderRequest['method'],
  response: ProviderResponse,
): Pick<ProviderCallRecord, 'outcome' | 'status' | 'error' | 'description'> {
  if (response.kind === 'timeout') {
    return { outcome: 'timeout', status: null, error: null, description: clip(response.message) };
  }
  if (response.kind !== 'answer') {
    return { outcome: 'unreachable', status: null, error: null, description: clip(response.message) };
  }
  const { status, body } = response;
  const ok = { outcome: 'ok' as const, status, error: null, description: null };
  const gone =
    (status === 410 && (method === 'DELETE' || operation === 'last_operation')) ||
    ((status === 404 || status === 410) && (operation === 'fetch_instance' || operation === 'fetch_binding'));
  if (gone) return ok;
  if (status >= 200 && status < 300 && !response.malformed) {
    if (operation === 'last_operation' && field(body, 'state') === 'failed') {
      return { outcome: 'error', status, error: null, description: field(body, 'description') ?? 'failed' };
    }
    return ok;
  }
  return {
    outcome: 'error',
    status,
    error: field(body, 'error'),
    description: response.malformed ? 'the answer is not JSON' : field(body, 'description'),
  };
}

/** The OSB id of the service a request names (in its body or its query), if any. */
function serviceOsbIdOf(request: ProviderRequest): string | null {
  const inBody = field(request.body, 'service_id');
  return inBody ?? request.query?.service_id ?? null;
}

/**
 * The provider calls of this process, written in batches. `record` never waits and never
 * touches the database; `start` writes every `flushMs`, `stop` writes what is left. Until
 * `start` (a broker whose background work is not started, as in tests counting statements),
 * calls are only kept, at most `maxBuffered` of them (the oldest go first).
 */
export class ProviderCallLog {
  readonly #db: BrokerDb;
  readonly #logger: Logger;
  readonly #flushMs: number;
  readonly #maxBuffered: number;
  #buffer: ProviderCallRecord[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(db: BrokerDb, logger: Logger, options: { flushMs?: number; maxBuffered?: number } = {}) {
    this.#db = db;
    this.#logger = logger;
    this.#flushMs = options.flushMs ?? 1_000;
    this.#maxBuffered = options.maxBuffered ?? 10_000;
  }

  /** Calls recorded and not yet written. */
  get pending(): number {
    return this.#buffer.length;
  }

  /** Records one call that started at `startedAt` and took `latencyMs`. */
  record(
    providerId: string,
    request: ProviderRequest,
    response: ProviderResponse,
    startedAt: Date,
    latencyMs: number,
  ): void {
    const operation = operationOf(request);
    this.#buffer.push({
      providerId,
      serviceOsbId: serviceOsbIdOf(request),
      operation,
      ...callOutcome(operation, request.method, response),
      latencyMs: Math.max(0, Math.round(latencyMs)),
      at: startedAt,
    });
    if (this.#buffer.length > this.#maxBuffered) this.#buffer.splice(0, this.#buffer.length - this.#maxBuffered);
  }

  /** Writes every `flushMs` from now on. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.flush(), this.#flushMs);
    this.#timer.unref();
  }

  /** Stops the timer and writes what is left. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /**
   * Writes the calls recorded so far in one statement (after a write still running). A write
   * that fails puts its calls back for the next one, within `maxBuffered`.
   */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#buffer.length === 0) return;
      const batch = this.#buffer;
      this.#buffer = [];
      try {
        await insertProviderCalls(this.#db, batch);
      } catch (error) {
        this.#logger.warn({ err: error, calls: batch.length }, 'provider calls not recorded yet; retrying');
        this.#buffer = [...batch, ...this.#buffer].slice(-this.#maxBuffered);
      }
    });
    return this.#flushing;
  }
}

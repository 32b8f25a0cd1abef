import { randomUUID } from 'node:crypto';
import {
  type AllowanceAnswer,
  allowanceAnswer,
  type OperationCompletionRequest,
  type ProviderConfigRequest,
  type UsageRecord,
  type UsageReportRequest,
} from './callbacks.js';

// The bodies sent and read are the callback API's contract (./callbacks.ts), the one the broker
// decodes with and its OpenAPI document describes.

export type { UsageRecord };

/**
 * Options of {@link createBrokerClient}.
 *
 * @example
 * const options: BrokerClientOptions = { brokerUrl: 'http://127.0.0.1:4001', token, batchSize: 50 };
 */
export interface BrokerClientOptions {
  /** The broker's public URL, e.g. `http://127.0.0.1:4001`. */
  brokerUrl: string;
  /** The provider's API token (`annex_provider_...`). */
  token: string;
  /** Records per usage request (default 100). */
  batchSize?: number;
  /** Queued usage is sent after this many milliseconds (default 1000); `flush()` sends at once. */
  flushIntervalMs?: number;
  /** Attempts per request on network errors, 429 and 5xx (default 5), with exponential backoff. */
  maxAttempts?: number;
  /** First backoff delay in milliseconds (default 200). */
  backoffMs?: number;
  /** Per-request timeout in milliseconds (default 10000). */
  timeoutMs?: number;
}

/**
 * The broker refused a callback (a 4xx other than 429), or it kept failing.
 *
 * @example
 * await broker.pushConfig(id, config, 'rotation').catch((error) => {
 *   if (error instanceof BrokerCallbackError && error.status === 404) forget(id);
 * });
 */
export class BrokerCallbackError extends Error {
  override readonly name = 'BrokerCallbackError';
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/**
 * The typed client for the broker's provider callbacks.
 *
 * @example
 * const broker: BrokerClient = createBrokerClient({ brokerUrl, token });
 * if (!(await broker.checkAllowance(instanceId, '1k_tokens')).allowed) res.status(402).end();
 */
export interface BrokerClient {
  /**
   * Queues usage; sent in batches. The key defaults to a fresh UUID: pass your own (e.g. the
   * request id that consumed the tokens) so a retry after a crash is not billed twice.
   */
  reportUsage(
    record: Omit<UsageRecord, 'idempotencyKey' | 'at'> & { idempotencyKey?: string; at?: string | Date },
  ): void;
  /** Sends every queued usage record now; rejects when a batch could not be delivered (it stays queued). */
  flush(): Promise<void>;
  /** Pushes new config vars for an instance (credential rotation, a changed URL). */
  pushConfig(instanceId: string, config: Record<string, string>, reason: string): Promise<void>;
  /** Ends an async operation early, instead of waiting for the broker's next poll. */
  completeOperation(operation: string, outcome: OperationCompletionRequest): Promise<void>;
  /** Asks whether the instance's owner may consume more of `unit` (spend caps). */
  checkAllowance(instanceId: string, unit: string): Promise<Pick<AllowanceAnswer, 'allowed' | 'remaining'>>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Creates the client for the broker's provider callbacks: metered usage (batched, retried,
 * idempotent by key), config pushes, early completion of async operations, spend-cap checks.
 *
 * @example
 * const broker = createBrokerClient({ brokerUrl: 'http://127.0.0.1:4001', token: process.env.ANNEX_PROVIDER_TOKEN! });
 * broker.reportUsage({ instanceId, unit: '1k_tokens', quantity: 3, idempotencyKey: requestId });
 * await broker.pushConfig(instanceId, { DATABASE_URL: newUrl }, 'credential rotation');
 * await broker.close();
 */
export function createBrokerClient(options: BrokerClientOptions): BrokerClient {
  const base = options.brokerUrl.replace(/\/+$/, '');
  const batchSize = options.batchSize ?? 100;
  const maxAttempts = options.maxAttempts ?? 5;
  const backoff = options.backoffMs ?? 200;
  const queue: UsageRecord[] = [];
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;

  async function send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    let lastError: BrokerCallbackError | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) await sleep(backoff * 2 ** (attempt - 2));
      let response: globalThis.Response;
      try {
        response = await fetch(`${base}${path}`, {
          method,
          headers: {
            Authorization: `Bearer ${options.token}`,
            Accept: 'application/json',
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
      } catch (error) {
        lastError = new BrokerCallbackError(`${method} ${path}: ${(error as Error).message}`, undefined, undefined);
        continue;
      }
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // keep the text
      }
      if (response.ok) return parsed;
      const description =
        (parsed as { description?: string; message?: string } | undefined)?.description ??
        (parsed as { message?: string } | undefined)?.message ??
        response.statusText;
      lastError = new BrokerCallbackError(
        `${method} ${path}: ${response.status} ${description}`,
        response.status,
        parsed,
      );
      if (response.status !== 429 && response.status < 500) throw lastError;
    }
    throw lastError ?? new BrokerCallbackError(`${method} ${path} failed`, undefined, undefined);
  }

  async function flushQueue(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.slice(0, batchSize);
      await send('POST', '/v1/provider/usage', { records: batch } satisfies UsageReportRequest);
      queue.splice(0, batch.length);
    }
  }

  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    flushing ??= flushQueue().finally(() => {
      flushing = undefined;
    });
    return flushing;
  }

  return {
    reportUsage(record) {
      if (!Number.isFinite(record.quantity) || record.quantity < 0) {
        throw new RangeError('usage quantity must be a finite number >= 0');
      }
      const at = record.at instanceof Date ? record.at.toISOString() : (record.at ?? new Date().toISOString());
      queue.push({
        idempotencyKey: record.idempotencyKey ?? randomUUID(),
        instanceId: record.instanceId,
        unit: record.unit,
        quantity: record.quantity,
        at,
      });
      if (queue.length >= batchSize) {
        void flush().catch(() => {});
      } else {
        timer ??= setTimeout(() => void flush().catch(() => {}), options.flushIntervalMs ?? 1000);
        timer.unref();
      }
    },
    flush: async () => {
      if (flushing) await flushing.catch(() => {});
      await flush();
    },
    async pushConfig(instanceId, config, reason) {
      await send('POST', `/v1/provider/instances/${encodeURIComponent(instanceId)}/config`, {
        config,
        reason,
      } satisfies ProviderConfigRequest);
    },
    async completeOperation(operation, outcome) {
      await send('POST', `/v1/provider/operations/${encodeURIComponent(operation)}/complete`, {
        state: outcome.state,
        description: outcome.description ?? '',
      } satisfies OperationCompletionRequest);
    },
    async checkAllowance(instanceId, unit) {
      const answer = (await send(
        'GET',
        `/v1/provider/instances/${encodeURIComponent(instanceId)}/allowance?unit=${encodeURIComponent(unit)}`,
      )) as unknown;
      const parsed = allowanceAnswer.safeParse(answer);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new BrokerCallbackError(
          `allowance answer outside the callback contract: ${issue?.path.join('.') || '(root)'} ${issue?.message ?? 'invalid'}`,
          200,
          answer,
        );
      }
      const { allowed, remaining } = parsed.data;
      return remaining === undefined ? { allowed } : { allowed, remaining };
    },
    async close() {
      await flush();
    },
  };
}

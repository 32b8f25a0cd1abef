import { BrokerCallbackError, createBrokerClient } from '@annex/sdk';
import type { GatewayStore } from './state/store.js';

export interface UsageReporterOptions {
  brokerUrl: string;
  /** The provider's API token; without it usage is kept (metered, pending) but not sent. */
  token: string | undefined;
  /** How often pending usage is sent (ms). */
  intervalMs: number;
  batchSize?: number;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/** Prefix of the idempotency keys: stable per request, so a re-sent report is billed once. */
export const IDEMPOTENCY_PREFIX = 'annex-ai:';

/**
 * Sends metered usage from the store's outbox to the broker with the SDK's broker client.
 * A usage row stays pending until the broker acknowledged its batch, so a broker that is down
 * (or a lost answer) only delays billing: the same records, with the same idempotency keys,
 * are sent again on the next tick. A batch the broker refuses for good (400/422) is marked
 * rejected and logged instead of blocking the ones behind it.
 */
export class UsageReporter {
  readonly #store: GatewayStore;
  #options: UsageReporterOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #warnedNoToken = false;

  constructor(store: GatewayStore, options: UsageReporterOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** Sets the provider token once it is known (an installation that publishes the example after starting it). */
  setToken(token: string): void {
    this.#options = { ...this.#options, token };
  }

  start() {
    this.#timer = setInterval(() => void this.flush().catch(() => {}), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Sends everything pending now; rejects when the broker could not take it (it stays pending). */
  flush(): Promise<void> {
    // One delivery at a time, so that no record is in two requests at once.
    const next = (this.#running ?? Promise.resolve()).catch(() => {}).then(() => this.#deliver());
    this.#running = next;
    return next;
  }

  async #deliver(): Promise<void> {
    const token = this.#options.token;
    if (!token) {
      if (!this.#warnedNoToken && (await this.#store.pendingReports(1)).length > 0) {
        this.#warnedNoToken = true;
        this.#options.log('warn', 'metered usage is kept but not reported: set EXAMPLE_AI_PROVIDER_TOKEN');
      }
      return;
    }
    const batchSize = this.#options.batchSize ?? 100;
    for (;;) {
      const pending = await this.#store.pendingReports(batchSize);
      if (pending.length === 0) return;
      // A fresh client per batch: a failed batch must not stay queued inside the client,
      // where it would be sent again beside the copy re-read from the store.
      const client = createBrokerClient({
        brokerUrl: this.#options.brokerUrl,
        token,
        batchSize: batchSize + 1,
        flushIntervalMs: 3_600_000,
        maxAttempts: 3,
        backoffMs: 100,
      });
      for (const entry of pending) {
        client.reportUsage({
          idempotencyKey: `${IDEMPOTENCY_PREFIX}${entry.id}`,
          instanceId: entry.instanceId,
          unit: entry.report.unit,
          quantity: entry.report.quantity,
          at: entry.at,
        });
      }
      const ids = pending.map((entry) => entry.id);
      try {
        await client.flush();
      } catch (error) {
        if (error instanceof BrokerCallbackError && (error.status === 400 || error.status === 422)) {
          await this.#store.markRejected(ids, error.message);
          this.#options.log('error', `the broker refused ${ids.length} usage record(s): ${error.message}`);
          continue;
        }
        this.#options.log('warn', `usage not reported yet, will retry: ${(error as Error).message}`);
        throw error;
      }
      await this.#store.markReported(ids, new Date().toISOString());
      if (pending.length < batchSize) return;
    }
  }

  /** Stops the timer and makes a last attempt to send what is pending. */
  async close() {
    if (this.#timer) clearInterval(this.#timer);
    await this.flush().catch(() => {});
  }
}

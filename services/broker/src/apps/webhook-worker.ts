import { randomUUID } from 'node:crypto';
import type { BrokerContext } from '../domain/context.js';
import {
  claimDueDeliveries,
  type DeliveryOutcome,
  deliverOnce,
  type LeasedDelivery,
  recordDeliveryOutcome,
} from './webhooks.js';

export interface WebhookWorkerOptions {
  /** How often to look for due deliveries when nothing wakes the worker. */
  pollMs: number;
  /** Deliveries in flight at once in this process (default 10). */
  concurrency?: number;
  maxAttempts: number;
  retryBaseMs: number;
  /** Deadline of one HTTP attempt. */
  timeoutMs: number;
}

export interface WebhookWorker {
  /** Stops claiming, interrupts requests in flight (they are retried at once elsewhere) and waits. */
  stop(): Promise<void>;
  /** Looks for due deliveries now (after enqueueing or a redelivery) instead of at the next poll. */
  wake(): void;
}

/**
 * Sends webhook deliveries. Each pass leases due pending rows (`FOR UPDATE SKIP LOCKED`,
 * with a lease longer than an attempt can last) so that replicas share the work and never
 * send one delivery twice at once; a crashed replica's lease expires and another retakes
 * the row. A slot that frees up triggers the next pass, so a slow receiver holds one slot,
 * not the whole batch. Delivery is at least once: receivers deduplicate on `Annex-Delivery`.
 */
export function startWebhookWorker(ctx: BrokerContext, options: WebhookWorkerOptions): WebhookWorker {
  const concurrency = options.concurrency ?? 10;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('concurrency: must be a positive integer');
  if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1) {
    throw new Error('maxAttempts: must be a positive integer');
  }
  // The attempt gives up at timeoutMs; the margin covers recording its result.
  const leaseMs = options.timeoutMs * 2 + 5_000;
  const owner = `${ctx.replicaId}:webhooks:${randomUUID().slice(0, 8)}`;
  const policy = { maxAttempts: options.maxAttempts, retryBaseMs: options.retryBaseMs };
  const inFlight = new Map<string, Promise<void>>();
  const shutdown = new AbortController();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let claiming: Promise<void> | undefined;
  let again = false;

  async function send(delivery: LeasedDelivery): Promise<void> {
    let outcome: DeliveryOutcome;
    if (!delivery.webhook_url || !delivery.webhook_secret_sealed) {
      // The platform removed its webhook after this was enqueued: nothing to send to.
      outcome = { kind: 'failed', status: null, error: 'the platform has no webhook URL any more' };
      await record(delivery, outcome, { ...policy, maxAttempts: 0 });
      return;
    }
    let secret: string;
    try {
      secret = ctx.secretBox.open(delivery.webhook_secret_sealed);
    } catch (error) {
      outcome = {
        kind: 'failed',
        status: null,
        error: `the webhook secret cannot be opened: ${(error as Error).message}`,
      };
      await record(delivery, outcome, policy);
      return;
    }
    // A previous secret that cannot be opened only loses its signature, not the delivery.
    let previousSecret: string | null = null;
    if (delivery.webhook_previous_secret_sealed) {
      try {
        previousSecret = ctx.secretBox.open(delivery.webhook_previous_secret_sealed);
      } catch (error) {
        ctx.logger.warn({ err: error, platform: delivery.platform_id }, 'previous webhook secret cannot be opened');
      }
    }
    outcome = await deliverOnce(
      { url: delivery.webhook_url, secret, previousSecret },
      { id: delivery.id, eventType: delivery.event_type, payload: delivery.payload },
      { timeoutMs: options.timeoutMs, signal: shutdown.signal, policy: ctx.outbound },
    );
    await record(delivery, outcome, policy);
  }

  async function record(
    delivery: LeasedDelivery,
    outcome: DeliveryOutcome,
    recordPolicy: { maxAttempts: number; retryBaseMs: number },
  ): Promise<void> {
    const state = await recordDeliveryOutcome(ctx.db, delivery, owner, outcome, recordPolicy);
    const log = { delivery: delivery.id, platform: delivery.platform_id, attempt: delivery.attempts };
    if (state === undefined) ctx.logger.warn(log, 'webhook delivery lease lost before its result was recorded');
    else if (outcome.kind === 'delivered') ctx.logger.debug({ ...log, status: outcome.status }, 'webhook delivered');
    else if (outcome.kind === 'failed') {
      ctx.logger[state === 'failed' ? 'warn' : 'info'](
        { ...log, status: outcome.status, error: outcome.error, state },
        state === 'failed' ? 'webhook delivery failed for good' : 'webhook delivery attempt failed; retrying',
      );
    }
  }

  async function claim(): Promise<void> {
    const free = concurrency - inFlight.size;
    if (free <= 0) return;
    const claimed = await claimDueDeliveries(ctx.db, owner, leaseMs, free);
    for (const delivery of claimed) {
      const task = send(delivery)
        .catch((error: unknown) => {
          // The lease expires and another pass retakes the row.
          ctx.logger.error({ err: error, delivery: delivery.id }, 'recording a webhook attempt failed');
        })
        .finally(() => {
          inFlight.delete(delivery.id);
          wake();
        });
      inFlight.set(delivery.id, task);
    }
    if (claimed.length === free) again = true;
  }

  function pass(): void {
    timer = undefined;
    if (stopped) return;
    if (claiming) {
      again = true;
      return;
    }
    again = false;
    claiming = claim()
      .catch((error: unknown) => {
        ctx.logger.warn({ err: error }, 'claiming webhook deliveries failed');
      })
      .finally(() => {
        claiming = undefined;
        schedule(again && inFlight.size < concurrency ? 0 : options.pollMs);
      });
  }

  function schedule(delay: number): void {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(pass, delay);
  }

  function wake(): void {
    if (stopped) return;
    if (claiming) again = true;
    else schedule(0);
  }

  schedule(0);
  return {
    wake,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await claiming;
      shutdown.abort();
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}

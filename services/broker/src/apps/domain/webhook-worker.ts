import { randomUUID } from 'node:crypto';
import { createJobRunner, type JobKindOptions } from '@annex/platform';
import type { BrokerContext } from '../../shared/domain/context.js';
import { claimDueDeliveries, type LeasedDelivery, nextDeliveryDueAt } from '../db/webhooks.js';
import { type DeliveryOutcome, deliverOnce, recordDeliveryOutcome } from './webhooks.js';

export interface WebhookDeliveryOptions {
  /** Deliveries in flight at once in this process (default 10). */
  concurrency?: number;
  maxAttempts: number;
  retryBaseMs: number;
  /** Deadline of one HTTP attempt. */
  timeoutMs: number;
}

/** The payload of the job that drains due webhook deliveries (one, keyed `pass`). */
export type WebhooksPass = Record<string, never>;

export interface WebhookDeliveries {
  /** The job kind `apps.webhooks` for the process's job runner. */
  kind: JobKindOptions<WebhooksPass>;
  /** Stops sending: interrupts requests in flight (they are retried at once elsewhere) and waits. */
  stop(): Promise<void>;
}

// A pass that found nothing due yet comes back no sooner than this.
const MIN_RECHECK_MS = 100;

/**
 * Sends webhook deliveries, as the job kind `apps.webhooks`. Each pass leases due pending
 * rows (`FOR UPDATE SKIP LOCKED`, with a lease longer than an attempt can last) so that
 * replicas share the work and never send one delivery twice at once; a crashed replica's
 * lease expires and a later pass retakes the row. Sends run beside the pass, one slot
 * each: a slot that frees up after a full pass enqueues the next, so a slow receiver holds
 * one slot, not the whole batch. A delivery written or rescheduled enqueues a pass (a
 * trigger), so nothing polls. Delivery is at least once: receivers deduplicate on
 * `webhook-id`.
 *
 * @param enqueuePass adds the pass job now (through the runner that runs `kind`).
 */
export function webhookDeliveries(
  ctx: BrokerContext,
  options: WebhookDeliveryOptions,
  enqueuePass: () => Promise<unknown>,
): WebhookDeliveries {
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
  let full = false;

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
      { id: delivery.id, payload: delivery.payload },
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

  function launch(delivery: LeasedDelivery): void {
    const task = send(delivery)
      .catch((error: unknown) => {
        // The lease expires and a later pass retakes the row.
        ctx.logger.error({ err: error, delivery: delivery.id }, 'recording a webhook attempt failed');
      })
      .finally(() => {
        inFlight.delete(delivery.id);
        if (full && !stopped) {
          full = false;
          enqueuePass().catch((error: unknown) => ctx.logger.warn({ err: error }, 'enqueueing a webhook pass failed'));
        }
      });
    inFlight.set(delivery.id, task);
  }

  return {
    kind: {
      maxAttempts: 1000,
      backoff: { baseMs: 250, maxMs: 30_000 },
      run: async () => {
        if (stopped) return undefined;
        const free = concurrency - inFlight.size;
        if (free <= 0) {
          full = true;
          return undefined;
        }
        const claimed = await claimDueDeliveries(ctx.db, owner, leaseMs, free);
        for (const delivery of claimed) launch(delivery);
        if (claimed.length === free) {
          full = true;
          if (inFlight.size < concurrency) return { runAgainAt: new Date() };
        }
        const next = await nextDeliveryDueAt(ctx.db);
        if (!next) return undefined;
        return { runAgainAt: new Date(Math.max(next.getTime(), Date.now() + MIN_RECHECK_MS)) };
      },
    },
    async stop() {
      stopped = true;
      shutdown.abort();
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}

export interface WebhookWorker {
  /** Stops claiming, interrupts requests in flight (they are retried at once elsewhere) and waits. */
  stop(): Promise<void>;
  /** Looks for due deliveries now (after a lease was ended by hand, or a redelivery on another process). */
  wake(): void;
}

/**
 * Webhook deliveries on a job runner of their own: for a process that sends webhooks and
 * runs no other broker job (tests; the broker puts `apps.webhooks` on its own runner).
 */
export function startWebhookWorker(ctx: BrokerContext, options: WebhookDeliveryOptions): WebhookWorker {
  let enqueue: () => Promise<unknown> = async () => undefined;
  const deliveries = webhookDeliveries(ctx, options, () => enqueue());
  const runner = createJobRunner<{ 'apps.webhooks': WebhooksPass }>(ctx.database, {
    logger: ctx.logger,
    owner: `${ctx.replicaId}:webhook-worker:${randomUUID().slice(0, 8)}`,
    ...(ctx.tracer ? { tracer: ctx.tracer } : {}),
    kinds: { 'apps.webhooks': deliveries.kind },
  });
  enqueue = () => runner.enqueue('apps.webhooks', {}, { key: 'pass' });
  const started = runner.start().then(() => enqueue());
  started.catch((error: unknown) => ctx.logger.error({ err: error }, 'the webhook worker did not start'));
  return {
    wake() {
      enqueue().catch((error: unknown) => ctx.logger.warn({ err: error }, 'enqueueing a webhook pass failed'));
    },
    async stop() {
      await started.catch(() => undefined);
      await runner.stop({ graceMs: 0 });
      await deliveries.stop();
    },
  };
}

import type { JobKindOptions } from '@annex/platform';
import type { BrokerContext } from '../../shared/domain/context.js';
import { claimDueOperations, nextOperationDueAt } from '../db/operations.js';
import { executeOperation, leaseOwner } from './operations.js';

/** The payload of the job that drains the operations table (one, keyed `pass`). */
export type OperationsPass = Record<string, never>;

// A pass that found nothing due yet comes back no sooner than this (rows a request holds).
const MIN_RECHECK_MS = 100;

/**
 * The operations worker as a job kind: each pass leases due rows (`FOR UPDATE SKIP
 * LOCKED`, so replicas share the work), executes one step of each and gives the lease
 * back. A row whose lease expired (its replica died mid-call) is due again and retaken
 * here. The pass runs again when a row becomes due (a trigger enqueues it) and, while
 * any operation is active, when the next one is due or its lease ends.
 */
export function operationsJobKind(
  ctx: BrokerContext,
  options: { concurrency: number },
): JobKindOptions<OperationsPass> {
  return {
    maxAttempts: 1000,
    backoff: { baseMs: 250, maxMs: 30_000 },
    run: async () => {
      const owner = leaseOwner(ctx);
      const claimed = await claimDueOperations(ctx.db, owner, ctx.settings.leaseMs, options.concurrency);
      await Promise.all(
        claimed.map((op) =>
          executeOperation(ctx, op, owner, true).catch((error: unknown) => {
            ctx.logger.error({ err: error, operation: op.id }, 'operation step failed; retrying after its lease');
          }),
        ),
      );
      if (claimed.length >= options.concurrency) return { runAgainAt: new Date() };
      const next = await nextOperationDueAt(ctx.db);
      if (!next) return undefined;
      return { runAgainAt: new Date(Math.max(next.getTime(), Date.now() + MIN_RECHECK_MS)) };
    },
  };
}

import type { JobKindOptions } from '@annex/platform';
import type { BrokerContext } from '../../shared/domain/context.js';
import { claimRowsInProgress, nextReconcileDueAt, type ReconciledTable, releaseLease } from '../db/reconcile.js';
import { advanceAddon, advanceAttachment, type Progress, revokeRetiredBindings } from './advance.js';

// Moves add-ons and attachments forward when a provider answered "in progress", after a
// crash, or on another replica. Rows are leased (`FOR UPDATE SKIP LOCKED`) so replicas
// share the work, and so that a request driving a row and the reconciler never both do;
// a row still waiting is looked at again after `recheckMs`.

/** The payload of the job that drains add-ons and attachments in progress (one, keyed `pass`). */
export type AppsReconcilePass = Record<string, never>;

// A pass that found nothing due yet comes back no sooner than this (rows a request holds).
const MIN_RECHECK_MS = 100;

/**
 * The apps reconciler as a job kind. A pass leases add-ons and attachments in progress,
 * moves each forward, and revokes bindings whose grace ended; a row still waiting on its
 * provider is looked at again after `recheckMs`. It runs when a row needs it (a trigger
 * enqueues it) and, while any is in progress, when the next lease or recheck ends.
 */
export function appsReconcileJobKind(
  ctx: BrokerContext,
  options: { recheckMs: number; batch?: number },
): JobKindOptions<AppsReconcilePass> {
  const batch = options.batch ?? 20;

  async function step(table: ReconciledTable, advance: (id: string) => Promise<Progress>): Promise<number> {
    const ids = await claimRowsInProgress(ctx.db, table, ctx.replicaId, batch);
    for (const id of ids) {
      let progress: Progress = 'waiting';
      try {
        progress = await advance(id);
      } catch (error) {
        ctx.logger.warn({ err: error, table, id }, 'apps reconciler step failed; retrying later');
      } finally {
        await releaseLease(ctx.db, table, id, ctx.replicaId, progress === 'waiting' ? options.recheckMs : null);
      }
    }
    return ids.length;
  }

  return {
    maxAttempts: 1000,
    backoff: { baseMs: 250, maxMs: 30_000 },
    run: async () => {
      const addons = await step('addons', (id) => advanceAddon(ctx, id));
      const attachments = await step('attachments', (id) => advanceAttachment(ctx, id));
      const revoked = await revokeRetiredBindings(ctx);
      if (addons >= batch || attachments >= batch || revoked >= 20) return { runAgainAt: new Date() };
      const next = await nextReconcileDueAt(ctx.db);
      if (!next) return undefined;
      return { runAgainAt: new Date(Math.max(next.getTime(), Date.now() + MIN_RECHECK_MS)) };
    },
  };
}

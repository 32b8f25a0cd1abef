import type { JobKindOptions } from '@annex/platform';
import { sql } from 'kysely';
import type { BrokerContext } from '../../shared/domain/context.js';
import { advanceAddon, advanceAttachment, type Progress, revokeRetiredBindings } from './advance.js';

// Moves add-ons and attachments forward when a provider answered "in progress", after a
// crash, or on another replica. Rows are leased (`FOR UPDATE SKIP LOCKED`) so replicas
// share the work, and so that a request driving a row and the reconciler never both do;
// a row still waiting is looked at again after `recheckMs`.

const LEASE = '120 seconds';

async function claim(ctx: BrokerContext, table: 'addons' | 'attachments', limit: number): Promise<string[]> {
  const states =
    table === 'addons' ? ['provisioning', 'changing_plan', 'destroying'] : ['attaching', 'detaching', 'rotating'];
  const result = await sql<{ id: string }>`
    update ${sql.table(table)} set lease_owner = ${ctx.replicaId}, lease_expires_at = now() + ${LEASE}::interval
    where id in (
      select id from ${sql.table(table)}
      where state in (${sql.join(states)}) and (lease_expires_at is null or lease_expires_at <= now())
      order by lease_expires_at nulls first
      limit ${limit}
      for update skip locked)
    returning id`.execute(ctx.db);
  return result.rows.map((r) => r.id);
}

async function release(
  ctx: BrokerContext,
  table: 'addons' | 'attachments',
  id: string,
  progress: Progress,
  recheckMs: number,
) {
  await sql`
    update ${sql.table(table)} set lease_owner = null,
      lease_expires_at = ${progress === 'waiting' ? sql`now() + ${`${recheckMs} milliseconds`}::interval` : sql`null`}
    where id = ${id} and lease_owner = ${ctx.replicaId}`.execute(ctx.db);
}

/** The payload of the job that drains add-ons and attachments in progress (one, keyed `pass`). */
export type AppsReconcilePass = Record<string, never>;

// A pass that found nothing due yet comes back no sooner than this (rows a request holds).
const MIN_RECHECK_MS = 100;

/** When the reconciler has something to look at next: a lease or a recheck ending, a binding to revoke. */
async function nextDueAt(ctx: BrokerContext): Promise<Date | null> {
  const result = await sql<{ next: Date | null }>`
    select least(
      (select min(coalesce(lease_expires_at, now())) from addons
        where state in ('provisioning', 'changing_plan', 'destroying')),
      (select min(coalesce(lease_expires_at, now())) from attachments
        where state in ('attaching', 'detaching', 'rotating')),
      (select min(revoke_after) from binding_retirements where state = 'waiting')
    ) as next`.execute(ctx.db);
  return result.rows[0]?.next ?? null;
}

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

  async function step(table: 'addons' | 'attachments', advance: (id: string) => Promise<Progress>): Promise<number> {
    const ids = await claim(ctx, table, batch);
    for (const id of ids) {
      let progress: Progress = 'waiting';
      try {
        progress = await advance(id);
      } catch (error) {
        ctx.logger.warn({ err: error, table, id }, 'apps reconciler step failed; retrying later');
      } finally {
        await release(ctx, table, id, progress, options.recheckMs);
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
      const next = await nextDueAt(ctx);
      if (!next) return undefined;
      return { runAgainAt: new Date(Math.max(next.getTime(), Date.now() + MIN_RECHECK_MS)) };
    },
  };
}

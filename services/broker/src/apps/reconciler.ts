import { sql } from 'kysely';
import type { BrokerContext } from '../domain/context.js';
import { advanceAddon, advanceAttachment, type Progress, revokeRetiredBindings } from './advance.js';

// Moves add-ons and attachments forward when a provider answered "in progress", after a
// crash, or on another replica. Rows are leased (`FOR UPDATE SKIP LOCKED`) so replicas
// share the work; a row still waiting is looked at again after `recheckMs`.

export interface AppsReconciler {
  stop(): Promise<void>;
  /** One pass now (tests, and after a request left work behind). */
  runOnce(): Promise<number>;
}

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

export function startAppsReconciler(
  ctx: BrokerContext,
  options: { intervalMs: number; recheckMs?: number; batch?: number },
): AppsReconciler {
  const recheckMs = options.recheckMs ?? Math.max(500, options.intervalMs * 2);
  const batch = options.batch ?? 20;
  let stopped = false;
  let running: Promise<number> | undefined;

  async function step(table: 'addons' | 'attachments', advance: (id: string) => Promise<Progress>): Promise<number> {
    const ids = await claim(ctx, table, batch);
    for (const id of ids) {
      let progress: Progress = 'waiting';
      try {
        progress = await advance(id);
      } catch (error) {
        ctx.logger.warn({ err: error, table, id }, 'apps reconciler step failed; retrying later');
      } finally {
        await release(ctx, table, id, progress, recheckMs);
      }
    }
    return ids.length;
  }

  async function pass(): Promise<number> {
    const addons = await step('addons', (id) => advanceAddon(ctx, id));
    const attachments = await step('attachments', (id) => advanceAttachment(ctx, id));
    const revoked = await revokeRetiredBindings(ctx);
    return addons + attachments + revoked;
  }

  function runOnce(): Promise<number> {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  }

  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    if (stopped) return;
    try {
      await runOnce();
    } catch (error) {
      ctx.logger.warn({ err: error }, 'apps reconciler pass failed');
    }
    if (!stopped) timer = setTimeout(loop, options.intervalMs);
  };
  timer = setTimeout(loop, options.intervalMs);

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}

import { claimDueOperations } from '../db/operations.js';
import type { BrokerContext } from './context.js';
import { executeOperation, leaseOwner } from './operations.js';

export interface OperationWorkers {
  /** Runs one claim-and-execute round now; resolves with how many operations it stepped. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Polls the operations table: leases due rows (`FOR UPDATE SKIP LOCKED`, so replicas
 * share the work), executes one step of each, and gives the lease back. A row whose
 * lease expired (its replica died mid-call) is due again and is retaken here.
 */
export function startOperationWorkers(
  ctx: BrokerContext,
  options: { pollMs: number; concurrency: number },
): OperationWorkers {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  const owner = leaseOwner(ctx);

  async function runOnce(): Promise<number> {
    const claimed = await claimDueOperations(ctx.db, owner, ctx.settings.leaseMs, options.concurrency);
    await Promise.all(
      claimed.map((op) =>
        executeOperation(ctx, op, owner, true).catch((error: unknown) => {
          ctx.logger.error({ err: error, operation: op.id }, 'operation step failed; retrying after its lease');
        }),
      ),
    );
    return claimed.length;
  }

  function schedule(delay: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce().catch((error: unknown) => {
        ctx.logger.warn({ err: error }, 'claiming operations failed');
        return 0;
      });
      void running.then((count) => schedule(count >= options.concurrency ? 0 : options.pollMs));
    }, delay);
  }
  schedule(0);

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

import { sql } from 'kysely';
import type { Executor } from './executor.js';

/**
 * Runs `work` in the open transaction `trx` behind a savepoint: when it throws, what it wrote
 * is undone and the transaction goes on as if it had not run. Answers the error, if any.
 */
export async function behindSavepoint(trx: Executor, work: () => Promise<void>): Promise<unknown> {
  await sql`savepoint behind`.execute(trx);
  try {
    await work();
    return undefined;
  } catch (error) {
    await sql`rollback to savepoint behind`.execute(trx);
    return error;
  }
}

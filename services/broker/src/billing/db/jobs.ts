import { sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

/** Records a billing job's last run (now) and its result. */
export async function recordJobRun(db: Executor, name: string, result: Record<string, unknown>): Promise<void> {
  await db
    .insertInto('billing_jobs')
    .values({ name, last_run_at: sql`now()`, last_result: JSON.stringify(result) })
    .onConflict((oc) => oc.column('name').doUpdateSet({ last_run_at: sql`now()`, last_result: JSON.stringify(result) }))
    .execute();
}

import { sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

/** The database's clock as the statement runs (`clock_timestamp()`, not the transaction's start). */
export async function databaseClock(db: Executor): Promise<Date | undefined> {
  const row = await sql<{ at: Date }>`select clock_timestamp() as at`.execute(db);
  return row.rows[0]?.at;
}

import { sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// The advisory locks billing takes, each held until its transaction ends.

/** The advisory lock class (first key) of `lockOrgMonth`; the second key hashes the org and month. */
const ORG_MONTH_LOCK_CLASS = 7301;

/** The advisory lock that makes payout runs take turns (any fixed number, used for nothing else). */
const PAYOUTS_LOCK_ID = 5_120_394_771;

/**
 * Orders usage reports against the invoicing of their month, per organization and month:
 * a usage batch holds it shared while it checks that the month is not invoiced and stores
 * its records; invoicing holds it exclusively while it reads the month and freezes the
 * invoice. Usage is either on the invoice or refused, never accepted and left off.
 */
export async function lockOrgMonth(
  trx: Executor,
  organizationId: string,
  period: string,
  mode: 'shared' | 'exclusive',
): Promise<void> {
  const key = `${organizationId}:${period}`;
  if (mode === 'shared') {
    await sql`select pg_advisory_xact_lock_shared(${ORG_MONTH_LOCK_CLASS}, hashtext(${key}))`.execute(trx);
  } else {
    await sql`select pg_advisory_xact_lock(${ORG_MONTH_LOCK_CLASS}, hashtext(${key}))`.execute(trx);
  }
}

/** Makes payout runs take turns until the transaction ends. */
export async function lockPayoutRuns(trx: Executor): Promise<void> {
  await sql`select pg_advisory_xact_lock(${PAYOUTS_LOCK_ID})`.execute(trx);
}

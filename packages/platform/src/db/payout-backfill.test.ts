import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { migrateToLatest } from './migrate.js';
import { migrations } from './migrations/index.js';

// Migration 20261127200000 marks the invoices that payouts made before it had counted, so
// they are never paid out again, and leaves the ones they had not counted to be paid.

const BEFORE = '20261127200000_payout_adjustments';

describe('the payout backfill (20261127200000) on a database paid out before it', () => {
  it('marks an invoice counted only when a payout row came after the ledger recorded it paid', async () => {
    const database = await openDatabase({ kind: 'pglite-memory' });
    try {
      const { db } = database;
      const earlier = Object.fromEntries(Object.entries(migrations).filter(([name]) => name < BEFORE));
      await migrateToLatest(db, earlier);
      const org = (
        await sql<{ id: string }>`insert into organizations (slug, name) values ('o', 'O') returning id`.execute(db)
      ).rows[0]?.id as string;
      const provider = (
        await sql<{ id: string }>`insert into providers (slug, name) values ('p', 'P') returning id`.execute(db)
      ).rows[0]?.id as string;
      const line = JSON.stringify([{ kind: 'plan', providerId: provider, cents: 1000 }]);
      const invoice = async (period: string, paidAt: string, recordedAt: string) =>
        (
          await sql<{ id: string }>`
            insert into invoices (organization_id, period, state, total_cents, currency, lines, created_at, updated_at, paid_at)
            values (${org}, ${period}, 'paid', 1000, 'usd', ${line}::jsonb, '2026-09-01T01:00:00Z', ${recordedAt}, ${paidAt})
            returning id`.execute(db)
        ).rows[0]?.id as string;
      // September: paid on the 3rd by Stripe, recorded on the 3rd; the payout on the 11th counted it.
      const counted = await invoice('2026-08', '2026-09-03T00:00:00Z', '2026-09-03T00:00:05Z');
      // October: Stripe's payment on the 5th, its webhook delivered only on the 13th; the payout
      // on the 11th saw it unpaid and did not count it.
      const late = await invoice('2026-09', '2026-10-05T00:00:00Z', '2026-10-13T00:00:00Z');
      for (const [period, at] of [
        ['2026-08', '2026-09-11T00:00:00Z'],
        ['2026-09', '2026-10-11T00:00:00Z'],
      ] as const) {
        await sql`
          insert into provider_payouts (provider_id, period, currency, gross_cents, revenue_share, amount_cents, state, created_at)
          values (${provider}, ${period}, 'usd', 1000, 0.8, 800, 'paid', ${at})`.execute(db);
      }
      await migrateToLatest(db);
      const marked = await sql<{ id: string; paid_out: boolean }>`
        select id, paid_out_at is not null as paid_out from invoices`.execute(db);
      const byId = Object.fromEntries(marked.rows.map((r) => [r.id, r.paid_out]));
      expect(byId[counted]).toBe(true);
      expect(byId[late]).toBe(false);
    } finally {
      await database.close();
    }
  });
});

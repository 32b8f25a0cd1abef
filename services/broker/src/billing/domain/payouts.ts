import type Stripe from 'stripe';
import { isUuid } from '../../apps/index.js';
import { ApiFailure, invalidInput } from '../../shared/domain/api-failure.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import { countInvoicesBeingCollected, lockInvoicesToPayOut, markInvoicesPaidOut } from '../db/invoices.js';
import { lockPayoutRuns } from '../db/locks.js';
import {
  insertPayout,
  lastPayoutSequence,
  listPayoutsOfPeriod,
  listPayoutsToTransfer,
  markPayoutNoAccount,
  markPayoutPaid,
} from '../db/payouts.js';
import {
  findProviderBy,
  findRevenueShare,
  getProviderBilling,
  type ProviderBillingChanges,
  upsertProviderBilling,
} from '../db/providers.js';
import { monthBounds } from './money.js';

/**
 * How long after a month ends its first payout waits for the month's invoices still being
 * collected (draft or open); after that it pays what is paid, and the rest follows as
 * further payouts of the month when those invoices are paid.
 */
export const PAYOUT_WAIT_DAYS = 10;

export interface PayoutReport {
  period: string;
  /** Invoices of the period still being collected that its first payout waits for (0 once it does not wait). */
  waitingFor: number;
  /** Payout rows created by this run, any month (a late-paid invoice of an earlier month makes one too). */
  created: number;
  /** The period's payouts, first and later ones. */
  payouts: {
    provider: string;
    currency: string;
    sequence: number;
    grossCents: number;
    amountCents: number;
    state: string;
  }[];
  transfers: number;
  /** Transfers Stripe refused this run (each retried on the next run; the others went on). */
  transferFailures: { provider: string; period: string; error: string }[];
}

/**
 * Pays each provider its share of the paid (or ledger-only) invoice lines of its add-ons.
 * Every invoice is paid out once, whenever it is paid: the run takes the paid invoices no
 * payout has counted yet — of `period` (unless its first payout still waits, see
 * PAYOUT_WAIT_DAYS) and of any earlier month — and makes one row per provider, month and
 * currency of them (the month's first, or a further one numbered by `sequence`), marking
 * the invoices counted in the same transaction. A row's transfer is keyed by the row's id
 * and the destination account, and a paid row is never paid again.
 */
export async function runPayouts(ctx: BrokerContext, period: string, now = new Date()): Promise<PayoutReport> {
  const billing = ctx.billing;
  const { end } = monthBounds(period);
  if (end.getTime() > now.getTime()) throw invalidInput('period', `period ${period} has not ended yet`);
  const collecting = await countInvoicesBeingCollected(ctx.db, period);
  const waitUntil = end.getTime() + PAYOUT_WAIT_DAYS * 86_400_000;
  const waitingFor = collecting > 0 && now.getTime() < waitUntil ? collecting : 0;

  const created = await ctx.db.transaction().execute(async (trx) => {
    // One run at a time (the worker's lease, an admin's run): sequences are read and then written.
    await lockPayoutRuns(trx);
    const invoices = await lockInvoicesToPayOut(trx, period, waitingFor === 0);
    const groups = new Map<
      string,
      { providerId: string; period: string; currency: string; cents: number; ids: Set<string> }
    >();
    for (const invoice of invoices) {
      for (const line of invoice.lines) {
        const key = JSON.stringify([line.providerId, invoice.period, invoice.currency]);
        const group = groups.get(key) ?? {
          providerId: line.providerId,
          period: invoice.period,
          currency: invoice.currency,
          cents: 0,
          ids: new Set<string>(),
        };
        group.cents += line.cents;
        group.ids.add(invoice.id);
        groups.set(key, group);
      }
    }
    for (const group of groups.values()) {
      const share = revenueShareOf(billing, await findRevenueShare(trx, group.providerId));
      const amount = Math.floor(group.cents * share);
      const previous = await lastPayoutSequence(trx, group.providerId, group.period, group.currency);
      await insertPayout(trx, {
        provider_id: group.providerId,
        period: group.period,
        currency: group.currency,
        sequence: Number(previous ?? 0) + 1,
        invoice_ids: [...group.ids],
        gross_cents: group.cents,
        revenue_share: share,
        amount_cents: amount,
        state: amount === 0 ? 'nothing_due' : billing.mode === 'ledger-only' ? 'ledger_only' : 'pending',
      });
    }
    if (invoices.length > 0) {
      await markInvoicesPaidOut(
        trx,
        invoices.map((invoice) => invoice.id),
        now,
      );
    }
    return groups.size;
  });

  let transfers = 0;
  const transferFailures: PayoutReport['transferFailures'] = [];
  if (billing.stripe) {
    const due = await listPayoutsToTransfer(ctx.db);
    for (const payout of due) {
      if (!payout.stripe_account_id) {
        await markPayoutNoAccount(ctx.db, payout.id);
        continue;
      }
      let transfer: { id: string };
      try {
        // A transfer made for this row before a crash kept it from being marked paid: Stripe
        // forgets idempotency keys after a day, so look for it rather than trust the key.
        transfer =
          (await madeBefore(billing.stripe, payout.id, payout.period)) ??
          (await billing.stripe.transfers.create(
            {
              amount: payout.amount_cents,
              currency: payout.currency,
              destination: payout.stripe_account_id,
              transfer_group: `annex-${payout.period}`,
              metadata: {
                annex_payout: payout.id,
                annex_period: payout.period,
                annex_sequence: String(payout.sequence),
              },
            },
            // The destination is part of the key: after Stripe refused one account, a corrected
            // one is a new request, while a retry to the same account replays the first.
            { idempotencyKey: `annex-payout-${payout.id}-${payout.stripe_account_id}` },
          ));
      } catch (error) {
        // One provider's refused transfer (a restricted account) must not hold up the others'.
        ctx.logger.warn(
          { err: error, payout: payout.id, provider: payout.slug },
          'payout transfer refused; retried next run',
        );
        transferFailures.push({ provider: payout.slug, period: payout.period, error: (error as Error).message });
        continue;
      }
      if (await markPayoutPaid(ctx.db, payout.id, transfer.id)) transfers++;
    }
  }
  const rows = await listPayoutsOfPeriod(ctx.db, period);
  return {
    period,
    waitingFor,
    created,
    transfers,
    transferFailures,
    payouts: rows.map((r) => ({
      provider: r.slug,
      currency: r.currency,
      sequence: r.sequence,
      grossCents: r.gross_cents,
      amountCents: r.amount_cents,
      state: r.state,
    })),
  };
}

/** The share a provider's payouts use: its own setting, else the installation's default. */
export function revenueShareOf(
  billing: Pick<BrokerContext['billing'], 'defaultRevenueShare'>,
  settings: { revenue_share: unknown } | undefined,
): number {
  return settings === undefined || settings.revenue_share === null
    ? billing.defaultRevenueShare
    : Number(settings.revenue_share);
}

/** The transfer Stripe already holds for payout row `payoutId` (by its metadata), if any. */
async function madeBefore(stripe: Stripe, payoutId: string, period: string): Promise<{ id: string } | undefined> {
  for await (const transfer of stripe.transfers.list({ transfer_group: `annex-${period}`, limit: 100 })) {
    if (transfer.metadata?.annex_payout === payoutId) return transfer;
  }
  return undefined;
}

export interface ProviderBillingView {
  provider: string;
  revenueShare: number | null;
  stripeAccount: string | null;
}

/**
 * Sets what is given of a provider's payout settings (by its id or slug): its revenue share
 * (null: the installation's default) and its Stripe account.
 */
export async function setProviderBilling(
  ctx: BrokerContext,
  ref: string,
  settings: { revenueShare?: number | null | undefined; stripeAccount?: string | null | undefined },
): Promise<ProviderBillingView> {
  const provider = await findProviderBy(ctx.db, isUuid(ref) ? 'id' : 'slug', ref);
  if (!provider) throw new ApiFailure('not_found', `provider "${ref}" not found`);
  const values: ProviderBillingChanges = {
    ...(settings.revenueShare === undefined ? {} : { revenue_share: settings.revenueShare }),
    ...(settings.stripeAccount === undefined ? {} : { stripe_account_id: settings.stripeAccount }),
  };
  await upsertProviderBilling(ctx.db, provider.id, values);
  const row = await getProviderBilling(ctx.db, provider.id);
  return {
    provider: provider.slug,
    revenueShare: row.revenue_share === null ? null : Number(row.revenue_share),
    stripeAccount: row.stripe_account_id,
  };
}

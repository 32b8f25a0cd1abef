import type { InvoiceLine } from '@annex/platform';
import { isUuid } from '../../apps/index.js';
import { type ApiCaller, ApiFailure, invalidInput, mayAccess } from '../../shared/domain/api-failure.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import {
  findInvoice,
  findInvoiceOfMonth,
  type InvoiceRow,
  insertInvoiceIfAbsent,
  listDraftInvoices,
  listInvoicesOfOrganization,
  listInvoicesOfPeriod,
  listOrganizationsToInvoice,
  markDraftFinalized,
} from '../db/invoices.js';
import { lockOrgMonth } from '../db/locks.js';
import { getOrganizationSlug } from '../db/organizations.js';
import { ensureCustomer } from './accounts.js';
import { monthCharges } from './ledger.js';
import { monthBounds, roundCents } from './money.js';

export type { InvoiceRow } from '../db/invoices.js';

export interface InvoicingReport {
  period: string;
  created: number;
  pushed: number;
  skipped: number;
  invoices: { id: string; organizationId: string; state: string; totalCents: number }[];
}

function describeSeconds(seconds: number): string {
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return `${days}d ${hours}h ${minutes}m`;
}

/**
 * Invoices every organization with ledger entries in `period` (a month that has ended):
 * freezes each org's lines in one row per currency, then pushes draft rows to Stripe with
 * keys derived from the row, so a rerun (or a crash halfway) never bills twice.
 */
export async function runInvoicing(ctx: BrokerContext, period: string, now = new Date()): Promise<InvoicingReport> {
  const { start, end } = monthBounds(period);
  if (end.getTime() > now.getTime()) throw invalidInput('period', `period ${period} has not ended yet`);
  // Orgs already invoiced for the period are done (their lines are frozen): the job runs
  // hourly and must not recompute every org's month each time.
  const orgs = await listOrganizationsToInvoice(ctx.db, period, start, end);
  const report: InvoicingReport = { period, created: 0, pushed: 0, skipped: 0, invoices: [] };
  const ledgerOnly = ctx.billing.mode === 'ledger-only';
  for (const { organization_id: organizationId } of orgs) {
    report.created += await invoiceOrganization(ctx, organizationId, period, now);
  }
  // Push every draft of the period, including ones a crashed run left behind.
  const drafts = await listDraftInvoices(ctx.db, period);
  for (const invoice of drafts) {
    if (ledgerOnly) break;
    await pushInvoice(ctx, invoice);
    report.pushed++;
  }
  const all = await listInvoicesOfPeriod(ctx.db, period);
  report.skipped = all.length - report.created;
  report.invoices = all.map((i) => ({
    id: i.id,
    organizationId: i.organization_id,
    state: i.state,
    totalCents: i.total_cents,
  }));
  return report;
}

/** Sends a frozen invoice to Stripe: the invoice, one item per line, then finalizes it. */
async function pushInvoice(ctx: BrokerContext, invoice: InvoiceRow): Promise<void> {
  const stripe = ctx.billing.stripe;
  if (!stripe) return;
  const customer = await ensureCustomer(ctx, invoice.organization_id);
  const created = await stripe.invoices.create(
    {
      customer,
      currency: invoice.currency,
      collection_method: 'charge_automatically',
      auto_advance: false,
      pending_invoice_items_behavior: 'exclude',
      description: `Annex add-ons, ${invoice.period}`,
      metadata: { annex_invoice: invoice.id, annex_period: invoice.period },
    },
    { idempotencyKey: `annex-invoice-${invoice.id}` },
  );
  for (const [n, line] of invoice.lines.entries()) {
    if (line.cents === 0) continue;
    await stripe.invoiceItems.create(
      {
        customer,
        invoice: created.id,
        amount: line.cents,
        currency: invoice.currency,
        description: line.description,
        metadata: { annex_invoice: invoice.id, annex_line: String(n), annex_addon: line.addonId },
      },
      { idempotencyKey: `annex-invoice-${invoice.id}-line-${n}` },
    );
  }
  const finalized = await stripe.invoices.finalizeInvoice(
    created.id as string,
    { auto_advance: true },
    { idempotencyKey: `annex-invoice-${invoice.id}-finalize` },
  );
  // A webhook may have marked it paid meanwhile: only a draft becomes open.
  await markDraftFinalized(ctx.db, invoice.id, {
    state: finalized.status === 'paid' ? 'paid' : 'open',
    stripe_invoice_id: created.id as string,
    finalized_at: new Date(),
    paid_at: finalized.status === 'paid' ? new Date() : null,
  });
}

export interface InvoiceView {
  id: string;
  organization: string;
  period: string;
  state: string;
  totalCents: number;
  currency: string;
  stripeInvoice: string | null;
  lines: {
    kind: string;
    addon: string;
    app: string;
    plan: string;
    description: string;
    seconds?: number;
    unit?: string;
    quantity?: number;
    cents: number;
  }[];
  createdAt: string;
  paidAt: string | null;
}

/** The org's invoices, latest month first (at most 120). */
export async function listInvoices(ctx: BrokerContext, organizationId: string): Promise<{ invoices: InvoiceView[] }> {
  const org = await getOrganizationSlug(ctx.db, organizationId);
  const rows = await listInvoicesOfOrganization(ctx.db, organizationId, 120);
  return { invoices: rows.map((r) => invoiceView(r, org)) };
}

/** One invoice the caller may see, by id; not found otherwise. */
export async function getInvoice(ctx: BrokerContext, caller: ApiCaller, id: string): Promise<InvoiceView> {
  const row = isUuid(id) ? await findInvoice(ctx.db, id) : undefined;
  if (!row || !mayAccess(caller, row.organization_id)) throw new ApiFailure('not_found', `invoice "${id}" not found`);
  return invoiceView(row, await getOrganizationSlug(ctx.db, row.organization_id));
}

export function invoiceView(row: InvoiceRow, organization: string): InvoiceView {
  return {
    id: row.id,
    organization,
    period: row.period,
    state: row.state,
    totalCents: row.total_cents,
    currency: row.currency,
    stripeInvoice: row.stripe_invoice_id,
    lines: row.lines.map((l) => ({
      kind: l.kind,
      addon: l.addon,
      app: l.app,
      plan: l.plan,
      description: l.description,
      ...(l.seconds === undefined ? {} : { seconds: l.seconds }),
      ...(l.unit === undefined ? {} : { unit: l.unit }),
      ...(l.quantity === undefined ? {} : { quantity: l.quantity }),
      cents: l.cents,
    })),
    createdAt: row.created_at.toISOString(),
    paidAt: row.paid_at?.toISOString() ?? null,
  };
}

/**
 * Freezes one organization's invoices of `period` (one per currency) in one transaction that
 * holds the org's month exclusively: usage being stored for it is waited for and included,
 * usage arriving later is refused (recordUsage). Returns how many invoices it made.
 */
async function invoiceOrganization(
  ctx: BrokerContext,
  organizationId: string,
  period: string,
  now: Date,
): Promise<number> {
  const { end } = monthBounds(period);
  const ledgerOnly = ctx.billing.mode === 'ledger-only';
  return ctx.db.transaction().execute(async (trx) => {
    await lockOrgMonth(trx, organizationId, period, 'exclusive');
    // Another replica's run may have frozen them while this one waited for the lock.
    const done = await findInvoiceOfMonth(trx, organizationId, period);
    if (done) return 0;
    const charges = await monthCharges(trx, { organizationId }, period, end);
    const byCurrency = new Map<string, InvoiceLine[]>();
    for (const c of charges.addons) {
      const cents = roundCents(c.cents);
      const lines = byCurrency.get(c.currency) ?? [];
      lines.push({
        kind: 'plan',
        addonId: c.addonId,
        addon: c.addon,
        appId: c.appId,
        app: c.app,
        plan: c.plans.join(' → '),
        providerId: c.providerId,
        description: `${c.addon} (${c.plans.join(' → ')}) on ${c.app}: ${describeSeconds(c.seconds)}${c.capped ? ', capped at the monthly price' : ''}`,
        seconds: c.seconds,
        cents,
      });
      byCurrency.set(c.currency, lines);
    }
    for (const m of charges.metered) {
      const lines = byCurrency.get(m.currency) ?? [];
      lines.push({
        kind: 'metered',
        addonId: m.addonId,
        addon: m.addon,
        appId: m.appId,
        app: m.app,
        plan: m.plan,
        providerId: m.providerId,
        description: `${m.addon} on ${m.app}: ${m.quantity} × ${m.unit}`,
        unit: m.unit,
        quantity: m.quantity,
        cents: roundCents(m.cents),
      });
      byCurrency.set(m.currency, lines);
    }
    // All currencies of an org in one transaction: an org with any invoice of the period is done.
    let count = 0;
    for (const [currency, lines] of byCurrency) {
      const total = lines.reduce((sum, l) => sum + l.cents, 0);
      const inserted = await insertInvoiceIfAbsent(trx, {
        organization_id: organizationId,
        period,
        currency,
        // Nothing to collect: settled at once, never sent to Stripe.
        state: total === 0 ? 'paid' : ledgerOnly ? 'ledger_only' : 'draft',
        total_cents: total,
        lines: JSON.stringify(lines),
        stripe_invoice_id: null,
        paid_at: total === 0 ? now : null,
      });
      if (inserted) count++;
    }
    return count;
  });
}

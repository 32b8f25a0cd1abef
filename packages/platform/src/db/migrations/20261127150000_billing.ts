import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// Billing (docs/billing.md). The ledger (usage intervals and usage records) is the
// source of truth; invoices freeze their lines before anything is sent to Stripe, and every
// Stripe call's idempotency key derives from one of these rows' ids.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    create table billing_accounts (
      organization_id uuid primary key references organizations (id),
      stripe_customer_id text unique,
      default_payment_method text,
      payment_method_brand text,
      payment_method_last4 text,
      status text not null default 'good',
      past_due_since timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );

    create table usage_intervals (
      id uuid primary key default gen_random_uuid(),
      addon_id uuid not null references addons (id),
      organization_id uuid not null references organizations (id),
      app_id uuid not null references apps (id),
      plan_id uuid not null references plans (id),
      provider_id uuid not null references providers (id),
      price_cents integer not null,
      currency text not null,
      started_at timestamptz not null,
      ended_at timestamptz,
      created_at timestamptz not null default now()
    );
    create unique index usage_intervals_open on usage_intervals (addon_id) where ended_at is null;
    create index usage_intervals_org on usage_intervals (organization_id, started_at);

    create table usage_records (
      id uuid primary key default gen_random_uuid(),
      provider_id uuid not null references providers (id),
      idempotency_key text not null,
      addon_id uuid not null references addons (id),
      organization_id uuid not null references organizations (id),
      app_id uuid not null references apps (id),
      unit text not null,
      quantity numeric not null,
      unit_price numeric not null,
      currency text not null,
      at timestamptz not null,
      created_at timestamptz not null default now(),
      unique (provider_id, idempotency_key)
    );
    create index usage_records_org on usage_records (organization_id, at);

    create table spend_caps (
      organization_id uuid not null references organizations (id),
      scope text not null,
      app_id uuid references apps (id),
      limit_cents integer not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (organization_id, scope)
    );

    create table spend_alerts (
      organization_id uuid not null references organizations (id),
      scope text not null,
      month text not null,
      threshold integer not null,
      spent_cents numeric not null,
      limit_cents integer not null,
      created_at timestamptz not null default now(),
      primary key (organization_id, scope, month, threshold)
    );

    create table invoices (
      id uuid primary key default gen_random_uuid(),
      organization_id uuid not null references organizations (id),
      period text not null,
      state text not null,
      total_cents integer not null,
      currency text not null,
      lines jsonb not null,
      stripe_invoice_id text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      finalized_at timestamptz,
      paid_at timestamptz,
      failed_at timestamptz,
      unique (organization_id, period, currency)
    );

    create table stripe_events (
      id text primary key,
      type text not null,
      created timestamptz not null,
      received_at timestamptz not null default now(),
      outcome text not null
    );

    create table provider_billing (
      provider_id uuid primary key references providers (id),
      revenue_share numeric,
      stripe_account_id text,
      updated_at timestamptz not null default now()
    );

    create table provider_payouts (
      id uuid primary key default gen_random_uuid(),
      provider_id uuid not null references providers (id),
      period text not null,
      currency text not null,
      gross_cents integer not null,
      revenue_share numeric not null,
      amount_cents integer not null,
      state text not null,
      stripe_transfer_id text,
      created_at timestamptz not null default now(),
      paid_at timestamptz,
      unique (provider_id, period, currency)
    );

    create table billing_jobs (
      name text primary key,
      lease_owner text,
      lease_expires_at timestamptz,
      last_run_at timestamptz,
      last_result jsonb
    );
    `,
  );
}

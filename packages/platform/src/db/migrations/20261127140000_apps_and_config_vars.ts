import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// Apps, add-ons, attachments, versioned config vars and platform webhooks
// (docs/apps.md). Add-ons drive the broker's own OSB machinery: each add-on's id is the id
// of its service instance, each attachment's binding id the id of its service binding,
// both made by the built-in platform `annex-apps` so that no OSB platform can reach them.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    insert into platforms (slug, name, osb_username, osb_password_hash)
    values ('annex-apps', 'Annex apps (built in)', 'annex-apps-' || gen_random_uuid(), 'disabled')
    on conflict (slug) do nothing;

    alter table platforms add column webhook_url text;
    alter table platforms add column webhook_secret_sealed text;

    create table apps (
      id uuid primary key default gen_random_uuid(),
      name text not null unique,
      organization_id uuid not null references organizations (id),
      platform_id uuid references platforms (id),
      release_version integer not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create index apps_organization on apps (organization_id);

    create table addons (
      id uuid primary key,
      name text not null unique,
      organization_id uuid not null references organizations (id),
      app_id uuid not null references apps (id),
      service_id uuid not null references services (id),
      plan_id uuid not null references plans (id),
      parameters jsonb not null default '{}',
      state text not null,
      last_error text,
      lease_owner text,
      lease_expires_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      destroyed_at timestamptz
    );
    create index addons_app on addons (app_id);
    create index addons_organization on addons (organization_id);
    create index addons_pending on addons (lease_expires_at) where state in ('provisioning', 'changing_plan', 'destroying');

    -- Organizations an add-on's owner shared it with: their apps may attach it too.
    create table addon_shares (
      addon_id uuid not null references addons (id),
      organization_id uuid not null references organizations (id),
      created_at timestamptz not null default now(),
      primary key (addon_id, organization_id)
    );

    create table attachments (
      id uuid primary key default gen_random_uuid(),
      addon_id uuid not null references addons (id),
      app_id uuid not null references apps (id),
      name text not null,
      binding_id uuid not null,
      rotating_binding_id uuid,
      rotation_grace_seconds integer,
      replace_vars boolean not null default false,
      state text not null,
      last_error text,
      confirmed_release integer,
      lease_owner text,
      lease_expires_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      detached_at timestamptz
    );
    create unique index attachments_live_name on attachments (app_id, name) where detached_at is null;
    create index attachments_addon on attachments (addon_id);
    create index attachments_pending on attachments (lease_expires_at) where state in ('attaching', 'detaching', 'rotating');

    create table binding_retirements (
      binding_id uuid primary key,
      attachment_id uuid not null references attachments (id),
      app_id uuid not null references apps (id),
      release_version integer not null,
      revoke_after timestamptz not null,
      state text not null default 'waiting',
      created_at timestamptz not null default now(),
      revoked_at timestamptz
    );
    create index binding_retirements_due on binding_retirements (revoke_after) where state = 'waiting';

    create table config_vars (
      app_id uuid not null references apps (id),
      name text not null,
      value_sealed text not null,
      secret boolean not null default true,
      attachment_id uuid references attachments (id),
      primary key (app_id, name)
    );

    create table releases (
      id uuid primary key default gen_random_uuid(),
      app_id uuid not null references apps (id),
      version integer not null,
      diff jsonb not null,
      vars_sealed text not null,
      actor jsonb not null,
      reason text not null,
      created_at timestamptz not null default now(),
      unique (app_id, version)
    );

    create table app_events (
      id bigserial primary key,
      app_id uuid not null references apps (id),
      addon_id uuid,
      kind text not null,
      detail jsonb not null default '{}',
      created_at timestamptz not null default now()
    );
    create index app_events_app on app_events (app_id, id);

    create table webhook_deliveries (
      id uuid primary key default gen_random_uuid(),
      platform_id uuid not null references platforms (id),
      app_id uuid not null references apps (id),
      release_version integer,
      event_type text not null,
      payload jsonb not null,
      state text not null default 'pending',
      attempts integer not null default 0,
      next_attempt_at timestamptz not null default now(),
      last_status integer,
      last_error text,
      lease_owner text,
      lease_expires_at timestamptz,
      created_at timestamptz not null default now(),
      delivered_at timestamptz
    );
    create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where state = 'pending';
    create index webhook_deliveries_app on webhook_deliveries (app_id, created_at);
    `,
  );
}

import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// The broker: provider-side ids on instances, bindings, durable operations, audit log, JWT signing keys.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    alter table service_instances
      add column provider_id uuid references providers (id),
      add column provider_instance_id text,
      add column maintenance_info jsonb,
      add column originating_identity jsonb,
      add column token_id uuid,
      add column last_operation_id uuid;
    create unique index service_instances_provider_instance_idx on service_instances (provider_instance_id);

    create table service_bindings (
      id text primary key,
      instance_id text not null references service_instances (id),
      provider_binding_id text not null unique,
      platform_id uuid references platforms (id),
      app_guid text,
      bind_resource jsonb not null default '{}',
      parameters jsonb not null default '{}',
      context jsonb not null default '{}',
      predecessor_binding_id text,
      state text not null check (state in ('binding', 'bound', 'unbinding', 'failed', 'unbound')),
      credentials_sealed text,
      credentials_key_id text,
      details jsonb not null default '{}',
      last_operation_id uuid,
      originating_identity jsonb,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz
    );
    create index service_bindings_instance_idx on service_bindings (instance_id) where deleted_at is null;

    create table broker_operations (
      id uuid primary key default gen_random_uuid(),
      kind text not null check (kind in (
        'provision', 'update', 'deprovision', 'bind', 'unbind', 'orphan_deprovision', 'orphan_unbind')),
      instance_id text not null,
      binding_id text,
      provider_id uuid not null references providers (id),
      state text not null check (state in ('pending', 'polling', 'succeeded', 'failed')),
      request jsonb not null default '{}',
      accepts_incomplete boolean not null default true,
      provider_operation text,
      description text,
      result jsonb,
      instance_usable boolean,
      update_repeatable boolean,
      attempts integer not null default 0,
      next_attempt_at timestamptz not null default now(),
      poll_deadline_at timestamptz,
      lease_owner text,
      lease_expires_at timestamptz,
      platform_id uuid,
      token_id uuid,
      originating_identity jsonb,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      completed_at timestamptz
    );
    create index broker_operations_due_idx on broker_operations (next_attempt_at) where state in ('pending', 'polling');
    create index broker_operations_instance_idx on broker_operations (instance_id, created_at);

    create table broker_audit_log (
      id bigint generated always as identity primary key,
      at timestamptz not null default now(),
      actor_kind text not null,
      actor_id text,
      platform_id uuid,
      token_id uuid,
      originating_identity jsonb,
      action text not null,
      instance_id text,
      binding_id text,
      operation_id uuid,
      result text not null,
      detail jsonb not null default '{}'
    );
    create index broker_audit_log_instance_idx on broker_audit_log (instance_id, id);
    create index broker_audit_log_at_idx on broker_audit_log (at);

    create table broker_signing_keys (
      kid text primary key,
      alg text not null,
      public_jwk jsonb not null,
      private_key_sealed text not null,
      created_at timestamptz not null default now(),
      signs_from timestamptz not null,
      retired_at timestamptz
    );
  `,
  );
}

import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// Every call the broker makes to a provider (provision, bind, unbind, deprovision, update,
// last_operation, fetching an instance or binding): its outcome and latency, and for a
// failure what the provider answered (the OSB error key and description, never a success's
// body). Written in batches by the broker's call log, read by the provider's health page
// and the coarse health of each service; rows older than 30 days are pruned. No foreign keys:
// a batch must never fail because a provider or service was removed meanwhile.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    create table provider_calls (
      id bigint generated always as identity primary key,
      provider_id uuid not null,
      service_id uuid,
      operation text not null check (operation in (
        'provision', 'update', 'deprovision', 'bind', 'unbind', 'last_operation',
        'fetch_instance', 'fetch_binding', 'other')),
      outcome text not null check (outcome in ('ok', 'error', 'timeout', 'unreachable')),
      status smallint,
      latency_ms integer not null check (latency_ms >= 0),
      error text,
      description text,
      at timestamptz not null
    );
    create index provider_calls_provider_at on provider_calls (provider_id, at);
    create index provider_calls_service_at on provider_calls (service_id, at) where service_id is not null;
    create index provider_calls_at on provider_calls (at);
    `,
  );
}

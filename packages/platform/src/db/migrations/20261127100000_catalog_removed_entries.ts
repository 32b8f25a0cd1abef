import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// A service or plan removed from a provider's manifest is deleted, unless service_instances
// still reference it (instances deleted earlier keep their history): then it is marked
// removed, hidden from the catalog, and its slug released for reuse.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    alter table services add column removed_at timestamptz;
    alter table plans add column removed_at timestamptz;
    alter table plans drop constraint plans_service_id_slug_key;
    create unique index plans_service_slug_live_idx on plans (service_id, slug) where removed_at is null;
    alter table services drop constraint services_slug_key;
    create unique index services_slug_live_idx on services (slug) where removed_at is null;
    create index services_name_idx on services (name, id) where removed_at is null;
  `,
  );
}

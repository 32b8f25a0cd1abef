import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// Whether a service has a live public plan, kept by publishing. Anonymous and most
// catalog reads filter on it, instead of probing plans for every candidate service,
// which made search cost grow with the whole catalog rather than with its matches.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    alter table services add column has_public_plans boolean not null default false;
    update services s set has_public_plans = exists (
      select 1 from plans p where p.service_id = s.id and p.removed_at is null and p.visibility = 'public');
    `,
  );
}

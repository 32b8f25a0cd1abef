import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// Webhook secret rotation with an overlap (docs/apps.md, "Webhooks"): after a rotation the
// previous secret keeps signing deliveries beside the new one until it expires, so a
// platform can deploy the new secret to its receivers without rejecting a delivery.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    alter table platforms add column webhook_previous_secret_sealed text;
    alter table platforms add column webhook_previous_secret_expires_at timestamptz;
    `,
  );
}

import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// SSO hand-off into provider dashboards (docs/provider-protocol.md §2). Every
// token the broker mints is recorded by its `jti`: who was sent to which add-on's provider
// and until when the token could be used, so a provider's report of a token can be traced.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    create table sso_tokens (
      jti text primary key,
      addon_id uuid not null references addons (id),
      app_id uuid references apps (id),
      organization_id uuid not null references organizations (id),
      provider_id uuid not null references providers (id),
      user_id text not null,
      user_email text not null,
      user_name text not null,
      requested_by jsonb not null,
      issued_at timestamptz not null,
      expires_at timestamptz not null
    );
    create index sso_tokens_addon on sso_tokens (addon_id, issued_at);
    `,
  );
}

import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// People who work for a provider see its portal in the console (docs/provider-portal.md):
// an `annex_providers` claim at sign-in grants membership (`granted_by = 'claim'`, replaced
// by the next claim), and admins add and remove members by hand (`granted_by = 'admin'`,
// which a claim does not take away). A session of a member acts for one provider with a
// provider token minted for it, sealed, and revoked with the session like its org token.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    create table provider_members (
      user_id uuid not null references users (id) on delete cascade,
      provider_id uuid not null references providers (id) on delete cascade,
      role text not null default 'member' check (role in ('member', 'admin')),
      granted_by text not null default 'admin' check (granted_by in ('claim', 'admin')),
      created_at timestamptz not null default now(),
      primary key (user_id, provider_id)
    );
    create index provider_members_provider on provider_members (provider_id);

    alter table console_sessions
      add column provider_id uuid references providers (id) on delete set null,
      add column provider_token_id uuid references api_tokens (id) on delete set null,
      add column provider_token_sealed text;
    `,
  );
}

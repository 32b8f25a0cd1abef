import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// The web console: people who sign in with OpenID Connect, the organizations
// they belong to, and their sessions. Sessions live here, not in memory, so any console
// replica serves any request. A session's id is stored hashed; the org API token the
// console acts with is stored sealed and revoked with the session.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    create table users (
      id uuid primary key default gen_random_uuid(),
      oidc_issuer text not null,
      oidc_subject text not null,
      email text not null default '',
      name text not null default '',
      created_at timestamptz not null default now(),
      last_sign_in_at timestamptz not null default now(),
      unique (oidc_issuer, oidc_subject)
    );

    create table memberships (
      user_id uuid not null references users (id) on delete cascade,
      organization_id uuid not null references organizations (id) on delete cascade,
      role text not null default 'member' check (role in ('member', 'admin')),
      created_at timestamptz not null default now(),
      primary key (user_id, organization_id)
    );
    create index memberships_organization on memberships (organization_id);

    create table console_sessions (
      id_hash text primary key,
      user_id uuid not null references users (id) on delete cascade,
      organization_id uuid references organizations (id) on delete set null,
      csrf_secret text not null,
      api_token_id uuid references api_tokens (id) on delete set null,
      api_token_sealed text,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null
    );
    create index console_sessions_user on console_sessions (user_id);
    create index console_sessions_expires on console_sessions (expires_at);
    `,
  );
}

import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// Organizations, platforms and API tokens; providers and their published catalog.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    create table organizations (
      id uuid primary key default gen_random_uuid(),
      slug text not null unique,
      name text not null,
      created_at timestamptz not null default now()
    );

    create table platforms (
      id uuid primary key default gen_random_uuid(),
      slug text not null unique,
      name text not null,
      osb_username text not null unique,
      osb_password_hash text not null,
      created_at timestamptz not null default now()
    );

    create table platform_organizations (
      platform_id uuid not null references platforms (id) on delete cascade,
      organization_id uuid not null references organizations (id) on delete cascade,
      primary key (platform_id, organization_id)
    );

    create table providers (
      id uuid primary key default gen_random_uuid(),
      slug text not null unique,
      name text not null,
      description text not null default '',
      support_email text,
      support_url text,
      logo_url text,
      listing_state text not null default 'alpha'
        check (listing_state in ('alpha', 'beta', 'ga', 'deprecated')),
      osb_url text,
      osb_auth_kind text not null default 'jwt' check (osb_auth_kind in ('jwt', 'basic')),
      osb_username text,
      osb_password_secret text,
      owner_organization_id uuid references organizations (id),
      source text not null default 'manifest' check (source in ('manifest', 'osb_broker')),
      current_revision integer not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );

    create table provider_revisions (
      provider_id uuid not null references providers (id) on delete cascade,
      revision integer not null,
      digest text not null,
      manifest jsonb not null,
      published_by text not null,
      created_at timestamptz not null default now(),
      primary key (provider_id, revision)
    );

    create table api_tokens (
      id uuid primary key default gen_random_uuid(),
      kind text not null check (kind in ('admin', 'platform', 'provider', 'org')),
      name text not null,
      token_hash text not null unique,
      token_prefix text not null,
      scopes text[] not null default '{}',
      organization_id uuid references organizations (id) on delete cascade,
      platform_id uuid references platforms (id) on delete cascade,
      provider_id uuid references providers (id) on delete cascade,
      created_at timestamptz not null default now(),
      expires_at timestamptz,
      last_used_at timestamptz,
      revoked_at timestamptz,
      check (kind <> 'org' or organization_id is not null),
      check (kind <> 'platform' or platform_id is not null),
      check (kind <> 'provider' or provider_id is not null)
    );

    -- array_to_string is only STABLE; a generated column needs an IMMUTABLE expression.
    create function annex_words(text[]) returns text
      language sql immutable parallel safe
      as $$ select coalesce(array_to_string($1, ' '), '') $$;

    create table services (
      id uuid primary key default gen_random_uuid(),
      provider_id uuid not null references providers (id),
      osb_id text not null unique,
      slug text not null unique,
      name text not null,
      description text not null,
      category text not null check (category in (
        'databases', 'caches', 'ai-models', 'search', 'logging', 'monitoring', 'email', 'queues', 'other')),
      tags text[] not null default '{}',
      bindable boolean not null,
      plan_updateable boolean not null default false,
      instances_retrievable boolean not null default false,
      bindings_retrievable boolean not null default false,
      allow_context_updates boolean not null default false,
      requires text[] not null default '{}',
      documentation_url text,
      dashboard_client jsonb,
      config_vars text[] not null default '{}',
      regions text[] not null default '{}',
      metadata jsonb not null default '{}',
      status text not null default 'active' check (status in ('active', 'deprecated')),
      position integer not null default 0,
      search tsvector generated always as (
        setweight(to_tsvector('english', name), 'A') ||
        setweight(to_tsvector('english', slug), 'A') ||
        setweight(to_tsvector('english', annex_words(tags)), 'B') ||
        setweight(to_tsvector('english', description), 'C')
      ) stored,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create index services_search_idx on services using gin (search);
    create index services_category_idx on services (category, name, id);
    create index services_provider_idx on services (provider_id);
    create index services_tags_idx on services using gin (tags);

    create table plans (
      id uuid primary key default gen_random_uuid(),
      service_id uuid not null references services (id),
      osb_id text not null unique,
      slug text not null,
      name text not null,
      description text not null,
      free boolean not null,
      price_cents integer not null default 0 check (price_cents >= 0),
      currency text not null default 'usd',
      metered jsonb not null default '[]',
      bindable boolean,
      plan_updateable boolean,
      binding_rotatable boolean,
      maintenance_info jsonb,
      maximum_polling_duration integer,
      schemas jsonb,
      visibility text not null default 'public' check (visibility in ('public', 'private')),
      allowed_organizations text[] not null default '{}',
      regions text[] not null default '{}',
      metadata jsonb not null default '{}',
      status text not null default 'active' check (status in ('active', 'deprecated')),
      position integer not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (service_id, slug)
    );
    create index plans_service_idx on plans (service_id, position);

    -- The broker's record of an instance. Publishing reads it: a plan with live instances
    -- cannot be removed, only deprecated.
    create table service_instances (
      id text primary key,
      service_id uuid not null references services (id),
      plan_id uuid not null references plans (id),
      platform_id uuid references platforms (id),
      organization_guid text not null,
      space_guid text not null,
      context jsonb not null default '{}',
      parameters jsonb not null default '{}',
      state text not null,
      dashboard_url text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz
    );
    create index service_instances_plan_live_idx on service_instances (plan_id) where deleted_at is null;
  `,
  );
}

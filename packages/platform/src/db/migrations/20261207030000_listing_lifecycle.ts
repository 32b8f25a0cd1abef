import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// The listing lifecycle is per service (docs/provider-portal.md, "Listing lifecycle"):
// `services.stage` (alpha, beta, ga, deprecated) replaces the service's `status`, so that
// DEPRECATED is said one way only. Until now a provider's `listing_state` decided nothing
// (every stage was public), so the existing rows take the stage that keeps what everyone sees:
// a deprecated service stays deprecated, an `alpha` provider's services become BETA (public,
// marked), and `beta`, `ga` and `deprecated` providers' services take that stage. The
// provider's `listing_state` stays as the stage its manifest asks for by default.
//
// ALPHA services are seen by the organizations the provider invited (`service_invitations`);
// GA is reached only through an admin's approval of a request (`listing_reviews`).
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `alter table services add column stage text not null default 'beta'
       check (stage in ('alpha', 'beta', 'ga', 'deprecated'));
     update services s set stage = case
         when s.status = 'deprecated' then 'deprecated'
         when p.listing_state = 'alpha' then 'beta'
         else p.listing_state end
       from providers p where p.id = s.provider_id;
     alter table services drop column status;
     update providers set listing_state = 'beta' where listing_state = 'alpha';
     alter table providers alter column listing_state set default 'beta';

     create table service_invitations (
       service_id uuid not null references services(id) on delete cascade,
       organization_id uuid not null references organizations(id) on delete cascade,
       invited_by text not null,
       created_at timestamptz not null default now(),
       primary key (service_id, organization_id)
     );
     create index service_invitations_organization on service_invitations (organization_id);

     create table listing_reviews (
       id uuid primary key default gen_random_uuid(),
       service_id uuid not null references services(id) on delete cascade,
       stage text not null default 'ga' check (stage in ('ga')),
       state text not null default 'pending' check (state in ('pending', 'approved', 'rejected', 'withdrawn')),
       requested_by text not null,
       requested_at timestamptz not null default now(),
       reviewed_by text,
       reviewed_at timestamptz,
       reason text
     );
     create unique index listing_reviews_one_pending on listing_reviews (service_id) where state = 'pending';
     create index listing_reviews_state on listing_reviews (state, requested_at)`,
  );
}

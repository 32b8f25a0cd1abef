import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// Tokens now carry every scope they have (packages/platform/src/scopes.ts). Until now an org or
// platform token could do everything, and `config:read` only added reading config var values,
// so each keeps exactly what it could do: every scope but `config:read`, plus what it listed.
// A console session's token gets what the member's role allows: an admin every scope, a member
// all but `config:read` and `billing:write`. The scope names are written out here on purpose:
// a migration stays as it was when it landed.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    update api_tokens
       set scopes = array(
         select distinct s from unnest(scopes || array[
           'apps:read', 'apps:write', 'config:write', 'billing:read', 'billing:write', 'sso'
         ]::text[]) as s order by s)
     where kind in ('org', 'platform') and user_id is null;
    update api_tokens t
       set scopes = case m.role
         when 'admin' then array['apps:read', 'apps:write', 'config:read', 'config:write',
                                 'billing:read', 'billing:write', 'sso']::text[]
         else array['apps:read', 'apps:write', 'config:write', 'billing:read', 'sso']::text[] end
      from memberships m
     where t.kind = 'org' and t.user_id is not null
       and m.user_id = t.user_id and m.organization_id = t.organization_id;
    update api_tokens
       set scopes = array['apps:read', 'apps:write', 'config:write', 'billing:read', 'sso']::text[]
     where kind = 'org' and user_id is not null
       and not exists (select 1 from memberships m
                        where m.user_id = api_tokens.user_id and m.organization_id = api_tokens.organization_id);
    `,
  );
}

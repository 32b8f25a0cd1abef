import { type Kysely, sql } from 'kysely';
import { executeStatements } from '../migrate.js';

// Every provision's start record is written by `broker_start_provisionings`: the one-statement
// path of a new instance id, and the broker's locking path, which decides under the row lock
// that a deleted or failed instance is provisioned afresh (`p_renew`: that row is taken over
// with a new provider-side id instead of the insert giving way to it).
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(db, 'drop function broker_start_provisionings');
  await sql`
    create function broker_start_provisionings(
      p_ids text[], p_service_ids uuid[], p_plan_ids uuid[], p_platform_ids uuid[], p_organization_guids text[],
      p_space_guids text[], p_contexts jsonb[], p_parameters_sealed text[], p_provider_ids uuid[],
      p_provider_instance_ids text[], p_maintenance_infos jsonb[], p_originating_identities jsonb[], p_token_ids uuid[],
      p_operation_ids uuid[], p_requests jsonb[], p_accepts_incomplete boolean[],
      p_operation_originating_identities jsonb[], p_lease_owners text[], p_lease_ms integer[], p_actor_ids text[],
      p_audit_originating_identities jsonb[], p_details jsonb[], p_deferred_commit boolean, p_renew boolean)
    returns setof broker_operations
    language plpgsql as $$
    declare
      n integer;
      op broker_operations;
    begin
      -- Lasts until the end of this transaction: decides how this one commit is flushed.
      if p_deferred_commit then
        perform set_config('synchronous_commit', 'off', true);
      end if;
      for n in 1 .. coalesce(array_length(p_ids, 1), 0) loop
        if p_renew then
          -- The caller holds the row's lock and found it deleted or failed.
          insert into service_instances (
            id, service_id, plan_id, platform_id, organization_guid, space_guid, context, parameters_sealed, state,
            provider_id, provider_instance_id, maintenance_info, originating_identity, token_id, last_operation_id)
          values (
            p_ids[n], p_service_ids[n], p_plan_ids[n], p_platform_ids[n], p_organization_guids[n], p_space_guids[n],
            p_contexts[n], p_parameters_sealed[n], 'provisioning', p_provider_ids[n], p_provider_instance_ids[n],
            p_maintenance_infos[n], p_originating_identities[n], p_token_ids[n], p_operation_ids[n])
          on conflict (id) do update set
            service_id = excluded.service_id, plan_id = excluded.plan_id, platform_id = excluded.platform_id,
            organization_guid = excluded.organization_guid, space_guid = excluded.space_guid,
            context = excluded.context, parameters = '{}', parameters_sealed = excluded.parameters_sealed,
            state = 'provisioning', dashboard_url = null, deleted_at = null, provider_id = excluded.provider_id,
            provider_instance_id = excluded.provider_instance_id, maintenance_info = excluded.maintenance_info,
            originating_identity = excluded.originating_identity, token_id = excluded.token_id,
            last_operation_id = excluded.last_operation_id, updated_at = now()
          where service_instances.deleted_at is not null or service_instances.state = 'failed';
        else
          -- Any unique conflict (the id, or the deterministic provider-side id) leaves the row
          -- to the caller's locking path; a conflicting insert in flight is waited for first.
          insert into service_instances (
            id, service_id, plan_id, platform_id, organization_guid, space_guid, context, parameters_sealed, state,
            provider_id, provider_instance_id, maintenance_info, originating_identity, token_id, last_operation_id)
          values (
            p_ids[n], p_service_ids[n], p_plan_ids[n], p_platform_ids[n], p_organization_guids[n], p_space_guids[n],
            p_contexts[n], p_parameters_sealed[n], 'provisioning', p_provider_ids[n], p_provider_instance_ids[n],
            p_maintenance_infos[n], p_originating_identities[n], p_token_ids[n], p_operation_ids[n])
          on conflict do nothing;
        end if;
        if found then
          insert into broker_operations (
            id, kind, instance_id, provider_id, state, request, accepts_incomplete, platform_id, token_id,
            originating_identity, lease_owner, lease_expires_at)
          values (
            p_operation_ids[n], 'provision', p_ids[n], p_provider_ids[n], 'pending', p_requests[n],
            p_accepts_incomplete[n], p_platform_ids[n], p_token_ids[n], p_operation_originating_identities[n],
            p_lease_owners[n], now() + p_lease_ms[n] * interval '1 millisecond')
          returning * into op;
          insert into broker_audit_log (
            actor_kind, actor_id, platform_id, token_id, originating_identity, action, instance_id, operation_id,
            result, detail)
          values (
            'platform', p_actor_ids[n], p_platform_ids[n], p_token_ids[n], p_audit_originating_identities[n],
            'provision.requested', p_ids[n], p_operation_ids[n], 'pending', p_details[n]);
          return next op;
        end if;
      end loop;
    end $$
  `.execute(db);
}

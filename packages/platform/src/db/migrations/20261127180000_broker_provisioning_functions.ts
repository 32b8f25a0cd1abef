import { type Kysely, sql } from 'kysely';

// The broker's hot statements as functions over arrays, so that one round trip and one
// commit can record many concurrent provisions (services/broker/src/db/provisioning.ts):
// the start record, the completion, and a synchronous provision the provider finished at
// once, recorded whole.
// Each row is its own single-row statement inside: every lookup is by primary key with a
// plan that does not depend on how many rows the tables had when it was first planned.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function broker_start_provisionings(
      p_ids text[], p_service_ids uuid[], p_plan_ids uuid[], p_platform_ids uuid[], p_organization_guids text[],
      p_space_guids text[], p_contexts jsonb[], p_parameters jsonb[], p_provider_ids uuid[],
      p_provider_instance_ids text[], p_maintenance_infos jsonb[], p_originating_identities jsonb[], p_token_ids uuid[],
      p_operation_ids uuid[], p_requests jsonb[], p_accepts_incomplete boolean[],
      p_operation_originating_identities jsonb[], p_lease_owners text[], p_lease_ms integer[], p_actor_ids text[],
      p_audit_originating_identities jsonb[], p_details jsonb[], p_deferred_commit boolean)
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
        -- Any unique conflict (the id, or the deterministic provider-side id) leaves the row
        -- to the caller's locking path; a conflicting insert in flight is waited for first.
        insert into service_instances (
          id, service_id, plan_id, platform_id, organization_guid, space_guid, context, parameters, state,
          provider_id, provider_instance_id, maintenance_info, originating_identity, token_id, last_operation_id)
        values (
          p_ids[n], p_service_ids[n], p_plan_ids[n], p_platform_ids[n], p_organization_guids[n], p_space_guids[n],
          p_contexts[n], p_parameters[n], 'provisioning', p_provider_ids[n], p_provider_instance_ids[n],
          p_maintenance_infos[n], p_originating_identities[n], p_token_ids[n], p_operation_ids[n])
        on conflict do nothing;
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
  await sql`
    create function broker_complete_provisionings(
      p_operation_ids uuid[], p_lease_owners text[], p_descriptions text[], p_results jsonb[],
      p_provider_instance_ids text[], p_dashboard_urls text[], p_actor_kinds text[], p_actor_ids text[],
      p_platform_ids uuid[], p_token_ids uuid[], p_originating_identities jsonb[])
    returns setof broker_operations
    language plpgsql as $$
    declare
      n integer;
      op broker_operations;
    begin
      for n in 1 .. coalesce(array_length(p_operation_ids, 1), 0) loop
        -- Only while this owner still leases it and it is not terminal yet.
        update broker_operations
        set state = 'succeeded', description = p_descriptions[n], result = p_results[n], completed_at = now(),
          lease_owner = null, lease_expires_at = null, updated_at = now()
        where id = p_operation_ids[n] and state in ('pending', 'polling') and lease_owner = p_lease_owners[n]
        returning * into op;
        if found then
          -- Only if it is still the provisioning of this provider-side id.
          update service_instances
          set state = 'provisioned', updated_at = now(), dashboard_url = coalesce(p_dashboard_urls[n], dashboard_url)
          where id = op.instance_id and provider_instance_id = p_provider_instance_ids[n] and state = 'provisioning';
          insert into broker_audit_log (
            actor_kind, actor_id, platform_id, token_id, originating_identity, action, instance_id, operation_id,
            result, detail)
          values (
            p_actor_kinds[n], p_actor_ids[n], p_platform_ids[n], p_token_ids[n], p_originating_identities[n],
            'provision.succeeded', op.instance_id, op.id, 'succeeded', '{}');
          return next op;
        end if;
      end loop;
    end $$
  `.execute(db);
  await sql`
    create function broker_record_provisions(
      p_ids text[], p_service_ids uuid[], p_plan_ids uuid[], p_platform_ids uuid[], p_organization_guids text[],
      p_space_guids text[], p_contexts jsonb[], p_parameters jsonb[], p_provider_ids uuid[],
      p_provider_instance_ids text[], p_maintenance_infos jsonb[], p_originating_identities jsonb[], p_token_ids uuid[],
      p_operation_ids uuid[], p_requests jsonb[], p_operation_originating_identities jsonb[], p_actor_ids text[],
      p_audit_originating_identities jsonb[], p_details jsonb[], p_descriptions text[], p_results jsonb[],
      p_dashboard_urls text[])
    returns setof broker_operations
    language plpgsql as $$
    declare
      n integer;
      op broker_operations;
    begin
      for n in 1 .. coalesce(array_length(p_ids, 1), 0) loop
        insert into service_instances (
          id, service_id, plan_id, platform_id, organization_guid, space_guid, context, parameters, state,
          dashboard_url, provider_id, provider_instance_id, maintenance_info, originating_identity, token_id,
          last_operation_id)
        values (
          p_ids[n], p_service_ids[n], p_plan_ids[n], p_platform_ids[n], p_organization_guids[n], p_space_guids[n],
          p_contexts[n], p_parameters[n], 'provisioned', p_dashboard_urls[n], p_provider_ids[n],
          p_provider_instance_ids[n], p_maintenance_infos[n], p_originating_identities[n], p_token_ids[n],
          p_operation_ids[n])
        on conflict do nothing;
        if found then
          insert into broker_operations (
            id, kind, instance_id, provider_id, state, request, accepts_incomplete, platform_id, token_id,
            originating_identity, description, result, completed_at)
          values (
            p_operation_ids[n], 'provision', p_ids[n], p_provider_ids[n], 'succeeded', p_requests[n], false,
            p_platform_ids[n], p_token_ids[n], p_operation_originating_identities[n], p_descriptions[n], p_results[n],
            now())
          returning * into op;
          insert into broker_audit_log (
            actor_kind, actor_id, platform_id, token_id, originating_identity, action, instance_id, operation_id,
            result, detail)
          values
            ('platform', p_actor_ids[n], p_platform_ids[n], p_token_ids[n], p_audit_originating_identities[n],
              'provision.requested', p_ids[n], p_operation_ids[n], 'pending', p_details[n]),
            ('platform', p_actor_ids[n], p_platform_ids[n], p_token_ids[n], p_audit_originating_identities[n],
              'provision.succeeded', p_ids[n], p_operation_ids[n], 'succeeded', '{}');
          return next op;
        end if;
      end loop;
    end $$
  `.execute(db);
}

import { type Kysely, sql } from 'kysely';
import { executeStatements } from '../migrate.js';

// Provisioning parameters may carry passwords: they are kept sealed with the installation's
// SecretBox (AES-256-GCM), as binding credentials are. Instances, bindings and add-ons get a
// `parameters_sealed` column (the plain `parameters` column stays '{}' for new rows); the
// operations' requests keep theirs sealed inside the request document. The key is not
// reachable here: rows written before this migration are sealed by the broker at start-up
// (services/broker/src/domain/parameters.ts), and read as they are until then.
// The provisioning functions of 20261127180000 are replaced: they now take the sealed
// parameters of each new instance instead of plain ones.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    alter table service_instances add column parameters_sealed text;
    alter table service_bindings add column parameters_sealed text;
    alter table addons add column parameters_sealed text;
    drop function broker_start_provisionings;
    drop function broker_record_provisions;
  `,
  );
  await sql`
    create function broker_start_provisionings(
      p_ids text[], p_service_ids uuid[], p_plan_ids uuid[], p_platform_ids uuid[], p_organization_guids text[],
      p_space_guids text[], p_contexts jsonb[], p_parameters_sealed text[], p_provider_ids uuid[],
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
          id, service_id, plan_id, platform_id, organization_guid, space_guid, context, parameters_sealed, state,
          provider_id, provider_instance_id, maintenance_info, originating_identity, token_id, last_operation_id)
        values (
          p_ids[n], p_service_ids[n], p_plan_ids[n], p_platform_ids[n], p_organization_guids[n], p_space_guids[n],
          p_contexts[n], p_parameters_sealed[n], 'provisioning', p_provider_ids[n], p_provider_instance_ids[n],
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
    create function broker_record_provisions(
      p_ids text[], p_service_ids uuid[], p_plan_ids uuid[], p_platform_ids uuid[], p_organization_guids text[],
      p_space_guids text[], p_contexts jsonb[], p_parameters_sealed text[], p_provider_ids uuid[],
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
          id, service_id, plan_id, platform_id, organization_guid, space_guid, context, parameters_sealed, state,
          dashboard_url, provider_id, provider_instance_id, maintenance_info, originating_identity, token_id,
          last_operation_id)
        values (
          p_ids[n], p_service_ids[n], p_plan_ids[n], p_platform_ids[n], p_organization_guids[n], p_space_guids[n],
          p_contexts[n], p_parameters_sealed[n], 'provisioned', p_dashboard_urls[n], p_provider_ids[n],
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

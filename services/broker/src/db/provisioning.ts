import { createHash } from 'node:crypto';
import { type DB, executePrepared } from '@annex/platform';
import { type Kysely, sql } from 'kysely';
import type { Executor } from './executor.js';
import type { OperationRow } from './operations.js';

export interface NewProvisioning {
  instance: {
    id: string;
    serviceId: string;
    planId: string;
    platformId: string;
    organizationGuid: string;
    spaceGuid: string;
    context: string;
    parameters: string;
    providerId: string;
    providerInstanceId: string;
    maintenanceInfo: string | null;
    originatingIdentity: string | null;
    tokenId: string | null;
  };
  operation: {
    id: string;
    request: string;
    acceptsIncomplete: boolean;
    originatingIdentity: string | null;
    leaseOwner: string;
    leaseMs: number;
  };
  audit: { actorId: string | null; originatingIdentity: string | null; detail: string };
  /**
   * `deferred`: commit with `synchronous_commit = off` (PostgreSQL only). Allowed only when
   * nothing is answered to the platform before a later synchronous commit, which flushes
   * the WAL up to and including this one (see docs/broker.md, "Durability of the start record").
   */
  commit?: 'durable' | 'deferred';
}

const servers = new WeakMap<object, Promise<boolean>>();

/**
 * Whether `db` is a PostgreSQL server (true) rather than PGlite in process (false).
 * Asked once per database handle.
 */
export function isPostgresServer(db: Kysely<DB>): Promise<boolean> {
  let known = servers.get(db);
  if (!known) {
    known = sql<{ version: string }>`select version() as version`
      .execute(db)
      .then((result) => !String(result.rows[0]?.version ?? '').includes('PGlite'));
    servers.set(db, known);
    known.catch(() => servers.delete(db));
  }
  return known;
}

/** A name-based UUID (version 5, SHA-1; RFC 9562 section 5.5) of `name` in `namespace`. */
export function uuidV5(namespace: string, name: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The fixed namespace of provider-side instance ids. Never change it: live instances depend on it. */
export const PROVIDER_INSTANCE_NAMESPACE = '4b0f3a4e-8e6d-4f1c-9a57-c2d1b0e3f6a8';

/**
 * The provider-side id of a platform's instance, the same on every attempt: a UUID v5 of
 * `${platformId}:${instanceId}`. A platform's retried PUT reaches the same provider
 * instance, and a DELETE the broker has no record of can still reach it.
 */
export function deterministicProviderInstanceId(platformId: string, instanceId: string): string {
  return uuidV5(PROVIDER_INSTANCE_NAMESPACE, `${platformId}:${instanceId}`);
}

/**
 * The common case of a provision in one statement (one round trip, one commit): the
 * instance row, its leased provision operation and the audit entry. Inserts nothing and
 * returns undefined when the instance id exists already (the caller then takes the
 * locking path). Any unique conflict counts: two requests for one new instance carry the
 * same deterministic provider-side id, and the second must wait and find the first's row,
 * not fail on that id's unique index.
 */
export async function insertNewProvisioning(db: Executor, values: NewProvisioning): Promise<OperationRow | undefined> {
  const { instance: i, operation: o, audit: a } = values;
  // set_config(..., true) lasts until the end of this statement's own transaction, so it
  // decides how this one commit is flushed and nothing else.
  const deferred =
    values.commit === 'deferred'
      ? sql`cross join (select set_config('synchronous_commit', 'off', true)) as deferred_commit`
      : sql``;
  const rows = await executePrepared(
    db,
    values.commit === 'deferred' ? 'insert_new_provisioning_deferred' : 'insert_new_provisioning',
    sql<OperationRow>`
    with i as (
      insert into service_instances (
        id, service_id, plan_id, platform_id, organization_guid, space_guid, context, parameters, state,
        provider_id, provider_instance_id, maintenance_info, originating_identity, token_id, last_operation_id)
      values (
        ${i.id}, ${i.serviceId}, ${i.planId}, ${i.platformId}, ${i.organizationGuid}, ${i.spaceGuid}, ${i.context},
        ${i.parameters}, 'provisioning', ${i.providerId}, ${i.providerInstanceId}, ${i.maintenanceInfo},
        ${i.originatingIdentity}, ${i.tokenId}, ${o.id})
      on conflict do nothing
      returning id
    ), o as (
      insert into broker_operations (
        id, kind, instance_id, provider_id, state, request, accepts_incomplete, platform_id, token_id,
        originating_identity, lease_owner, lease_expires_at)
      select ${o.id}::uuid, 'provision', i.id, ${i.providerId}::uuid, 'pending', ${o.request}::jsonb,
        ${o.acceptsIncomplete}::boolean, ${i.platformId}::uuid, ${i.tokenId}::uuid, ${o.originatingIdentity}::jsonb,
        ${o.leaseOwner}::text, now() + ${`${o.leaseMs} milliseconds`}::interval
      from i
      returning *
    ), a as (
      insert into broker_audit_log (
        actor_kind, actor_id, platform_id, token_id, originating_identity, action, instance_id, operation_id, result,
        detail)
      select 'platform', ${a.actorId}::text, ${i.platformId}::uuid, ${i.tokenId}::uuid, ${a.originatingIdentity}::jsonb,
        'provision.requested', o.instance_id, o.id, 'pending', ${a.detail}::jsonb
      from o
    )
    select o.* from o ${deferred}`,
  );
  return rows[0];
}

export interface ProvisioningSuccess {
  operationId: string;
  instanceId: string;
  providerInstanceId: string;
  leaseOwner: string;
  description: string | null;
  result: string;
  dashboardUrl: string | null;
  audit: {
    actorKind: string;
    actorId: string | null;
    platformId: string | null;
    tokenId: string | null;
    originatingIdentity: string | null;
  };
}

/**
 * A provision's success in one statement, and so one durable commit: the operation
 * (only if this owner still leases it and it is not terminal yet), the instance (only if
 * it is still the provisioning of this provider-side id) and the audit entry. Returns
 * undefined when the operation was not ours to finish.
 */
export async function completeProvisioning(db: Executor, v: ProvisioningSuccess): Promise<OperationRow | undefined> {
  const rows = await executePrepared(
    db,
    'complete_provisioning',
    sql<OperationRow>`
    with o as (
      update broker_operations
      set state = 'succeeded', description = ${v.description}, result = ${v.result}::jsonb, completed_at = now(),
        lease_owner = null, lease_expires_at = null, updated_at = now()
      where id = ${v.operationId} and state in ('pending', 'polling') and lease_owner = ${v.leaseOwner}
      returning *
    ), i as (
      update service_instances
      set state = 'provisioned', updated_at = now(), dashboard_url = coalesce(${v.dashboardUrl}, dashboard_url)
      where id = (select instance_id from o) and provider_instance_id = ${v.providerInstanceId}
        and state = 'provisioning'
      returning id
    ), a as (
      insert into broker_audit_log (
        actor_kind, actor_id, platform_id, token_id, originating_identity, action, instance_id, operation_id, result,
        detail)
      select ${v.audit.actorKind}, ${v.audit.actorId}::text, ${v.audit.platformId}::uuid, ${v.audit.tokenId}::uuid,
        ${v.audit.originatingIdentity}::jsonb, 'provision.succeeded', o.instance_id, o.id, 'succeeded', '{}'::jsonb
      from o
    )
    select * from o`,
  );
  return rows[0];
}

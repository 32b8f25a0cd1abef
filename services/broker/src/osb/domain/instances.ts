import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { PlanContext } from '../../shared/db/catalog.js';
import { findPlanById, findProviderById } from '../../shared/db/catalog.js';
import { type Actor, actorOf, recordAudit } from '../../shared/domain/audit.js';
import {
  checkParameters,
  newInstanceRefusal,
  planOffered,
  planUpdateable,
  resolvePlan,
} from '../../shared/domain/catalog.js';
import { type BrokerContext, type Caller, ownedBy } from '../../shared/domain/context.js';
import {
  asyncRequired,
  BrokerFailure,
  badRequest,
  concurrencyError,
  conflict,
  gone,
  notFound,
} from '../../shared/domain/errors.js';
import { findInstance, type InstanceRow, liveInstanceHolds, updateInstance } from '../db/instances.js';
import { findOperation, type OperationRow, orphanMitigationExists } from '../db/operations.js';
import {
  deterministicProviderInstanceId,
  insertNewProvisioning,
  isPostgresServer,
  type NewProvisioning,
  recordProvisioned,
  renewProvisioning,
} from '../db/provisioning.js';
import {
  acceptedAnswer,
  createOperation,
  earlyProvisionAnswer,
  firstProvisionCall,
  leaseOwner,
  type OperationRequest,
  publicResult,
  runInRequest,
  scheduleOrphanMitigation,
  unfinishedAnswer,
} from './operations.js';
import { sealParameters, sealRequest, storedParameters } from './parameters.js';
import type { ProviderResponse } from './provider-client.js';
import type { OperationOutcome } from './results.js';

type Started =
  | { replay: OperationOutcome }
  | { retry: true }
  | { unknown: true }
  | { op: OperationRow; halting?: boolean };

export interface MaintenanceInfoInput {
  version: string;
  description?: string | undefined;
}

export interface ProvisionInput {
  instanceId: string;
  serviceId: string;
  planId: string;
  organizationGuid: string;
  spaceGuid: string;
  context: Record<string, unknown>;
  parameters: Record<string, unknown>;
  maintenanceInfo: MaintenanceInfoInput | undefined;
  acceptsIncomplete: boolean;
}

function checkMaintenanceInfo(plan: PlanContext, requested: MaintenanceInfoInput | undefined): void {
  if (!requested) return;
  const current = plan.plan.maintenance_info;
  if (!current || current.version !== requested.version) {
    throw new BrokerFailure(
      'MaintenanceInfoConflict',
      current
        ? `maintenance_info.version "${requested.version}" does not match the plan's "${current.version}"`
        : `plan "${plan.plan.osb_id}" has no maintenance_info; maintenance_info.version "${requested.version}" is unknown`,
    );
  }
}

function operationAnswer(op: OperationRow, created: boolean): OperationOutcome {
  if (op.state === 'succeeded') return succeededAnswer((op.result ?? {}) as Record<string, unknown>, created);
  return unfinishedAnswer(op);
}

/** The answer to a provision that succeeded with `result` (the operation's stored result). */
function succeededAnswer(result: Record<string, unknown>, created: boolean): OperationOutcome {
  const body: Record<string, unknown> = {};
  if (typeof result.dashboard_url === 'string') body.dashboard_url = result.dashboard_url;
  if (result.metadata !== undefined) body.metadata = result.metadata;
  return created ? { kind: 'created', body } : { kind: 'ok', body };
}

/**
 * The start record of a provision asking the provider `request` (made by `provisionRequest`
 * for its provider-side id): instance, leased operation, audit entry, as
 * `broker_start_provisionings` writes it on every path.
 */
function provisioningRecord(
  ctx: BrokerContext,
  caller: Caller,
  input: ProvisionInput,
  plan: PlanContext,
  actor: Actor,
  owner: string,
  operationId: string,
  request: OperationRequest,
): Omit<NewProvisioning, 'commit'> {
  const originating = actor.originatingIdentity ? JSON.stringify(actor.originatingIdentity) : null;
  return {
    instance: {
      id: input.instanceId,
      serviceId: plan.service.id,
      planId: plan.plan.id,
      platformId: caller.platformId,
      organizationGuid: input.organizationGuid,
      spaceGuid: input.spaceGuid,
      context: JSON.stringify(input.context),
      parametersSealed: sealParameters(ctx.secretBox, input.parameters),
      providerId: plan.provider.id,
      providerInstanceId: request.provider_instance_id,
      maintenanceInfo: input.maintenanceInfo ? JSON.stringify(input.maintenanceInfo) : null,
      originatingIdentity: originating,
      tokenId: caller.tokenId,
    },
    operation: {
      id: operationId,
      request: JSON.stringify(sealRequest(ctx.secretBox, request)),
      acceptsIncomplete: input.acceptsIncomplete,
      originatingIdentity: actor.originatingIdentity
        ? JSON.stringify({ ...actor.originatingIdentity, header: caller.originatingIdentity?.header ?? null })
        : null,
      leaseOwner: owner,
      leaseMs: ctx.settings.leaseMs,
    },
    audit: {
      actorId: caller.tokenId ?? caller.platformId,
      originatingIdentity: originating,
      detail: JSON.stringify({ plan: plan.plan.osb_id, service: plan.service.osb_id }),
    },
  };
}

/** What the provider is asked for a provision under `providerInstanceId`. */
function provisionRequest(plan: PlanContext, input: ProvisionInput, providerInstanceId: string): OperationRequest {
  return {
    provider_instance_id: providerInstanceId,
    service_osb_id: plan.service.osb_id,
    plan_osb_id: plan.plan.osb_id,
    body: {
      service_id: plan.service.osb_id,
      plan_id: plan.plan.osb_id,
      organization_guid: input.organizationGuid,
      space_guid: input.spaceGuid,
      context: input.context,
      parameters: input.parameters,
      ...(input.maintenanceInfo ? { maintenance_info: input.maintenanceInfo } : {}),
    },
  };
}

/**
 * A synchronous provision's provider call that went out before its id turned out to be
 * taken. If the provider may have created something under that provider-side id and no
 * live instance of the broker's has it, an orphan mitigation deletes it there. (When a
 * live instance has it, the call was the same instance's identical re-PUT: harmless.)
 */
async function settleStrayCall(
  ctx: BrokerContext,
  sent: Promise<ProviderResponse>,
  stray: { plan: PlanContext; request: OperationRequest; actor: Actor; instanceId: string; operationId: string },
): Promise<void> {
  const response = await sent;
  // A 4xx means the provider created nothing (409 for different attributes, 422 while busy).
  if (response.kind === 'refused' || (response.kind === 'answer' && response.status >= 400 && response.status < 500)) {
    return;
  }
  if (await liveInstanceHolds(ctx.db, stray.request.provider_instance_id)) return;
  await ctx.db.transaction().execute((trx) =>
    scheduleOrphanMitigation(trx, {
      kind: 'orphan_deprovision',
      instanceId: stray.instanceId,
      bindingId: null,
      providerId: stray.plan.provider.id,
      request: stray.request,
      actor: stray.actor,
      after: stray.operationId,
      reason: 'a provision call sent while another request held the instance id',
    }),
  );
}

/**
 * Provisions an instance (`PUT /v2/service_instances/:id`). Idempotent: an identical
 * request answers 200 when done or 202 with the same operation while in progress.
 */
export async function provisionInstance(
  ctx: BrokerContext,
  caller: Caller,
  input: ProvisionInput,
): Promise<OperationOutcome> {
  const plan = await resolvePlan(ctx.db, input.serviceId, input.planId, ctx.caches.plans);
  const refusal = newInstanceRefusal(plan.service, plan.invitedOrganizations, caller.organizations);
  const offered = planOffered(plan.plan, caller.organizations);
  const actor = actorOf(caller);
  const owner = leaseOwner(ctx);
  // Checked up front but raised only for a new instance: existing ones keep working on
  // deprecated or hidden plans, and an identical re-PUT must still answer 200/202.
  let problem: unknown;
  try {
    if (refusal !== null) throw badRequest(refusal);
    if (!offered) throw badRequest(`plan_id "${input.planId}" is not offered to this platform`);
    checkMaintenanceInfo(plan, input.maintenanceInfo);
    checkParameters(plan.plan.schemas?.service_instance?.create?.parameters, input.parameters, 'provision');
  } catch (error) {
    problem = error;
  }
  const operationId = randomUUID();
  // A new instance gets the provider-side id derived from the platform's own ids, so a
  // retried PUT (after a start record lost in a database crash) reaches the same provider
  // instance; an id provisioned afresh after a delete or failure gets a random one.
  const stableProviderInstanceId = deterministicProviderInstanceId(caller.platformId, input.instanceId);
  const request = provisionRequest(plan, input, stableProviderInstanceId);
  const context: ProvisionContext = { plan, problem, request, operationId, actor, owner };
  if (problem === undefined) {
    // A new id (the common case): one statement; an existing id falls through to the locking path.
    const record = provisioningRecord(ctx, caller, input, plan, actor, owner, operationId, request);
    // The synchronous fast path (docs/broker.md): the provider is called at once; if it
    // finishes within BROKER_SYNC_RECORD_AFTER_MS, the provision is recorded whole in one
    // statement. Otherwise the start record is written then, and the call goes on as usual.
    const recordAfterMs = ctx.settings.syncRecordAfterMs ?? 0;
    const provider =
      input.acceptsIncomplete || recordAfterMs <= 0
        ? undefined
        : await ctx.caches.providers.get(plan.provider.id, () => findProviderById(ctx.db, plan.provider.id));
    let sent: Promise<ProviderResponse> | undefined;
    if (provider) {
      const header = actor.originatingIdentity ? (caller.originatingIdentity?.header ?? null) : null;
      sent = ctx.providers
        .call(provider, firstProvisionCall(operationId, request, header))
        .catch((error: unknown): ProviderResponse => ({ kind: 'unreachable', message: (error as Error).message }));
      const answered = await settledWithin(sent, recordAfterMs);
      const early = answered && earlyProvisionAnswer(answered);
      if (early?.kind === 'busy') {
        // The provider is working on this very id for another request: nothing is recorded.
        throw concurrencyError('the provider is already provisioning this instance');
      }
      if (early?.kind === 'created') {
        const body = early.body;
        const result = publicResult(body);
        const recorded = await recordProvisioned(ctx.db, {
          ...record,
          outcome: {
            description: typeof body.description === 'string' ? body.description : null,
            result: JSON.stringify(result),
            dashboardUrl: typeof body.dashboard_url === 'string' ? body.dashboard_url : null,
          },
        });
        // Answered from what was just committed, as the operation row now holds it.
        if (recorded) return succeededAnswer(result, true);
        return provisionAfterStrayCall(ctx, caller, input, sent, context);
      }
    }
    // A synchronous provision answers only after a synchronous commit (or with an error),
    // so on PostgreSQL its start record may be committed without waiting for the WAL flush.
    // An async-allowed one may answer 202 right after it: durable.
    const deferred = !input.acceptsIncomplete && (await isPostgresServer(ctx.db));
    const op = await insertNewProvisioning(ctx.db, { ...record, commit: deferred ? 'deferred' : 'durable' });
    if (op) {
      return operationAnswer(await runInRequest(ctx, op, owner, sent), true);
    }
    if (sent) return provisionAfterStrayCall(ctx, caller, input, sent, context);
  }
  return provisionExisting(ctx, caller, input, context);
}

/**
 * A provision whose provider call went out before its id turned out to be taken (an
 * existing instance, or a concurrent request for the same id): decided by the locking
 * path, after which `settleStrayCall` removes whatever the call may have left.
 */
async function provisionAfterStrayCall(
  ctx: BrokerContext,
  caller: Caller,
  input: ProvisionInput,
  sent: Promise<ProviderResponse>,
  context: ProvisionContext,
): Promise<OperationOutcome> {
  try {
    return await provisionExisting(ctx, caller, input, context);
  } finally {
    // In the background: the platform's answer must not wait for a slow provider's call.
    const settling = settleStrayCall(ctx, sent, { ...context, instanceId: input.instanceId }).catch((error: unknown) =>
      ctx.logger.error({ err: error, operation: context.operationId }, 'could not settle a stray provider call'),
    );
    ctx.background.add(settling);
    void settling.finally(() => ctx.background.delete(settling));
  }
}

/** The call's answer if it settles within `ms`, otherwise undefined (the call goes on). */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface ProvisionContext {
  plan: PlanContext;
  problem: unknown;
  request: OperationRequest;
  operationId: string;
  actor: Actor;
  owner: string;
}

/**
 * A provision whose start record found its id taken (or that could not take the one-
 * statement path): decided under the row lock, against the instance that is there.
 */
async function provisionExisting(
  ctx: BrokerContext,
  caller: Caller,
  input: ProvisionInput,
  { plan, problem, operationId, actor, owner }: ProvisionContext,
): Promise<OperationOutcome> {
  const recordUnder = (providerInstanceId: string) =>
    provisioningRecord(
      ctx,
      caller,
      input,
      plan,
      actor,
      owner,
      operationId,
      provisionRequest(plan, input, providerInstanceId),
    );
  const started = await ctx.db.transaction().execute(async (trx): Promise<Started> => {
    // The primary key decides between concurrent requests (and replicas) for one id:
    // the loser's insert waits for the winner's commit, then finds its row.
    const stable = deterministicProviderInstanceId(caller.platformId, input.instanceId);
    const inserted = problem === undefined ? await insertNewProvisioning(trx, recordUnder(stable)) : undefined;
    if (inserted) return { op: inserted };
    const existing = await findInstance(trx, input.instanceId, true);
    if (existing && !ownedBy(existing, caller)) {
      throw conflict(`instance id "${input.instanceId}" is already in use`);
    }
    if (existing && existing.deleted_at === null && existing.state !== 'failed') {
      const identical =
        existing.plan_id === plan.plan.id &&
        existing.organization_guid === input.organizationGuid &&
        existing.space_guid === input.spaceGuid &&
        isDeepStrictEqual(storedParameters(ctx.secretBox, existing), input.parameters);
      if (!identical) {
        throw conflict(`instance "${input.instanceId}" already exists with different attributes`);
      }
      const op = existing.last_operation_id ? await findOperation(trx, existing.last_operation_id) : undefined;
      if (existing.state === 'provisioning' && op) {
        if (!input.acceptsIncomplete) throw concurrencyError('the instance is being provisioned');
        return { replay: acceptedAnswer(op) };
      }
      if (existing.state === 'provisioned') {
        return {
          replay: { kind: 'ok', body: existing.dashboard_url ? { dashboard_url: existing.dashboard_url } : {} },
        };
      }
      throw concurrencyError(`the instance is ${existing.state}`);
    }
    if (problem !== undefined) throw problem;
    if (!existing) return { retry: true };
    // A deleted or failed instance id is provisioned afresh, with a new provider-side id
    // (an orphan mitigation may still be deleting the old one).
    const renewed = await renewProvisioning(trx, recordUnder(randomUUID()));
    if (!renewed) throw new Error(`instance "${input.instanceId}" changed under its lock`);
    return { op: renewed };
  });
  if ('retry' in started) return provisionInstance(ctx, caller, input);
  if ('replay' in started) return started.replay;
  if ('unknown' in started) throw new Error('unreachable');
  const op = await runInRequest(ctx, started.op, owner);
  return operationAnswer(op, true);
}

export interface UpdateInput {
  instanceId: string;
  serviceId: string;
  planId: string | undefined;
  parameters: Record<string, unknown> | undefined;
  context: Record<string, unknown> | undefined;
  previousValues: Record<string, unknown> | undefined;
  maintenanceInfo: MaintenanceInfoInput | undefined;
  acceptsIncomplete: boolean;
}

/** Updates an instance (`PATCH`): plan change where plan_updateable, parameters, context, maintenance_info. */
export async function updateServiceInstance(
  ctx: BrokerContext,
  caller: Caller,
  input: UpdateInput,
): Promise<OperationOutcome> {
  const actor = actorOf(caller);
  const owner = leaseOwner(ctx);
  const op = await ctx.db.transaction().execute(async (trx) => {
    const instance = await liveInstance(trx, input.instanceId, caller);
    const current = await findPlanById(trx, instance.plan_id);
    if (!current) throw badRequest('the instance plan no longer exists');
    if (current.service.osb_id !== input.serviceId) {
      throw badRequest(`service_id "${input.serviceId}" is not the instance's service`);
    }
    if (instance.state !== 'provisioned') throw concurrencyError(`the instance is ${instance.state}`);
    let target = current;
    if (input.planId !== undefined && input.planId !== current.plan.osb_id) {
      target = await resolvePlan(trx, input.serviceId, input.planId);
      if (!planUpdateable(current)) {
        throw new BrokerFailure(
          'NotSupported',
          `plan "${current.plan.osb_id}" cannot be changed (plan_updateable is false)`,
          {
            error: 'PlanChangeNotSupported',
          },
        );
      }
      if (!planOffered(target.plan, caller.organizations)) {
        throw badRequest(`plan_id "${input.planId}" is not offered to this platform`);
      }
    }
    checkMaintenanceInfo(target, input.maintenanceInfo);
    if (input.parameters !== undefined) {
      checkParameters(target.plan.schemas?.service_instance?.update?.parameters, input.parameters, 'update');
    }
    const contextOnly =
      input.context !== undefined &&
      input.parameters === undefined &&
      input.maintenanceInfo === undefined &&
      target === current;
    if (contextOnly && !current.service.allow_context_updates) {
      // The provider does not take context updates (allow_context_updates is false): keep
      // the broker's record current and leave the provider alone.
      await updateInstance(trx, instance.id, { context: JSON.stringify(input.context) });
      await recordAudit(trx, actor, {
        action: 'update.context_recorded',
        result: 'succeeded',
        instanceId: instance.id,
        detail: { forwarded: false },
      });
      return null;
    }
    const parameters = { ...storedParameters(ctx.secretBox, instance), ...(input.parameters ?? {}) };
    const context = input.context ?? instance.context;
    const maintenance = input.maintenanceInfo ?? (instance.maintenance_info as MaintenanceInfoInput | null);
    const request: OperationRequest = {
      provider_instance_id: instance.provider_instance_id ?? instance.id,
      service_osb_id: target.service.osb_id,
      plan_osb_id: target.plan.osb_id,
      body: {
        service_id: target.service.osb_id,
        ...(input.planId !== undefined ? { plan_id: target.plan.osb_id } : {}),
        ...(input.parameters !== undefined ? { parameters: input.parameters } : {}),
        ...(input.context !== undefined ? { context: input.context } : {}),
        ...(input.maintenanceInfo ? { maintenance_info: input.maintenanceInfo } : {}),
        previous_values: {
          service_id: current.service.osb_id,
          plan_id: current.plan.osb_id,
          organization_id: instance.organization_guid,
          space_id: instance.space_guid,
          ...(instance.maintenance_info ? { maintenance_info: instance.maintenance_info } : {}),
        },
      },
      apply: {
        plan_id: target.plan.id,
        parameters,
        context,
        maintenance_info: maintenance ? { ...maintenance } : null,
      },
    };
    const created = await createOperation(trx, ctx, {
      kind: 'update',
      instanceId: instance.id,
      providerId: current.provider.id,
      request,
      acceptsIncomplete: input.acceptsIncomplete,
      actor,
      originatingIdentityHeader: caller.originatingIdentity?.header ?? null,
      owner,
    });
    await updateInstance(trx, instance.id, { state: 'updating', last_operation_id: created.id });
    await recordAudit(trx, actor, {
      action: 'update.requested',
      result: 'pending',
      instanceId: instance.id,
      operationId: created.id,
      detail: { plan: target.plan.osb_id, maintenance_info: input.maintenanceInfo ?? null },
    });
    return created;
  });
  if (op === null) return { kind: 'ok', body: {} };
  const after = await runInRequest(ctx, op, owner);
  const outcome = operationAnswer(after, false);
  return outcome;
}

async function liveInstance(db: Parameters<typeof findInstance>[0], id: string, caller: Caller) {
  const instance = ownedBy(await findInstance(db, id, true), caller);
  if (!instance || instance.deleted_at !== null) throw notFound(`instance "${id}" does not exist`);
  return instance;
}

export interface DeprovisionInput {
  instanceId: string;
  serviceId: string;
  planId: string;
  acceptsIncomplete: boolean;
}

/** Deprovisions (`DELETE`); 410 when already gone; halts a provisioning still in progress. */
export async function deprovisionInstance(
  ctx: BrokerContext,
  caller: Caller,
  input: DeprovisionInput,
): Promise<OperationOutcome> {
  const actor = actorOf(caller);
  const owner = leaseOwner(ctx);
  const started = await ctx.db.transaction().execute(async (trx): Promise<Started> => {
    const instance = ownedBy(await findInstance(trx, input.instanceId, true), caller);
    if (!instance) return { unknown: true };
    if (instance.deleted_at !== null) throw gone(`instance "${input.instanceId}" does not exist`);
    const plan = await findPlanById(trx, instance.plan_id);
    if (!plan) throw badRequest('the instance plan no longer exists');
    if (plan.service.osb_id !== input.serviceId || plan.plan.osb_id !== input.planId) {
      throw badRequest(
        `service_id and plan_id must be the instance's ("${plan.service.osb_id}", "${plan.plan.osb_id}")`,
      );
    }
    const last = instance.last_operation_id ? await findOperation(trx, instance.last_operation_id) : undefined;
    if (instance.state === 'failed') {
      // The provider may hold something; orphan mitigation (already scheduled, or now) removes it.
      const mitigated = await orphanMitigationExists(trx, 'orphan_deprovision', {
        instanceId: instance.id,
        providerInstanceId: instance.provider_instance_id ?? '',
      });
      if (!mitigated && instance.provider_instance_id) {
        await scheduleOrphanMitigation(trx, {
          kind: 'orphan_deprovision',
          instanceId: instance.id,
          bindingId: null,
          providerId: instance.provider_id ?? plan.provider.id,
          request: {
            provider_instance_id: instance.provider_instance_id,
            service_osb_id: plan.service.osb_id,
            plan_osb_id: plan.plan.osb_id,
          },
          actor,
          after: last?.id ?? null,
          reason: 'deleted after a failed provision',
        });
      }
      await updateInstance(trx, instance.id, { state: 'deprovisioned', deleted_at: new Date() });
      await recordAudit(trx, actor, { action: 'deprovision.succeeded', result: 'succeeded', instanceId: instance.id });
      return { replay: { kind: 'ok', body: {} } };
    }
    if (instance.state === 'deprovisioning' && last) {
      if (!input.acceptsIncomplete) throw concurrencyError('the instance is being deprovisioned');
      return { replay: { kind: 'accepted', operation: last.id } };
    }
    if (instance.state === 'updating') throw concurrencyError('the instance is being updated');
    const halting = instance.state === 'provisioning';
    if (halting && !input.acceptsIncomplete) throw asyncRequired();
    const op = await createOperation(trx, ctx, {
      kind: 'deprovision',
      instanceId: instance.id,
      providerId: instance.provider_id ?? plan.provider.id,
      request: {
        provider_instance_id: instance.provider_instance_id ?? instance.id,
        service_osb_id: plan.service.osb_id,
        plan_osb_id: plan.plan.osb_id,
        previous_state: 'provisioned',
      },
      acceptsIncomplete: input.acceptsIncomplete,
      actor,
      originatingIdentityHeader: caller.originatingIdentity?.header ?? null,
      // A halting deprovision is left to the workers: it waits for the provision call in flight.
      owner: halting ? null : owner,
    });
    await updateInstance(trx, instance.id, { state: 'deprovisioning', last_operation_id: op.id });
    await recordAudit(trx, actor, {
      action: 'deprovision.requested',
      result: 'pending',
      instanceId: instance.id,
      operationId: op.id,
      detail: halting ? { halts: last?.id ?? null } : {},
    });
    return { op, halting };
  });
  if ('replay' in started) return started.replay;
  if ('unknown' in started) return deleteUnknownInstance(ctx, caller, input);
  if ('retry' in started) throw new Error('unreachable');
  if (started.halting) return { kind: 'accepted', operation: started.op.id };
  const op = await runInRequest(ctx, started.op, owner);
  if (op.state === 'succeeded') return { kind: 'ok', body: {} };
  return operationAnswer(op, false);
}

/**
 * A DELETE for an instance the broker has no record of. The platform is told 410 Gone, but
 * first the provider its service_id / plan_id route to is asked to deprovision the
 * provider-side id this platform's instance would have had: a start record lost in a
 * database crash (see docs/broker.md) must not leave an orphan the platform cannot remove.
 * Nothing is stored unless the provider had the instance (then an audit entry says so).
 */
async function deleteUnknownInstance(
  ctx: BrokerContext,
  caller: Caller,
  input: DeprovisionInput,
): Promise<OperationOutcome> {
  const missing = gone(`instance "${input.instanceId}" does not exist`);
  let plan: PlanContext;
  try {
    plan = await resolvePlan(ctx.db, input.serviceId, input.planId, ctx.caches.plans);
  } catch {
    throw missing;
  }
  const provider = await ctx.caches.providers.get(plan.provider.id, () => findProviderById(ctx.db, plan.provider.id));
  if (!provider) throw missing;
  const providerInstanceId = deterministicProviderInstanceId(caller.platformId, input.instanceId);
  const call = (acceptsIncomplete: boolean) =>
    ctx.providers.call(provider, {
      method: 'DELETE',
      path: `/v2/service_instances/${encodeURIComponent(providerInstanceId)}`,
      query: {
        service_id: plan.service.osb_id,
        plan_id: plan.plan.osb_id,
        accepts_incomplete: acceptsIncomplete ? 'true' : undefined,
      },
      originatingIdentity: caller.originatingIdentity?.header ?? null,
    });
  let response = await call(false);
  if (
    response.kind === 'answer' &&
    response.status === 422 &&
    (response.body as { error?: unknown } | undefined)?.error === 'AsyncRequired'
  ) {
    response = await call(true);
  }
  if (response.kind !== 'answer') {
    throw new BrokerFailure(
      'ProviderFailed',
      `instance "${input.instanceId}" is unknown to the broker and the provider could not confirm it is gone (${response.message}); retry the delete`,
    );
  }
  const { status } = response;
  if (status === 410 || status === 404) throw missing;
  const detail = { provider_instance_id: providerInstanceId, provider_status: status };
  if (status === 200 || status === 202) {
    await recordAudit(ctx.db, actorOf(caller), {
      action: 'deprovision.orphan_cleaned',
      result: status === 200 ? 'succeeded' : 'pending',
      instanceId: input.instanceId,
      detail,
    });
    throw missing;
  }
  if (status >= 500 || status === 408 || status === 422) {
    throw new BrokerFailure(
      'ProviderFailed',
      `instance "${input.instanceId}" is unknown to the broker and the provider answered ${status} to deleting it; retry the delete`,
    );
  }
  // Any other answer: the provider refuses the id; it holds nothing the platform could remove.
  throw missing;
}

/** `GET /v2/service_instances/:id` from the broker's records. */
export async function fetchInstance(
  ctx: BrokerContext,
  caller: Caller,
  instanceId: string,
): Promise<Record<string, unknown>> {
  const instance = ownedBy(await findInstance(ctx.db, instanceId), caller);
  if (!instance || instance.deleted_at !== null || instance.state === 'provisioning' || instance.state === 'failed') {
    throw notFound(`instance "${instanceId}" does not exist or is still being provisioned`);
  }
  const plan = await findPlanById(ctx.db, instance.plan_id);
  if (!plan) throw notFound(`instance "${instanceId}" does not exist`);
  if (!plan.service.instances_retrievable) {
    throw badRequest(`service "${plan.service.osb_id}" does not support fetching instances (instances_retrievable)`);
  }
  if (instance.state === 'updating') throw concurrencyError('the instance is being updated');
  return {
    service_id: plan.service.osb_id,
    plan_id: plan.plan.osb_id,
    ...(instance.dashboard_url ? { dashboard_url: instance.dashboard_url } : {}),
    parameters: storedParameters(ctx.secretBox, instance),
    ...(instance.maintenance_info ? { maintenance_info: instance.maintenance_info } : {}),
  };
}

export interface LastOperationAnswer {
  status: 200 | 410;
  body: Record<string, unknown>;
  retryAfterSeconds?: number;
}

/** Instance `last_operation`: in progress / succeeded / failed, kept after they are reported. */
export async function instanceLastOperation(
  ctx: BrokerContext,
  caller: Caller,
  instanceId: string,
  operation: string | undefined,
): Promise<LastOperationAnswer> {
  const instance = ownedBy(await findInstance(ctx.db, instanceId), caller);
  if (!instance) throw notFound(`instance "${instanceId}" does not exist`);
  let op: OperationRow | undefined;
  if (operation !== undefined) {
    op = await findOperation(ctx.db, operation);
    if (!op || op.instance_id !== instanceId || op.binding_id !== null) {
      throw badRequest(`operation "${operation}" is not an operation of instance "${instanceId}"`);
    }
  } else if (instance.last_operation_id) {
    op = await findOperation(ctx.db, instance.last_operation_id);
  }
  if (!op) {
    if (instance?.deleted_at) return { status: 410, body: {} };
    throw notFound(`instance "${instanceId}" has no operation`);
  }
  return describeOperation(op);
}

export function describeOperation(op: OperationRow): LastOperationAnswer {
  const description = op.description ?? undefined;
  if (op.state === 'pending' || op.state === 'polling') {
    return {
      status: 200,
      body: { state: 'in progress', ...(description ? { description } : {}) },
      retryAfterSeconds: retryAfter(op),
    };
  }
  if (op.state === 'succeeded') {
    if (op.kind === 'deprovision' || op.kind === 'unbind') return { status: 410, body: {} };
    return { status: 200, body: { state: 'succeeded', ...(description ? { description } : {}) } };
  }
  return {
    status: 200,
    body: {
      state: 'failed',
      ...(description ? { description } : {}),
      ...(op.instance_usable !== null ? { instance_usable: op.instance_usable } : {}),
      ...(op.update_repeatable !== null ? { update_repeatable: op.update_repeatable } : {}),
    },
  };
}

function retryAfter(op: OperationRow): number {
  const due = Math.ceil((op.next_attempt_at.getTime() - Date.now()) / 1000);
  return Math.max(1, Math.min(60, due));
}

export type { InstanceRow };

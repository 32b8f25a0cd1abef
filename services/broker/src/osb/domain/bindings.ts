import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { findPlanById, findPlanByOsbId } from '../../shared/db/catalog.js';
import type { Executor } from '../../shared/db/executor.js';
import { behindSavepoint } from '../../shared/db/savepoint.js';
import { actorOf, recordAudit } from '../../shared/domain/audit.js';
import { checkParameters, planBindable } from '../../shared/domain/catalog.js';
import { type BrokerContext, type Caller, ownedBy } from '../../shared/domain/context.js';
import { BrokerFailure, badRequest, concurrencyError, conflict, gone, notFound } from '../../shared/domain/errors.js';
import { type BindingRow, findBinding, insertBindingIfAbsent, updateBinding } from '../db/bindings.js';
import { findInstance } from '../db/instances.js';
import { findOperation, type OperationRow, orphanMitigationExists } from '../db/operations.js';
import { describeOperation, type LastOperationAnswer } from './instances.js';
import {
  boundBinding,
  createOperation,
  leaseOwner,
  type OperationRequest,
  runInRequest,
  scheduleOrphanMitigation,
  unfinishedAnswer,
} from './operations.js';
import { sealParameters, storedParameters } from './parameters.js';
import type { OperationOutcome } from './results.js';

type Started = { replay: OperationOutcome } | { retry: true } | { op: OperationRow; halting?: boolean };

export interface BindInput {
  instanceId: string;
  bindingId: string;
  serviceId: string;
  planId: string;
  appGuid: string | undefined;
  bindResource: Record<string, unknown>;
  parameters: Record<string, unknown>;
  context: Record<string, unknown>;
  predecessorBindingId: string | undefined;
  acceptsIncomplete: boolean;
  /**
   * Work that goes with the bind's success when it finishes in this call, given the answer:
   * run in the transaction that records it, behind a savepoint, so that if it fails the
   * binding is recorded all the same (and the work left to its own retry).
   */
  withBound?: (trx: Executor, answer: Record<string, unknown>) => Promise<void>;
}

function bindingBody(ctx: BrokerContext, binding: BindingRow): Record<string, unknown> {
  const credentials = binding.credentials_sealed ? JSON.parse(ctx.secretBox.open(binding.credentials_sealed)) : {};
  return { credentials, ...binding.details };
}

/** Binds (`PUT …/service_bindings/:id`), with rotation through `predecessor_binding_id`. */
export async function bindInstance(ctx: BrokerContext, caller: Caller, input: BindInput): Promise<OperationOutcome> {
  const actor = actorOf(caller);
  const owner = leaseOwner(ctx);
  const started = await ctx.db.transaction().execute(async (trx): Promise<Started> => {
    // Shared: binds of one instance do not wait on each other; an update or a deprovision
    // (which lock it for update) waits for them, and they for it.
    const instance = ownedBy(await findInstance(trx, input.instanceId, 'share'), caller);
    if (!instance || instance.deleted_at !== null || instance.state === 'failed') {
      throw notFound(`instance "${input.instanceId}" does not exist`);
    }
    // The plan the request names, from the catalog cache as a provision has it, when it is the
    // instance's (it must be); the instance's own otherwise, to say which it is.
    const named = await ctx.caches.plans.get(input.planId, () => findPlanByOsbId(trx, input.planId));
    const plan = named?.plan.id === instance.plan_id ? named : await findPlanById(trx, instance.plan_id);
    if (!plan) throw badRequest('the instance plan no longer exists');
    if (plan.service.osb_id !== input.serviceId || plan.plan.osb_id !== input.planId) {
      throw badRequest(
        `service_id and plan_id must be the instance's ("${plan.service.osb_id}", "${plan.plan.osb_id}")`,
      );
    }
    if (!planBindable(plan)) throw badRequest(`plan "${plan.plan.osb_id}" is not bindable`);
    // What a new binding must satisfy; decided after an existing one with this id is answered.
    const checkNew = async (): Promise<string | undefined> => {
      if (instance.state !== 'provisioned') throw concurrencyError(`the instance is ${instance.state}`);
      const metadata = { ...plan.service.metadata, ...plan.plan.metadata } as Record<string, unknown>;
      if ((metadata.requires_app === true || metadata.requiresApp === true) && !input.appGuid) {
        throw new BrokerFailure(
          'RequiresApp',
          'this service supports generation of credentials through binding an application only (bind_resource.app_guid)',
        );
      }
      checkParameters(plan.plan.schemas?.service_binding?.create?.parameters, input.parameters, 'binding');
      if (input.predecessorBindingId !== undefined) {
        if (plan.plan.binding_rotatable !== true) {
          throw badRequest(`plan "${plan.plan.osb_id}" does not allow binding rotation (binding_rotatable)`);
        }
        const predecessor = await findBinding(trx, input.predecessorBindingId);
        if (
          !predecessor ||
          predecessor.deleted_at !== null ||
          predecessor.instance_id !== input.instanceId ||
          predecessor.state !== 'bound'
        ) {
          throw badRequest(`predecessor_binding_id "${input.predecessorBindingId}" is not a binding of this instance`);
        }
        return predecessor.provider_binding_id;
      }
      return undefined;
    };
    let problem: unknown;
    let predecessorProviderId: string | undefined;
    try {
      predecessorProviderId = await checkNew();
    } catch (error) {
      problem = error;
    }
    const providerBindingId = randomUUID();
    // The binding names its operation as it is written: the operation row follows in this transaction.
    const operationId = randomUUID();
    const values = {
      instance_id: input.instanceId,
      provider_binding_id: providerBindingId,
      platform_id: caller.platformId,
      app_guid: input.appGuid ?? null,
      bind_resource: JSON.stringify(input.bindResource),
      parameters: '{}',
      parameters_sealed: sealParameters(ctx.secretBox, input.parameters),
      context: JSON.stringify(input.context),
      predecessor_binding_id: input.predecessorBindingId ?? null,
      state: 'binding' as const,
      credentials_sealed: null,
      credentials_key_id: null,
      details: '{}',
      deleted_at: null,
      originating_identity: actor.originatingIdentity ? JSON.stringify(actor.originatingIdentity) : null,
      last_operation_id: operationId,
    };
    // A new id (the common case) is one insert; an id in use is decided under its row's lock.
    const inserted = problem === undefined && (await insertBindingIfAbsent(trx, { id: input.bindingId, ...values }));
    if (!inserted) {
      const existing = await findBinding(trx, input.bindingId, true);
      if (existing && existing.deleted_at === null && existing.state !== 'failed') {
        const identical =
          existing.instance_id === input.instanceId &&
          existing.app_guid === (input.appGuid ?? null) &&
          isDeepStrictEqual(existing.bind_resource, input.bindResource) &&
          isDeepStrictEqual(storedParameters(ctx.secretBox, existing), input.parameters) &&
          existing.predecessor_binding_id === (input.predecessorBindingId ?? null);
        if (!identical) throw conflict(`binding "${input.bindingId}" already exists with different attributes`);
        if (existing.state === 'bound') return { replay: { kind: 'ok', body: bindingBody(ctx, existing) } };
        const last = existing.last_operation_id ? await findOperation(trx, existing.last_operation_id) : undefined;
        if (existing.state === 'binding' && last && input.acceptsIncomplete) {
          return { replay: { kind: 'accepted', operation: last.id } };
        }
        throw concurrencyError(`the binding is ${existing.state}`);
      }
      if (existing && existing.deleted_at === null && existing.instance_id !== input.instanceId) {
        throw conflict(`binding "${input.bindingId}" belongs to another instance`);
      }
      if (problem !== undefined) throw problem;
      // Gone between the insert and the read: start again.
      if (!existing) return { retry: true };
      await updateBinding(trx, input.bindingId, values);
    }
    const request: OperationRequest = {
      provider_instance_id: instance.provider_instance_id ?? instance.id,
      provider_binding_id: providerBindingId,
      service_osb_id: plan.service.osb_id,
      plan_osb_id: plan.plan.osb_id,
      body: {
        service_id: plan.service.osb_id,
        plan_id: plan.plan.osb_id,
        ...(input.appGuid ? { app_guid: input.appGuid } : {}),
        bind_resource: input.bindResource,
        context: input.context,
        parameters: input.parameters,
        ...(predecessorProviderId ? { predecessor_binding_id: predecessorProviderId } : {}),
      },
    };
    const op = await createOperation(trx, ctx, {
      id: operationId,
      kind: 'bind',
      instanceId: input.instanceId,
      bindingId: input.bindingId,
      providerId: instance.provider_id ?? plan.provider.id,
      request,
      acceptsIncomplete: input.acceptsIncomplete,
      actor,
      originatingIdentityHeader: caller.originatingIdentity?.header ?? null,
      owner,
    });
    await recordAudit(trx, actor, {
      action: 'bind.requested',
      result: 'pending',
      instanceId: input.instanceId,
      bindingId: input.bindingId,
      operationId: op.id,
      detail: input.predecessorBindingId ? { predecessor_binding_id: input.predecessorBindingId } : {},
    });
    return { op };
  });
  if ('retry' in started) return bindInstance(ctx, caller, input);
  if ('replay' in started) return started.replay;
  // The answer of a bind that finishes here is what the provider answered, as it is recorded.
  let answered: Record<string, unknown> | undefined;
  const op = await runInRequest(ctx, started.op, owner, undefined, async (trx, body) => {
    const answer = boundBinding(body);
    answered = answer;
    const withBound = input.withBound;
    if (!withBound) return;
    const error = await behindSavepoint(trx, () => withBound(trx, answer));
    if (error !== undefined) {
      ctx.logger.warn({ err: error, binding: input.bindingId }, 'work that goes with a bind failed; it is retried');
    }
  });
  return bindAnswer(ctx, op, answered);
}

async function bindAnswer(
  ctx: BrokerContext,
  op: OperationRow,
  answered: Record<string, unknown> | undefined,
): Promise<OperationOutcome> {
  if (op.state === 'succeeded') {
    if (answered) return { kind: 'created', body: answered };
    const binding = await findBinding(ctx.db, op.binding_id ?? '');
    if (!binding) throw notFound('binding vanished');
    return { kind: 'created', body: bindingBody(ctx, binding) };
  }
  return unfinishedAnswer(op);
}

export interface UnbindInput {
  instanceId: string;
  bindingId: string;
  serviceId: string;
  planId: string;
  acceptsIncomplete: boolean;
}

/** Unbinds (`DELETE …/service_bindings/:id`); 410 when already gone. */
export async function unbindInstance(
  ctx: BrokerContext,
  caller: Caller,
  input: UnbindInput,
): Promise<OperationOutcome> {
  const actor = actorOf(caller);
  const owner = leaseOwner(ctx);
  const started = await ctx.db.transaction().execute(async (trx): Promise<Started> => {
    const binding = ownedBy(await findBinding(trx, input.bindingId, true), caller);
    if (!binding || binding.deleted_at !== null || binding.instance_id !== input.instanceId) {
      throw gone(`binding "${input.bindingId}" does not exist`);
    }
    const instance = ownedBy(await findInstance(trx, input.instanceId), caller);
    if (!instance) throw gone(`instance "${input.instanceId}" does not exist`);
    const plan = await findPlanById(trx, instance.plan_id);
    if (!plan) throw badRequest('the instance plan no longer exists');
    if (plan.service.osb_id !== input.serviceId || plan.plan.osb_id !== input.planId) {
      throw badRequest(
        `service_id and plan_id must be the instance's ("${plan.service.osb_id}", "${plan.plan.osb_id}")`,
      );
    }
    if (binding.state === 'failed') {
      const mitigated = await orphanMitigationExists(trx, 'orphan_unbind', {
        instanceId: input.instanceId,
        providerBindingId: binding.provider_binding_id,
      });
      if (!mitigated) {
        await scheduleOrphanMitigation(trx, {
          kind: 'orphan_unbind',
          instanceId: input.instanceId,
          bindingId: binding.id,
          providerId: instance.provider_id ?? plan.provider.id,
          request: {
            provider_instance_id: instance.provider_instance_id ?? instance.id,
            provider_binding_id: binding.provider_binding_id,
            service_osb_id: plan.service.osb_id,
            plan_osb_id: plan.plan.osb_id,
          },
          actor,
          after: binding.last_operation_id,
          reason: 'deleted after a failed bind',
        });
      }
      await updateBinding(trx, binding.id, { state: 'unbound', deleted_at: new Date() });
      await recordAudit(trx, actor, {
        action: 'unbind.succeeded',
        result: 'succeeded',
        instanceId: input.instanceId,
        bindingId: binding.id,
      });
      return { replay: { kind: 'ok', body: {} } };
    }
    const last = binding.last_operation_id ? await findOperation(trx, binding.last_operation_id) : undefined;
    if (binding.state === 'unbinding' && last && input.acceptsIncomplete) {
      return { replay: { kind: 'accepted', operation: last.id } };
    }
    if (binding.state !== 'bound') throw concurrencyError(`the binding is ${binding.state}`);
    const op = await createOperation(trx, ctx, {
      kind: 'unbind',
      instanceId: input.instanceId,
      bindingId: binding.id,
      providerId: instance.provider_id ?? plan.provider.id,
      request: {
        provider_instance_id: instance.provider_instance_id ?? instance.id,
        provider_binding_id: binding.provider_binding_id,
        service_osb_id: plan.service.osb_id,
        plan_osb_id: plan.plan.osb_id,
        previous_state: 'bound',
      },
      acceptsIncomplete: input.acceptsIncomplete,
      actor,
      originatingIdentityHeader: caller.originatingIdentity?.header ?? null,
      owner,
    });
    await updateBinding(trx, binding.id, { state: 'unbinding', last_operation_id: op.id });
    await recordAudit(trx, actor, {
      action: 'unbind.requested',
      result: 'pending',
      instanceId: input.instanceId,
      bindingId: binding.id,
      operationId: op.id,
    });
    return { op };
  });
  if ('replay' in started) return started.replay;
  if ('retry' in started) throw new Error('unreachable');
  const op = await runInRequest(ctx, started.op, owner);
  if (op.state === 'succeeded') return { kind: 'ok', body: {} };
  return unfinishedAnswer(op);
}

async function retrievableBinding(
  db: Executor,
  caller: Caller,
  instanceId: string,
  bindingId: string,
): Promise<BindingRow> {
  const binding = ownedBy(await findBinding(db, bindingId), caller);
  if (!binding || binding.deleted_at !== null || binding.instance_id !== instanceId || binding.state !== 'bound') {
    throw notFound(`binding "${bindingId}" does not exist or is still being created`);
  }
  return binding;
}

/** `GET …/service_bindings/:id`: credentials and parameters from the broker's records. */
export async function fetchBinding(
  ctx: BrokerContext,
  caller: Caller,
  instanceId: string,
  bindingId: string,
): Promise<Record<string, unknown>> {
  const binding = await retrievableBinding(ctx.db, caller, instanceId, bindingId);
  const instance = await findInstance(ctx.db, instanceId);
  const plan = instance ? await findPlanById(ctx.db, instance.plan_id) : undefined;
  if (plan && !plan.service.bindings_retrievable) {
    throw badRequest(`service "${plan.service.osb_id}" does not support fetching bindings (bindings_retrievable)`);
  }
  return { ...bindingBody(ctx, binding), parameters: storedParameters(ctx.secretBox, binding) };
}

export async function bindingLastOperation(
  ctx: BrokerContext,
  caller: Caller,
  instanceId: string,
  bindingId: string,
  operation: string | undefined,
): Promise<LastOperationAnswer> {
  const binding = ownedBy(await findBinding(ctx.db, bindingId), caller);
  if (!binding) throw notFound(`binding "${bindingId}" does not exist`);
  let op: OperationRow | undefined;
  if (operation !== undefined) {
    op = await findOperation(ctx.db, operation);
    if (!op || op.binding_id !== bindingId || op.instance_id !== instanceId) {
      throw badRequest(`operation "${operation}" is not an operation of binding "${bindingId}"`);
    }
  } else if (binding.last_operation_id && binding.instance_id === instanceId) {
    op = await findOperation(ctx.db, binding.last_operation_id);
  }
  if (!op) {
    if (binding?.deleted_at) return { status: 410, body: {} };
    throw notFound(`binding "${bindingId}" has no operation`);
  }
  return describeOperation(op);
}

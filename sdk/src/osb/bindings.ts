import type { Request } from 'express';
import type { BindingRecord } from '../store.js';
import type { BindResult } from '../types.js';
import { bindRequest } from './contract.js';
import {
  acceptsIncomplete,
  bindResultToOsb,
  canonical,
  decodeBody,
  fail,
  now,
  originatingIdentity,
  queryString,
  requestIdOf,
  resourceKey,
} from './protocol.js';
import type { Runtime } from './runtime.js';

/** The binding endpoints: bind (with rotation), unbind, fetch. */
export function createBindingEndpoints(rt: Runtime) {
  const { call, checkParameters, definition, errorReply, findPlan, planFor, startOperation, store, withLock } = rt;

  // ---- bindings ----------------------------------------------------------------------

  async function bindInstance(
    req: Request,
    instanceId: string,
    bindingId: string,
  ): Promise<[number, Record<string, unknown>]> {
    const body = decodeBody(bindRequest, req.body);
    const { service_id: serviceId, plan_id: planId } = body;
    const { service, plan } = findPlan(serviceId, planId);
    const context = body.context ?? {};
    const bindResource = body.bind_resource;
    const rawParameters = body.parameters ?? {};
    const predecessorId = body.predecessor_binding_id;
    if (!(plan.bindable ?? service.bindable)) throw fail(400, `plan "${plan.slug}" is not bindable`);
    // Validate what can be validated before touching state; rotation may inherit parameters below.
    if (predecessorId === undefined || Object.keys(rawParameters).length > 0) {
      checkParameters(plan.schemas?.binding?.create, definition.parameters?.bind, rawParameters);
    }
    const identity = originatingIdentity(req);
    const incomplete = acceptsIncomplete(req);

    const instance = await store.getInstance(instanceId);
    if (!instance || instance.state === 'deleted') throw fail(404, `instance ${instanceId} does not exist`);
    if (instance.serviceId !== serviceId || instance.planId !== planId) {
      throw fail(400, `service_id and plan_id must be the instance's (${instance.serviceId}, ${instance.planId})`);
    }
    if (instance.state === 'failed') throw fail(400, `instance ${instanceId} failed to provision`);
    if (instance.state !== 'ready')
      throw fail(422, `instance ${instanceId} has an operation in progress`, 'ConcurrencyError');
    let predecessor: BindingRecord | undefined;
    if (predecessorId !== undefined) {
      if (!plan.bindingRotatable) throw fail(400, `plan "${plan.slug}" does not support binding rotation`);
      predecessor = await store.getBinding(instanceId, predecessorId);
      if (!predecessor || predecessor.state !== 'ready') {
        throw fail(400, `predecessor binding ${predecessorId} does not exist`);
      }
    }

    // A rotation without parameters of its own carries the predecessor's.
    const effectiveParameters =
      predecessor && Object.keys(rawParameters).length === 0 ? predecessor.parameters : rawParameters;
    const parameters = checkParameters(plan.schemas?.binding?.create, definition.parameters?.bind, effectiveParameters);

    return withLock(resourceKey(instanceId, bindingId), async () => {
      const record: BindingRecord = {
        id: bindingId,
        instanceId,
        serviceId,
        planId,
        parameters: effectiveParameters,
        context,
        bindResource: bindResource ?? predecessor?.bindResource ?? null,
        predecessorBindingId: predecessorId ?? null,
        result: null,
        state: 'creating',
        operation: null,
        createdAt: now(),
        updatedAt: now(),
      };
      const existing = await store.getBinding(instanceId, bindingId);
      if (existing && existing.state !== 'deleted') return redeliveredBind(existing, record, incomplete);
      if (!(await store.insertBinding(record))) {
        const winner = await store.getBinding(instanceId, bindingId);
        if (!winner) throw fail(409, 'the binding changed concurrently; retry');
        return redeliveredBind(winner, record, incomplete);
      }
      const controller = new AbortController();
      const answer = await call<BindResult>(() =>
        definition.bind?.({
          instanceId,
          service,
          plan,
          context,
          acceptsIncomplete: incomplete,
          originatingIdentity: identity,
          signal: controller.signal,
          bindingId,
          parameters: parameters,
          bindResource: bindResource as { app_guid?: string; route?: string } | undefined,
          predecessor,
          instance,
        }),
      );
      if (answer.kind === 'error') {
        const reply = errorReply(answer.error, requestIdOf(req));
        if (reply.status < 500) await store.removeBinding(instanceId, bindingId);
        else await store.saveBinding({ ...record, state: 'failed', updatedAt: now() });
        throw reply;
      }
      if (answer.kind === 'async') {
        if (!incomplete) {
          controller.abort();
          await store.removeBinding(instanceId, bindingId);
          throw fail(422, 'this plan binds asynchronously; retry with accepts_incomplete=true', 'AsyncRequired');
        }
        const operation = await startOperation('bind', instanceId, bindingId, answer.value, null, controller);
        await store.saveBinding({ ...record, operation: operation.operation, updatedAt: now() });
        return [202, { operation: operation.operation }];
      }
      const saved: BindingRecord = {
        ...record,
        state: 'ready',
        result: bindResultToOsb(answer.value),
        updatedAt: now(),
      };
      await store.saveBinding(saved);
      return [201, saved.result ?? {}];
    });
  }

  function redeliveredBind(
    existing: BindingRecord,
    wanted: BindingRecord,
    incomplete: boolean,
  ): [number, Record<string, unknown>] {
    const same =
      existing.serviceId === wanted.serviceId &&
      existing.planId === wanted.planId &&
      canonical(existing.parameters) === canonical(wanted.parameters) &&
      canonical(existing.bindResource) === canonical(wanted.bindResource) &&
      existing.predecessorBindingId === wanted.predecessorBindingId;
    if (!same) throw fail(409, `binding ${existing.id} already exists with other attributes`);
    if (existing.state === 'creating') {
      if (existing.operation && incomplete) return [202, { operation: existing.operation }];
      throw fail(422, 'the binding is still being created', 'ConcurrencyError');
    }
    if (existing.state === 'failed') throw fail(409, `binding ${existing.id} failed; unbind it first`);
    if (existing.state === 'deleting') throw fail(422, 'the binding is being deleted', 'ConcurrencyError');
    return [200, existing.result ?? {}];
  }

  async function unbindInstance(
    req: Request,
    instanceId: string,
    bindingId: string,
  ): Promise<[number, Record<string, unknown>]> {
    queryString(req, 'service_id', true);
    queryString(req, 'plan_id', true);
    const identity = originatingIdentity(req);
    const incomplete = acceptsIncomplete(req);
    return withLock(resourceKey(instanceId, bindingId), async () => {
      const binding = await store.getBinding(instanceId, bindingId);
      if (!binding || binding.state === 'deleted') throw fail(410, `binding ${bindingId} does not exist`);
      if (binding.state === 'deleting') {
        if (binding.operation && incomplete) return [202, { operation: binding.operation }];
        throw fail(422, `binding ${bindingId} is already being deleted`, 'ConcurrencyError');
      }
      if (binding.state === 'creating') throw fail(422, `binding ${bindingId} is being created`, 'ConcurrencyError');
      const instance = await store.getInstance(instanceId);
      if (!instance) throw fail(410, `instance ${instanceId} does not exist`);
      const { service, plan } = planFor(binding);
      const controller = new AbortController();
      const answer = await call<undefined>(() =>
        definition.unbind?.({
          instanceId,
          service,
          plan,
          context: binding.context,
          acceptsIncomplete: incomplete,
          originatingIdentity: identity,
          signal: controller.signal,
          bindingId,
          binding,
          instance,
        }),
      );
      if (answer.kind === 'error') throw errorReply(answer.error, requestIdOf(req));
      if (answer.kind === 'async') {
        if (!incomplete) {
          controller.abort();
          throw fail(422, 'this plan unbinds asynchronously; retry with accepts_incomplete=true', 'AsyncRequired');
        }
        const operation = await startOperation('unbind', instanceId, bindingId, answer.value, null, controller);
        await store.saveBinding({ ...binding, state: 'deleting', operation: operation.operation, updatedAt: now() });
        return [202, { operation: operation.operation }];
      }
      await store.saveBinding({ ...binding, state: 'deleted', operation: null, updatedAt: now() });
      return [200, {}];
    });
  }

  async function fetchBinding(instanceId: string, bindingId: string): Promise<[number, Record<string, unknown>]> {
    const binding = await store.getBinding(instanceId, bindingId);
    const instance = await store.getInstance(instanceId);
    if (!binding || !instance || binding.state !== 'ready' || instance.state === 'deleted') {
      throw fail(404, `binding ${bindingId} does not exist or is not ready`);
    }
    const { service, plan } = planFor(binding);
    if (!service.bindingsRetrievable) throw fail(400, `bindings of service "${service.slug}" are not retrievable`);
    const fresh = await definition.getBinding?.({ instance, binding, service, plan });
    return [200, { ...(fresh ? bindResultToOsb(fresh) : (binding.result ?? {})), parameters: binding.parameters }];
  }

  return { bindInstance, unbindInstance, fetchBinding };
}

import type { Request, Response } from 'express';
import type { InstanceRecord, ResourceState } from '../store.js';
import { provisionRequest, updateRequest } from './contract.js';
import {
  acceptsIncomplete,
  canonical,
  checkMaintenanceInfo,
  decodeBody,
  fail,
  now,
  originatingIdentity,
  queryString,
  requestIdOf,
  resourceKey,
} from './protocol.js';
import type { Runtime } from './runtime.js';

/** The instance endpoints: provision, update, deprovision, fetch, last_operation. */
export function createInstanceEndpoints(rt: Runtime) {
  const {
    call,
    checkParameters,
    definition,
    errorReply,
    findPlan,
    finishOperation,
    planFor,
    retryAfter,
    running,
    startOperation,
    store,
    withLock,
  } = rt;

  // ---- instances ---------------------------------------------------------------------

  async function provisionInstance(req: Request, instanceId: string): Promise<[number, Record<string, unknown>]> {
    const body = decodeBody(provisionRequest, req.body);
    const { service_id: serviceId, plan_id: planId, organization_guid: organizationGuid, space_guid: spaceGuid } = body;
    const { service, plan } = findPlan(serviceId, planId);
    const context = body.context ?? {};
    const rawParameters = body.parameters ?? {};
    const maintenanceInfo = checkMaintenanceInfo(plan, body.maintenance_info);
    const parameters = checkParameters(plan.schemas?.instance?.create, definition.parameters?.provision, rawParameters);
    const identity = originatingIdentity(req);
    const incomplete = acceptsIncomplete(req);

    return withLock(resourceKey(instanceId, null), async () => {
      const existing = await store.getInstance(instanceId);
      const record: InstanceRecord = {
        id: instanceId,
        serviceId,
        planId,
        organizationGuid,
        spaceGuid,
        parameters: rawParameters,
        context,
        maintenanceInfo: maintenanceInfo ?? null,
        dashboardUrl: null,
        metadata: null,
        state: 'creating',
        operation: null,
        createdAt: now(),
        updatedAt: now(),
      };
      if (existing && existing.state !== 'deleted') return redeliveredProvision(existing, record, incomplete);
      if (!(await store.insertInstance(record))) {
        const winner = await store.getInstance(instanceId);
        if (!winner) throw fail(409, 'the instance changed concurrently; retry');
        return redeliveredProvision(winner, record, incomplete);
      }
      const controller = new AbortController();
      const answer = await call<{ dashboardUrl?: string; metadata?: Record<string, unknown> } | undefined>(() =>
        definition.provision({
          instanceId,
          service,
          plan,
          context,
          acceptsIncomplete: incomplete,
          originatingIdentity: identity,
          signal: controller.signal,
          parameters: parameters,
          organizationGuid,
          spaceGuid,
          maintenanceInfo,
        }),
      );
      if (answer.kind === 'error') {
        const reply = errorReply(answer.error, requestIdOf(req));
        // A 4xx changes nothing; after a 5xx the broker deprovisions, which must reach the handler.
        if (reply.status < 500) await store.removeInstance(instanceId);
        else await store.saveInstance({ ...record, state: 'failed', updatedAt: now() });
        throw reply;
      }
      if (answer.kind === 'async') {
        if (!incomplete) {
          controller.abort();
          await store.removeInstance(instanceId);
          throw fail(422, 'this plan provisions asynchronously; retry with accepts_incomplete=true', 'AsyncRequired');
        }
        const operation = await startOperation('provision', instanceId, null, answer.value, null, controller);
        await store.saveInstance({ ...record, operation: operation.operation, updatedAt: now() });
        const current = await store.getInstance(instanceId);
        return [
          202,
          { operation: operation.operation, ...(current?.dashboardUrl ? { dashboard_url: current.dashboardUrl } : {}) },
        ];
      }
      const result = answer.value ?? {};
      const saved: InstanceRecord = {
        ...record,
        state: 'ready',
        dashboardUrl: result.dashboardUrl ?? null,
        metadata: result.metadata ?? null,
        updatedAt: now(),
      };
      await store.saveInstance(saved);
      return [201, instanceBody(saved)];
    });
  }

  function instanceBody(instance: InstanceRecord): Record<string, unknown> {
    return {
      ...(instance.dashboardUrl ? { dashboard_url: instance.dashboardUrl } : {}),
      ...(instance.metadata ? { metadata: instance.metadata } : {}),
    };
  }

  function redeliveredProvision(
    existing: InstanceRecord,
    wanted: InstanceRecord,
    incomplete: boolean,
  ): [number, Record<string, unknown>] {
    const same =
      existing.serviceId === wanted.serviceId &&
      existing.planId === wanted.planId &&
      existing.organizationGuid === wanted.organizationGuid &&
      existing.spaceGuid === wanted.spaceGuid &&
      canonical(existing.parameters) === canonical(wanted.parameters);
    if (!same) throw fail(409, `instance ${existing.id} already exists with other attributes`);
    if (existing.state === 'creating') {
      if (existing.operation && incomplete) return [202, { operation: existing.operation }];
      throw fail(422, 'the instance is still being provisioned', 'ConcurrencyError');
    }
    if (existing.state === 'failed')
      throw fail(409, `instance ${existing.id} failed to provision; deprovision it first`);
    if (existing.state === 'deleting') throw fail(422, 'the instance is being deprovisioned', 'ConcurrencyError');
    return [200, instanceBody(existing)];
  }

  async function updateInstance(req: Request, instanceId: string): Promise<[number, Record<string, unknown>]> {
    const body = decodeBody(updateRequest, req.body);
    const serviceId = body.service_id;
    const requestedPlan = body.plan_id;
    const context = body.context;
    const rawParameters = body.parameters;
    const previousValues = body.previous_values ?? {};
    const identity = originatingIdentity(req);
    const incomplete = acceptsIncomplete(req);

    return withLock(resourceKey(instanceId, null), async () => {
      const instance = await store.getInstance(instanceId);
      if (!instance || instance.state === 'deleted') throw fail(404, `instance ${instanceId} does not exist`);
      if (instance.serviceId !== serviceId) throw fail(400, `service_id does not match the instance's service`);
      const { service, plan } = findPlan(serviceId, requestedPlan ?? instance.planId);
      const previousPlan = planFor(instance).plan;
      const planChanged = plan.id !== previousPlan.id;
      if (planChanged && !(previousPlan.planUpdateable ?? service.planUpdateable)) {
        throw fail(400, `plan "${previousPlan.slug}" cannot be changed to another plan (plan_updateable is false)`);
      }
      const maintenanceInfo = checkMaintenanceInfo(plan, body.maintenance_info);
      const parameters = checkParameters(
        plan.schemas?.instance?.update,
        definition.parameters?.update,
        rawParameters ?? {},
      );
      if (instance.state === 'failed')
        throw fail(400, `instance ${instanceId} failed to provision and cannot be updated`);
      if (instance.state !== 'ready')
        throw fail(422, `instance ${instanceId} has an operation in progress`, 'ConcurrencyError');

      const pending = {
        planId: plan.id,
        parameters: { ...instance.parameters, ...(rawParameters ?? {}) },
        context: context ?? instance.context,
        maintenanceInfo: maintenanceInfo ?? instance.maintenanceInfo,
      };
      const controller = new AbortController();
      const answer = definition.update
        ? await call<{ dashboardUrl?: string } | undefined>(() =>
            definition.update?.({
              instanceId,
              service,
              plan,
              context: context ?? instance.context,
              acceptsIncomplete: incomplete,
              originatingIdentity: identity,
              signal: controller.signal,
              parameters: parameters,
              previousPlan,
              planChanged,
              instance,
              previousValues,
              maintenanceInfo,
            }),
          )
        : ({ kind: 'result', value: undefined } as const);
      if (answer.kind === 'error') throw errorReply(answer.error, requestIdOf(req));
      if (answer.kind === 'async') {
        if (!incomplete) {
          controller.abort();
          throw fail(422, 'this update runs asynchronously; retry with accepts_incomplete=true', 'AsyncRequired');
        }
        const operation = await startOperation('update', instanceId, null, answer.value, pending, controller);
        await store.saveInstance({ ...instance, state: 'updating', operation: operation.operation, updatedAt: now() });
        return [202, { operation: operation.operation }];
      }
      const dashboardUrl = answer.value?.dashboardUrl ?? instance.dashboardUrl;
      await store.saveInstance({
        ...instance,
        planId: pending.planId,
        parameters: pending.parameters,
        context: pending.context,
        maintenanceInfo: pending.maintenanceInfo,
        dashboardUrl,
        updatedAt: now(),
      });
      return [200, dashboardUrl ? { dashboard_url: dashboardUrl } : {}];
    });
  }

  async function deprovisionInstance(req: Request, instanceId: string): Promise<[number, Record<string, unknown>]> {
    queryString(req, 'service_id', true);
    queryString(req, 'plan_id', true);
    const identity = originatingIdentity(req);
    const incomplete = acceptsIncomplete(req);
    const key = resourceKey(instanceId, null);

    return withLock(key, async () => {
      const instance = await store.getInstance(instanceId);
      if (!instance || instance.state === 'deleted') throw fail(410, `instance ${instanceId} does not exist`);
      if (instance.state === 'updating') throw fail(422, `instance ${instanceId} is being updated`, 'ConcurrencyError');
      if (instance.state === 'deleting') {
        if (instance.operation && incomplete) return [202, { operation: instance.operation }];
        throw fail(422, `instance ${instanceId} is already being deprovisioned`, 'ConcurrencyError');
      }
      const duringProvisioning = instance.state === 'creating';
      if (duringProvisioning) {
        if (!instance.operation) throw fail(422, `instance ${instanceId} is being provisioned`, 'ConcurrencyError');
        // Halt the creation: stop its work and close its operation as failed.
        running.get(key)?.controller.abort();
        const operation = await store.getOperation(instanceId, null, instance.operation);
        if (operation && operation.state === 'in progress') {
          await store.saveOperation({
            ...operation,
            state: 'failed',
            description: 'halted: the instance was deprovisioned while being provisioned',
            updatedAt: now(),
          });
        }
      }
      const { service, plan } = planFor(instance);
      const controller = new AbortController();
      const answer = await call<undefined>(() =>
        definition.deprovision({
          instanceId,
          service,
          plan,
          context: instance.context,
          acceptsIncomplete: incomplete,
          originatingIdentity: identity,
          signal: controller.signal,
          instance,
          duringProvisioning,
        }),
      );
      const restore = async () => {
        if (duringProvisioning) await store.saveInstance({ ...instance, state: 'failed', updatedAt: now() });
      };
      if (answer.kind === 'error') {
        await restore();
        throw errorReply(answer.error, requestIdOf(req));
      }
      if (answer.kind === 'async') {
        if (!incomplete) {
          controller.abort();
          await restore();
          throw fail(422, 'this plan deprovisions asynchronously; retry with accepts_incomplete=true', 'AsyncRequired');
        }
        const operation = await startOperation('deprovision', instanceId, null, answer.value, null, controller);
        await store.saveInstance({ ...instance, state: 'deleting', operation: operation.operation, updatedAt: now() });
        return [202, { operation: operation.operation }];
      }
      await store.saveInstance({ ...instance, state: 'deleted', operation: null, updatedAt: now() });
      return [200, {}];
    });
  }

  async function fetchInstance(instanceId: string): Promise<[number, Record<string, unknown>]> {
    const instance = await store.getInstance(instanceId);
    if (!instance || instance.state === 'deleted' || instance.state === 'creating' || instance.state === 'failed') {
      throw fail(404, `instance ${instanceId} does not exist or is not provisioned yet`);
    }
    const { service, plan } = planFor(instance);
    if (!service.instancesRetrievable) throw fail(400, `instances of service "${service.slug}" are not retrievable`);
    if (instance.state === 'updating') throw fail(422, `instance ${instanceId} is being updated`, 'ConcurrencyError');
    const extra = (await definition.getInstance?.({ instance, binding: undefined, service, plan })) ?? {};
    const dashboardUrl = extra.dashboardUrl ?? instance.dashboardUrl;
    const metadata = extra.metadata ?? instance.metadata;
    return [
      200,
      {
        service_id: instance.serviceId,
        plan_id: instance.planId,
        parameters: extra.parameters ?? instance.parameters,
        ...(dashboardUrl ? { dashboard_url: dashboardUrl } : {}),
        ...(instance.maintenanceInfo ? { maintenance_info: instance.maintenanceInfo } : {}),
        ...(metadata ? { metadata } : {}),
      },
    ];
  }

  async function lastOperation(
    instanceId: string,
    bindingId: string | null,
    requested: string | undefined,
    res: Response,
  ): Promise<[number, Record<string, unknown>]> {
    const resource: { state: ResourceState; operation: string | null } | undefined =
      bindingId === null ? await store.getInstance(instanceId) : await store.getBinding(instanceId, bindingId);
    const name = bindingId === null ? `instance ${instanceId}` : `binding ${bindingId}`;
    if (!resource) throw fail(404, `${name} does not exist`);
    const operationId = requested ?? resource.operation;
    if (!operationId) {
      if (resource.state === 'deleted') throw fail(410, `${name} is gone`);
      return [200, { state: resource.state === 'failed' ? 'failed' : 'succeeded' }];
    }
    let operation = await store.getOperation(instanceId, bindingId, operationId);
    if (!operation) throw fail(404, `operation "${operationId}" is unknown for ${name}`);
    if (
      operation.state === 'in progress' &&
      definition.lastOperation &&
      !running.has(resourceKey(instanceId, bindingId))
    ) {
      const polled = await definition.lastOperation({ operation });
      if (polled.state === 'in progress') {
        if (polled.description && polled.description !== operation.description) {
          operation = { ...operation, description: polled.description, updatedAt: now() };
          await store.saveOperation(operation);
        }
      } else {
        await finishOperation({ instanceId, bindingId: bindingId ?? undefined, operation: operationId }, polled);
        operation = (await store.getOperation(instanceId, bindingId, operationId)) ?? operation;
      }
    }
    if (operation.state === 'in progress') res.setHeader('Retry-After', retryAfter);
    return [
      200,
      {
        state: operation.state,
        ...(operation.description ? { description: operation.description } : {}),
        ...(bindingId === null && operation.instanceUsable !== null
          ? { instance_usable: operation.instanceUsable }
          : {}),
        ...(bindingId === null && operation.updateRepeatable !== null
          ? { update_repeatable: operation.updateRepeatable }
          : {}),
      },
    ];
  }

  return { provisionInstance, updateInstance, deprovisionInstance, fetchInstance, lastOperation };
}

import { randomUUID } from 'node:crypto';
import { Tracer, type TracingConfig, TracingConfigError, tracingConfig } from '@annex/tracing';
import { type BrokerTrust, createBrokerTrust } from '../auth.js';
import { manifestToOsbCatalog } from '../catalog.js';
import { isProviderError } from '../errors.js';
import { validateParameters } from '../json-schema.js';
import type { PlanManifest, ProviderManifest, ServiceManifest } from '../manifest.js';
import { type InProgress, isInProgress } from '../results.js';
import { MemoryStore, type OperationKind, type OperationRecord, type ProviderStore } from '../store.js';
import type { BindResult, OperationOutcome, OperationRef, ProviderDefinition } from '../types.js';
import { bindResultToOsb, fail, isObject, now, Reply, resourceKey } from './protocol.js';

/** Everything the endpoints share: the definition, the store, locks and background work. */
export type Runtime = ReturnType<typeof createRuntime>;

/** Builds the provider's shared state and the operation engine (async work, terminal states). */
export function createRuntime(definition: ProviderDefinition<any, any, any>, manifest: ProviderManifest) {
  const store: ProviderStore = definition.store ?? new MemoryStore();
  const tracer = definition.tracer ?? new Tracer(tracingOf(manifest.slug));
  const trust: BrokerTrust | undefined = definition.broker
    ? createBrokerTrust(definition.broker, manifest.slug)
    : undefined;
  const retryAfter = String(definition.retryAfterSeconds ?? 2);
  const onError =
    definition.onError ??
    ((error: unknown, requestId: string) => console.error(`[annex-sdk] request ${requestId} failed:`, error));
  const catalog = manifestToOsbCatalog(manifest);
  let ready: Promise<void> | undefined;
  const init = () => {
    ready ??= store.init ? store.init() : Promise.resolve();
    return ready;
  };

  // In-process serialisation per resource: a re-delivery waits for the first delivery's answer.
  const locks = new Map<string, Promise<unknown>>();
  async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.catch(() => {});
    locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (locks.get(key) === settled) locks.delete(key);
    }
  }

  // Background work of async operations, by resource key; aborted by a delete during provisioning.
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();

  function findPlan(serviceId: unknown, planId: unknown): { service: ServiceManifest; plan: PlanManifest } {
    const service = manifest.services.find((s) => s.id === serviceId);
    if (!service) throw fail(400, `unknown service_id "${String(serviceId)}"`);
    const plan = service.plans.find((p) => p.id === planId);
    if (!plan) throw fail(400, `unknown plan_id "${String(planId)}" for service "${service.slug}"`);
    return { service, plan };
  }

  function planFor(record: { serviceId: string; planId: string }) {
    const service = manifest.services.find((s) => s.id === record.serviceId);
    const plan = service?.plans.find((p) => p.id === record.planId);
    if (!service || !plan)
      throw new Error(`stored resource refers to a plan no longer in the manifest: ${record.planId}`);
    return { service, plan };
  }

  function checkParameters(
    jsonSchema: Record<string, unknown> | undefined,
    zodSchema: { safeParse(v: unknown): { success: boolean; data?: unknown; error?: unknown } } | undefined,
    parameters: Record<string, unknown>,
  ): unknown {
    const problems = jsonSchema ? validateParameters(jsonSchema, parameters) : [];
    if (problems.length > 0) {
      throw fail(400, `invalid parameters: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`);
    }
    if (!zodSchema) return parameters;
    const parsed = zodSchema.safeParse(parameters) as
      | { success: true; data: unknown }
      | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
    if (!parsed.success) {
      const described = parsed.error.issues.map((i) => `/${i.path.map(String).join('/')} ${i.message}`).join('; ');
      throw fail(400, `invalid parameters: ${described}`);
    }
    return parsed.data;
  }

  /** Runs a handler and sorts its answer into result / in progress / error. */
  async function call<R>(
    fn: () => Promise<unknown> | unknown,
  ): Promise<
    { kind: 'result'; value: R } | { kind: 'async'; value: InProgress<R> } | { kind: 'error'; error: unknown }
  > {
    try {
      const value = await fn();
      if (isProviderError(value)) return { kind: 'error', error: value };
      if (isInProgress(value)) return { kind: 'async', value: value as InProgress<R> };
      return { kind: 'result', value: value as R };
    } catch (error) {
      return { kind: 'error', error };
    }
  }

  function errorReply(error: unknown, requestId: string): Reply {
    if (isProviderError(error)) return new Reply(error.status, error.toBody() as unknown as Record<string, unknown>);
    onError(error, requestId);
    return fail(500, `internal error in the provider (request id ${requestId})`);
  }

  /** Starts tracking an async operation and runs its `work`, if any, in the background. */
  async function startOperation(
    kind: OperationKind,
    instanceId: string,
    bindingId: string | null,
    answer: InProgress,
    pending: Record<string, unknown> | null,
    controller: AbortController,
  ): Promise<OperationRecord> {
    const record: OperationRecord = {
      instanceId,
      bindingId,
      operation: answer.operation ?? `${kind}-${randomUUID()}`,
      kind,
      state: 'in progress',
      description: answer.description ?? null,
      instanceUsable: null,
      updateRepeatable: null,
      pending,
      createdAt: now(),
      updatedAt: now(),
    };
    await store.saveOperation(record);
    const work = answer.work;
    if (work) {
      const key = resourceKey(instanceId, bindingId);
      const done = (async () => {
        let outcome: OperationOutcome;
        try {
          outcome = { state: 'succeeded', result: await work(controller.signal) };
        } catch (error) {
          // Work that a delete aborted ends with the abort's error: expected, not worth a log line.
          if (!isProviderError(error) && !controller.signal.aborted) onError(error, `${kind} ${record.operation}`);
          outcome = {
            state: 'failed',
            description: isProviderError(error) ? error.message : 'the operation failed in the provider',
            ...(isProviderError(error) && error.instanceUsable !== undefined
              ? { instanceUsable: error.instanceUsable }
              : {}),
            ...(isProviderError(error) && error.updateRepeatable !== undefined
              ? { updateRepeatable: error.updateRepeatable }
              : {}),
          };
        }
        if (controller.signal.aborted) return; // halted by a delete; that delete settled the state
        await finishOperation({ instanceId, bindingId: bindingId ?? undefined, operation: record.operation }, outcome);
      })()
        .catch((error) => onError(error, `${kind} ${record.operation}`))
        .finally(() => {
          if (running.get(key)?.done === done) running.delete(key);
        });
      running.set(key, { controller, done });
    }
    return record;
  }

  /** Applies a terminal outcome to the operation and its resource; a no-op once terminal. */
  async function finishOperation(ref: OperationRef, outcome: OperationOutcome): Promise<void> {
    const bindingId = ref.bindingId ?? null;
    await withLock(resourceKey(ref.instanceId, bindingId), async () => {
      const operation = await store.getOperation(ref.instanceId, bindingId, ref.operation);
      if (!operation)
        throw new Error(`unknown operation ${ref.operation} for ${resourceKey(ref.instanceId, bindingId)}`);
      if (operation.state !== 'in progress') return;
      const ok = outcome.state === 'succeeded';
      if (bindingId === null) {
        const instance = await store.getInstance(ref.instanceId);
        if (instance) {
          const result = isObject(outcome.result) ? outcome.result : {};
          if (operation.kind === 'provision') {
            instance.state = ok ? 'ready' : 'failed';
            if (ok && typeof result.dashboardUrl === 'string') instance.dashboardUrl = result.dashboardUrl;
            if (ok && isObject(result.metadata)) instance.metadata = result.metadata;
          } else if (operation.kind === 'update') {
            instance.state = 'ready';
            if (ok && operation.pending) {
              instance.planId = String(operation.pending.planId);
              instance.parameters = (operation.pending.parameters as Record<string, unknown>) ?? instance.parameters;
              if (isObject(operation.pending.context)) instance.context = operation.pending.context;
              if (operation.pending.maintenanceInfo) {
                instance.maintenanceInfo = operation.pending.maintenanceInfo as { version: string };
              }
              if (typeof result.dashboardUrl === 'string') instance.dashboardUrl = result.dashboardUrl;
            }
          } else if (operation.kind === 'deprovision') {
            instance.state = ok ? 'deleted' : 'ready';
          }
          instance.updatedAt = now();
          await store.saveInstance(instance);
        }
      } else {
        const binding = await store.getBinding(ref.instanceId, bindingId);
        if (binding) {
          if (operation.kind === 'bind') {
            binding.state = ok ? 'ready' : 'failed';
            if (ok) binding.result = bindResultToOsb(outcome.result as BindResult | undefined);
          } else if (operation.kind === 'unbind') {
            binding.state = ok ? 'deleted' : 'ready';
          }
          binding.updatedAt = now();
          await store.saveBinding(binding);
        }
      }
      operation.state = outcome.state;
      operation.description = outcome.description ?? operation.description;
      if (!ok && (operation.kind === 'update' || operation.kind === 'deprovision')) {
        operation.instanceUsable = outcome.instanceUsable ?? true;
      }
      if (!ok && operation.kind === 'update') operation.updateRepeatable = outcome.updateRepeatable ?? true;
      operation.updatedAt = now();
      await store.saveOperation(operation);
    });
  }

  return {
    definition,
    manifest,
    store,
    tracer,
    trust,
    retryAfter,
    onError,
    catalog,
    init,
    withLock,
    running,
    findPlan,
    planFor,
    checkParameters,
    call,
    errorReply,
    startOperation,
    finishOperation,
  };
}

/** The `OTEL_*` variables of this process, a wrong one named (defineProvider throws it). */
function tracingOf(serviceName: string): TracingConfig {
  try {
    return tracingConfig(process.env, { serviceName });
  } catch (error) {
    if (error instanceof TracingConfigError) throw new TypeError(`invalid tracing configuration: ${error.message}`);
    throw error;
  }
}

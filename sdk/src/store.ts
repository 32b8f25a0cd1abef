/**
 * What the SDK remembers about instances, bindings and operations, so that it can answer
 * idempotent re-deliveries, `last_operation` and fetches. In memory by default;
 * {@link PostgresStore} (from `@annex/sdk/postgres`) when several replicas serve one provider.
 */

/**
 * Where a resource is in its life. `deleted` records are kept so late polls get answers.
 *
 * @example
 * const usable = (state: ResourceState) => state === 'ready' || state === 'updating';
 */
export type ResourceState = 'creating' | 'ready' | 'updating' | 'deleting' | 'failed' | 'deleted';

/**
 * The OSB operation states.
 *
 * @example
 * const done = (state: OperationState) => state !== 'in progress';
 */
export type OperationState = 'in progress' | 'succeeded' | 'failed';

/**
 * The kinds of operation a broker can start.
 *
 * @example
 * lastOperation: async ({ operation }) => (operation.kind === ('provision' satisfies OperationKind) ? check(operation) : { state: 'succeeded' })
 */
export type OperationKind = 'provision' | 'update' | 'deprovision' | 'bind' | 'unbind';

/**
 * A service instance as the SDK stored it.
 *
 * @example
 * const instance: InstanceRecord | undefined = await provider.store.getInstance(instanceId);
 * console.log(instance?.planId, instance?.state);
 */
export interface InstanceRecord {
  id: string;
  serviceId: string;
  planId: string;
  organizationGuid: string;
  spaceGuid: string;
  parameters: Record<string, unknown>;
  context: Record<string, unknown>;
  maintenanceInfo: { version: string } | null;
  dashboardUrl: string | null;
  metadata: Record<string, unknown> | null;
  state: ResourceState;
  /** The latest operation's id (async operations only). */
  operation: string | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * A service binding as the SDK stored it, with the credentials the handler returned.
 *
 * @example
 * unbind: ({ binding }: { binding: BindingRecord }) => revoke(binding.result?.credentials)
 */
export interface BindingRecord {
  id: string;
  instanceId: string;
  serviceId: string;
  planId: string;
  parameters: Record<string, unknown>;
  context: Record<string, unknown>;
  bindResource: Record<string, unknown> | null;
  predecessorBindingId: string | null;
  /** The bind result in OSB shape (`credentials`, `endpoints`, ...). */
  result: Record<string, unknown> | null;
  state: ResourceState;
  operation: string | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * One async operation and its (eventually terminal) state.
 *
 * @example
 * lastOperation: async ({ operation }: { operation: OperationRecord }) => ((await jobDone(operation.operation)) ? { state: 'succeeded' } : { state: 'in progress' })
 */
export interface OperationRecord {
  instanceId: string;
  /** Set for binding operations. */
  bindingId: string | null;
  operation: string;
  kind: OperationKind;
  state: OperationState;
  description: string | null;
  instanceUsable: boolean | null;
  updateRepeatable: boolean | null;
  /** Changes applied when the operation succeeds (the new plan and parameters of an update). */
  pending: Record<string, unknown> | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * Storage for the SDK's protocol state. Implementations must make `insert*` atomic: exactly
 * one of two concurrent inserts of the same id wins.
 *
 * @example
 * const provider = defineProvider({ manifest, store: new MemoryStore(), ...handlers });
 */
export interface ProviderStore {
  /** Prepares the storage (creates tables); called once before the first request. */
  init?(): Promise<void>;
  getInstance(id: string): Promise<InstanceRecord | undefined>;
  /** Inserts unless a record that is not `deleted` exists; returns whether it inserted. */
  insertInstance(record: InstanceRecord): Promise<boolean>;
  saveInstance(record: InstanceRecord): Promise<void>;
  /** Forgets an instance (a provision that failed with a 4xx changes nothing). */
  removeInstance(id: string): Promise<void>;
  getBinding(instanceId: string, bindingId: string): Promise<BindingRecord | undefined>;
  insertBinding(record: BindingRecord): Promise<boolean>;
  saveBinding(record: BindingRecord): Promise<void>;
  removeBinding(instanceId: string, bindingId: string): Promise<void>;
  getOperation(instanceId: string, bindingId: string | null, operation: string): Promise<OperationRecord | undefined>;
  saveOperation(record: OperationRecord): Promise<void>;
  close?(): Promise<void>;
}

const clone = <T>(value: T): T => structuredClone(value);

/**
 * The in-memory store: the default, for one process. State is lost on restart.
 *
 * @example
 * const store = new MemoryStore();
 * const provider = defineProvider({ manifest, store, ...handlers });
 */
export class MemoryStore implements ProviderStore {
  readonly #instances = new Map<string, InstanceRecord>();
  readonly #bindings = new Map<string, BindingRecord>();
  readonly #operations = new Map<string, OperationRecord>();

  async getInstance(id: string) {
    const found = this.#instances.get(id);
    return found && clone(found);
  }
  async insertInstance(record: InstanceRecord) {
    const existing = this.#instances.get(record.id);
    if (existing && existing.state !== 'deleted') return false;
    this.#instances.set(record.id, clone(record));
    return true;
  }
  async saveInstance(record: InstanceRecord) {
    this.#instances.set(record.id, clone(record));
  }
  async removeInstance(id: string) {
    this.#instances.delete(id);
  }
  async getBinding(instanceId: string, bindingId: string) {
    const found = this.#bindings.get(`${instanceId}/${bindingId}`);
    return found && clone(found);
  }
  async insertBinding(record: BindingRecord) {
    const key = `${record.instanceId}/${record.id}`;
    const existing = this.#bindings.get(key);
    if (existing && existing.state !== 'deleted') return false;
    this.#bindings.set(key, clone(record));
    return true;
  }
  async saveBinding(record: BindingRecord) {
    this.#bindings.set(`${record.instanceId}/${record.id}`, clone(record));
  }
  async removeBinding(instanceId: string, bindingId: string) {
    this.#bindings.delete(`${instanceId}/${bindingId}`);
  }
  async getOperation(instanceId: string, bindingId: string | null, operation: string) {
    const found = this.#operations.get(`${instanceId}/${bindingId ?? ''}/${operation}`);
    return found && clone(found);
  }
  async saveOperation(record: OperationRecord) {
    this.#operations.set(`${record.instanceId}/${record.bindingId ?? ''}/${record.operation}`, clone(record));
  }
}

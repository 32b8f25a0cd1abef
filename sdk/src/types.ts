import type { Tracer } from '@annex/tracing';
import type * as z from 'zod';
import type { BrokerTrustOptions, ReplayStore, SsoContext } from './auth.js';
import type { ProviderError } from './errors.js';
import type { PlanManifest, ProviderManifest, ProviderManifestInput, ServiceManifest } from './manifest.js';
import type { InProgress } from './results.js';
import type { BindingRecord, InstanceRecord, OperationRecord, ProviderStore } from './store.js';

/**
 * `X-Broker-API-Originating-Identity`, decoded: the platform and its user object.
 *
 * @example
 * provision: ({ originatingIdentity }) => audit(originatingIdentity?.platform, originatingIdentity?.value.user_id)
 */
export interface OriginatingIdentity {
  platform: string;
  value: Record<string, unknown>;
}

/**
 * What every handler receives.
 *
 * @example
 * const log = (ctx: HandlerContext) => console.log(ctx.instanceId, ctx.service.slug, ctx.plan.slug, ctx.acceptsIncomplete);
 */
export interface HandlerContext {
  instanceId: string;
  service: ServiceManifest;
  plan: PlanManifest;
  /** The OSB `context` object (platform, organization, space...). */
  context: Record<string, unknown>;
  /** Whether the broker allows an {@link InProgress} answer; otherwise answer synchronously. */
  acceptsIncomplete: boolean;
  originatingIdentity: OriginatingIdentity | undefined;
  /** Aborted when the request's work must stop (a delete arrived during provisioning). */
  signal: AbortSignal;
}

/**
 * Input of `provision`.
 *
 * @example
 * provision: async ({ instanceId, plan, parameters, signal }: ProvisionContext<{ size: number }>) => create(instanceId, plan.slug, parameters.size, signal)
 */
export interface ProvisionContext<P> extends HandlerContext {
  parameters: P;
  organizationGuid: string;
  spaceGuid: string;
  maintenanceInfo: { version: string } | undefined;
}

/**
 * Input of `update`: the target plan, the parameters sent (empty when none) and the instance before.
 *
 * @example
 * update: async ({ instanceId, plan, planChanged }: UpdateContext<Record<string, unknown>>) => { if (planChanged) await resize(instanceId, plan.slug); }
 */
export interface UpdateContext<U> extends HandlerContext {
  parameters: U;
  previousPlan: PlanManifest;
  planChanged: boolean;
  instance: InstanceRecord;
  previousValues: Record<string, unknown>;
  maintenanceInfo: { version: string } | undefined;
}

/**
 * Input of `deprovision`; `duringProvisioning` when it halts an unfinished provision.
 *
 * @example
 * deprovision: async ({ instanceId, duringProvisioning }: DeprovisionContext) => drop(instanceId, { force: duringProvisioning })
 */
export interface DeprovisionContext extends HandlerContext {
  instance: InstanceRecord;
  duringProvisioning: boolean;
}

/**
 * Input of `bind`; `predecessor` is the binding being rotated, if any.
 *
 * @example
 * bind: async ({ instanceId, bindingId, predecessor }: BindContext<Record<string, unknown>>) => ({ credentials: await issue(instanceId, bindingId, predecessor?.id) })
 */
export interface BindContext<B> extends HandlerContext {
  bindingId: string;
  parameters: B;
  bindResource: { app_guid?: string; route?: string; [key: string]: unknown } | undefined;
  predecessor: BindingRecord | undefined;
  instance: InstanceRecord;
}

/**
 * Input of `unbind`.
 *
 * @example
 * unbind: async ({ instanceId, bindingId }: UnbindContext) => revoke(instanceId, bindingId)
 */
export interface UnbindContext extends HandlerContext {
  bindingId: string;
  binding: BindingRecord;
  instance: InstanceRecord;
}

/**
 * Input of `getInstance` / `getBinding`: the stored records, to enrich from the provider's own state.
 *
 * @example
 * getInstance: async ({ instance }: FetchContext) => ({ parameters: await currentSettings(instance.id) })
 */
export interface FetchContext {
  instance: InstanceRecord;
  binding: BindingRecord | undefined;
  service: ServiceManifest;
  plan: PlanManifest;
}

/**
 * A handler with nothing to say returns nothing (`async () => {}`) or `undefined`.
 *
 * @example
 * deprovision: async (): Promise<Nothing> => {}
 */
// biome-ignore lint/suspicious/noConfusingVoidType: handlers written as `async () => {}` return void
export type Nothing = void | undefined;

/**
 * Result of provision: a dashboard URL and metadata, both optional.
 *
 * @example
 * const result: ProvisionResult = { dashboardUrl: 'https://acme.example/i-1', metadata: { region: 'eu' } };
 */
export type ProvisionResult = { dashboardUrl?: string; metadata?: Record<string, unknown> } | Nothing;
/**
 * Result of update.
 *
 * @example
 * const result: UpdateResult = { dashboardUrl: 'https://acme.example/i-1' };
 */
export type UpdateResult = { dashboardUrl?: string } | Nothing;
/**
 * Result of bind: the credentials the app receives, and OSB extras.
 *
 * @example
 * const result: BindResult = { credentials: { DATABASE_URL: url }, endpoints: [{ host: 'db.example', ports: ['5432'] }] };
 */
export interface BindResult {
  credentials?: Record<string, unknown>;
  syslogDrainUrl?: string;
  routeServiceUrl?: string;
  volumeMounts?: Record<string, unknown>[];
  endpoints?: { host: string; ports: string[]; protocol?: 'tcp' | 'udp' | 'all' }[];
  metadata?: { expiresAt?: string; renewBefore?: string };
}
/**
 * Result of fetching an instance: replaces the stored values given.
 *
 * @example
 * getInstance: async ({ instance }): Promise<GetInstanceResult> => ({ dashboardUrl: `https://acme.example/${instance.id}` })
 */
export type GetInstanceResult =
  | {
      parameters?: Record<string, unknown>;
      dashboardUrl?: string;
      metadata?: Record<string, unknown>;
    }
  | Nothing;

/**
 * A handler's answer: its result, "in progress", or a typed error (returned or thrown).
 *
 * @example
 * const answer: Answer<BindResult> = ready ? { credentials } : inProgress({ work: () => issueLater() });
 */
export type Answer<R> = R | InProgress<R> | ProviderError;
type Handler<C, R> = (context: C) => Promise<Answer<R>> | Answer<R>;

/**
 * The end of an async operation, reported by `work`, `lastOperation` or `completeOperation`.
 *
 * @example
 * await provider.completeOperation(ref, { state: 'failed', description: 'disk full' } satisfies OperationOutcome);
 */
export interface OperationOutcome {
  state: 'succeeded' | 'failed';
  description?: string;
  /** For provision / update / bind: the handler result the synchronous call would have returned. */
  result?: unknown;
  instanceUsable?: boolean;
  updateRepeatable?: boolean;
}

/**
 * Identifies an async operation.
 *
 * @example
 * const ref: OperationRef = { instanceId, operation: 'provision-42' };
 * await provider.completeOperation(ref, { state: 'succeeded' });
 */
export interface OperationRef {
  instanceId: string;
  bindingId?: string;
  operation: string;
}

/**
 * Zod schemas for parameters, applied on top of the plan's JSON Schema; they type the handlers' input.
 *
 * @example
 * parameters: { provision: z.object({ size: z.number().int().max(10) }) } satisfies ParameterSchemas<{ size: number }, unknown, unknown>
 */
export interface ParameterSchemas<P, U, B> {
  provision?: z.ZodType<P>;
  update?: z.ZodType<U>;
  bind?: z.ZodType<B>;
}

/**
 * Everything `defineProvider` accepts.
 *
 * @example
 * const definition: ProviderDefinition = { manifest, broker: { url }, provision: () => {}, deprovision: () => {} };
 * defineProvider(definition);
 */
export interface ProviderDefinition<
  P = Record<string, unknown>,
  U = Record<string, unknown>,
  B = Record<string, unknown>,
> {
  /** The provider manifest (validated; the SDK refuses an invalid one). */
  manifest: ProviderManifestInput | ProviderManifest;
  /** JWT mode: the broker to trust. Required unless `basicAuth` is set. */
  broker?: BrokerTrustOptions;
  /** Plain OSB mode: the credentials the broker sends with basic auth. */
  basicAuth?: { username: string; password: string };
  /** Protocol state (default: in memory). Use `PostgresStore` for several replicas. */
  store?: ProviderStore;
  parameters?: ParameterSchemas<P, U, B>;
  /** `Retry-After` seconds sent with an "in progress" last_operation (default 2). */
  retryAfterSeconds?: number;
  /** Path of the SSO hand-off (default `/sso`). */
  ssoPath?: string;
  /** Called with every unexpected error (default: printed to stderr). */
  onError?: (error: unknown, requestId: string) => void;
  /**
   * Where the provider's spans go. By default the standard `OTEL_*` environment variables
   * decide (traces are exported when `OTEL_EXPORTER_OTLP_ENDPOINT` is set), with the
   * manifest's slug as `service.name`; each OSB request continues the broker's trace.
   */
  tracer?: Tracer;

  provision: Handler<ProvisionContext<P>, ProvisionResult>;
  update?: Handler<UpdateContext<U>, UpdateResult>;
  deprovision: Handler<DeprovisionContext, Nothing>;
  bind?: Handler<BindContext<B>, BindResult>;
  unbind?: Handler<UnbindContext, Nothing>;
  getInstance?: (context: FetchContext) => Promise<GetInstanceResult> | GetInstanceResult;
  getBinding?: (context: FetchContext) => Promise<BindResult | undefined> | BindResult | undefined;
  /** Polled for "in progress" operations that have no `work`; return a terminal outcome to end them. */
  lastOperation?: (context: {
    operation: OperationRecord;
  }) => Promise<OperationOutcome | { state: 'in progress'; description?: string }>;
  /**
   * The SSO hand-off: the SDK verified the token; sign the user in (set a session cookie)
   * and answer. Return a URL to redirect to, or send the response yourself.
   */
  sso?: (
    sso: SsoContext,
    req: import('express').Request,
    res: import('express').Response,
  ) => Promise<string | Nothing> | string | Nothing;
}

/**
 * A running standalone provider.
 *
 * @example
 * const running: RunningProvider = await provider.listen(0);
 * console.log(running.url);
 * await running.close();
 */
export interface RunningProvider {
  url: string;
  port: number;
  close(): Promise<void>;
}

export type { ReplayStore };

export {
  AuthenticationError,
  type BrokerRequestClaims,
  type BrokerTrust,
  type BrokerTrustOptions,
  basicAuthMatches,
  createBrokerTrust,
  MemoryReplayStore,
  type ReplayStore,
  SSO_TOKEN_TYPE,
  type SsoContext,
  type SsoUser,
} from './auth.js';
export {
  BrokerCallbackError,
  type BrokerClient,
  type BrokerClientOptions,
  createBrokerClient,
  type UsageRecord,
} from './broker-client.js';
export { manifestToOsbCatalog, type OsbCatalog } from './catalog.js';
export { isProviderError, type OsbErrorBody, ProviderError } from './errors.js';
export { checkParameterSchema, MAX_SCHEMA_BYTES, type ParameterProblem, validateParameters } from './json-schema.js';
export {
  CATEGORIES,
  type Category,
  isFreePlan,
  LISTING_STATES,
  type ListingState,
  type ManifestProblem,
  type ManifestValidation,
  manifestJsonSchema,
  type PlanManifest,
  type ProviderManifest,
  type ProviderManifestInput,
  planManifestSchema,
  providerManifestSchema,
  type ServiceManifest,
  serviceManifestSchema,
  validateManifest,
} from './manifest.js';
export { defineProvider, type Provider } from './provider.js';
export { type InProgress, inProgress, isInProgress } from './results.js';
export {
  type BindingRecord,
  type InstanceRecord,
  MemoryStore,
  type OperationKind,
  type OperationRecord,
  type OperationState,
  type ProviderStore,
  type ResourceState,
} from './store.js';
export type {
  Answer,
  BindContext,
  BindResult,
  DeprovisionContext,
  FetchContext,
  GetInstanceResult,
  HandlerContext,
  Nothing,
  OperationOutcome,
  OperationRef,
  OriginatingIdentity,
  ParameterSchemas,
  ProviderDefinition,
  ProvisionContext,
  ProvisionResult,
  RunningProvider,
  UnbindContext,
  UpdateContext,
  UpdateResult,
} from './types.js';

export { findBinding } from './db/bindings.js';
export { findInstance } from './db/instances.js';
export { findOperation } from './db/operations.js';
export { deterministicProviderInstanceId } from './db/provisioning.js';
export { bindInstance, unbindInstance } from './domain/bindings.js';
export { deprovisionInstance, provisionInstance, updateServiceInstance } from './domain/instances.js';
export { sealParameters, sealPlainParameters, storedParameters } from './domain/parameters.js';
export { ProviderCallLog } from './domain/provider-calls.js';
export { PROVIDER_API_VERSION, ProviderClient } from './domain/provider-client.js';
export {
  PROVIDER_CALLS_RETENTION_DAYS,
  providerCallsPruneJobKind,
  providerCallsPruneSchedule,
} from './domain/provider-health.js';
export { type OperationsPass, operationsJobKind } from './domain/workers.js';
export { osbError, osbErrorHandler } from './http/errors.js';
export { providerRouter } from './http/provider-api.js';
export { providerHealthRoutes } from './http/provider-health.js';
export { isOsbPath, osbHandler } from './http/router.js';

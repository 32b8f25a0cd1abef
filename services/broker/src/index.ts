export { type Broker, type BrokerDeps, createBroker } from './app.js';
export { signWebhook, verifyWebhookSignature, WebhookSignatureError } from './apps/webhooks.js';
export { type BrokerConfig, loadBrokerConfig } from './config.js';
export { deterministicProviderInstanceId } from './db/provisioning.js';
export { type AuditEntry, listAudit } from './domain/audit.js';
export { buildCatalog } from './domain/catalog.js';
export type { BrokerContext, Caller, OriginatingIdentity } from './domain/context.js';
export { BrokerFailure, type BrokerFailureCode } from './domain/errors.js';
export { PROVIDER_API_VERSION } from './domain/provider-client.js';
export {
  activeKey,
  DEFAULT_PUBLISH_LEAD_MS,
  ensureSigningKey,
  publishedKeys,
  RETIRED_KEY_RETENTION_SECONDS,
  RequestSigner,
  rotateSigningKey,
  TOKEN_LIFETIME_SECONDS,
} from './domain/signing.js';
export { type OperationsPass, operationsJobKind } from './domain/workers.js';
export { type BrokerJobRunner, type BrokerJobs, createBrokerJobRunner } from './jobs.js';

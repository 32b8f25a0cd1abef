export { type Broker, type BrokerDeps, createBroker } from './app.js';
export {
  signWebhook,
  verifyWebhookSignature,
  type WebhookHeaders,
  type WebhookMessage,
  WebhookSignatureError,
} from './apps/index.js';
export { type BrokerConfig, loadBrokerConfig } from './config.js';
export { type BrokerJobRunner, type BrokerJobs, createBrokerJobRunner } from './jobs.js';
export {
  deterministicProviderInstanceId,
  type OperationsPass,
  operationsJobKind,
  PROVIDER_API_VERSION,
} from './osb/index.js';
export { type AuditEntry, listAudit } from './shared/domain/audit.js';
export { buildCatalog } from './shared/domain/catalog.js';
export type { BrokerContext, Caller, OriginatingIdentity } from './shared/domain/context.js';
export { BrokerFailure, type BrokerFailureCode } from './shared/domain/errors.js';
export {
  activeKey,
  DEFAULT_PUBLISH_LEAD_MS,
  ensureSigningKey,
  publishedKeys,
  RETIRED_KEY_RETENTION_SECONDS,
  RequestSigner,
  rotateSigningKey,
  TOKEN_LIFETIME_SECONDS,
} from './shared/domain/signing.js';

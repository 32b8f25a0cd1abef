export { type AiGatewayConfig, loadAiGatewayConfig, startOptionsFromConfig } from './config.js';
export { GatewayError } from './errors.js';
export {
  type GatewayLogger,
  type RunningAiGateway,
  type StartAiGatewayOptions,
  startExample,
} from './example.js';
export { manifest, PROVIDER_SLUG, SCALE_PLAN_ID, SERVICE_ID, STARTER_PLAN_ID } from './manifest.js';
export { PLAN_LIMITS, type PlanLimits } from './plans.js';
export type { ApiKeyRecord, GatewayStore, UsageEntry } from './state/store.js';
export { CHAT_MODEL, EMBEDDING_MODEL, type RunningUpstream, startUpstream } from './upstream/server.js';
export { countTokens, promptTokens, tokenize } from './upstream/tokens.js';

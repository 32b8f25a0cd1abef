export { isUuid } from './db/store.js';
export { findAddon, findApp } from './domain/access.js';
export { LiveEvents } from './domain/live-events.js';
export { applyProviderConfig } from './domain/provider-config.js';
export { type AppsReconcilePass, appsReconcileJobKind } from './domain/reconciler.js';
export { recordEvent } from './domain/releases.js';
export { type WebhooksPass, webhookDeliveries } from './domain/webhook-worker.js';
export {
  signWebhook,
  verifyWebhookSignature,
  type WebhookHeaders,
  type WebhookMessage,
  WebhookSignatureError,
} from './domain/webhooks.js';
export { appsProviderRoutes } from './http/provider-routes.js';
export { appsRouter } from './http/router.js';

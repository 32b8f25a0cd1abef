import { randomBytes } from 'node:crypto';
import {
  type BrokerTrustOptions,
  defineProvider,
  type Provider,
  type ProviderDefinition,
  type ProviderManifestInput,
  type ProviderStore,
} from '@annex/sdk';
import { hashApiKey } from './gateway.js';
import type { GatewayStore } from './state/store.js';

/** A fresh API key: `sk-annex-` and 32 random bytes, base64url. */
export const newApiKey = () => `sk-annex-${randomBytes(32).toString('base64url')}`;

/**
 * The gateway's OSB side: provision and update need nothing of their own (the instance's
 * plan, which sets its limits, is the SDK's record); bind issues an API key, unbind revokes
 * it at once, deprovision revokes every key of the instance. SSO opens the add-on's dashboard.
 */
export function createAiProvider(options: {
  manifest: ProviderManifestInput;
  broker: BrokerTrustOptions;
  protocolStore: ProviderStore;
  store: GatewayStore;
  /** What apps get as OPENAI_BASE_URL. */
  openAiBaseUrl: string;
  now: () => number;
  onError: (error: unknown, requestId: string) => void;
  /** The SSO hand-off into the dashboard (see `createDashboard`). */
  sso?: ProviderDefinition['sso'];
}): Provider {
  const { store } = options;
  const at = () => new Date(options.now()).toISOString();
  return defineProvider({
    manifest: options.manifest,
    broker: options.broker,
    store: options.protocolStore,
    onError: options.onError,
    ...(options.sso ? { sso: options.sso } : {}),
    provision: () => {},
    update: () => {},
    deprovision: async ({ instanceId }) => {
      await store.revokeInstanceKeys(instanceId, at());
    },
    bind: async ({ instanceId, bindingId }) => {
      const key = newApiKey();
      await store.insertKey({ hash: hashApiKey(key), instanceId, bindingId, createdAt: at(), revokedAt: null });
      return { credentials: { OPENAI_API_KEY: key, OPENAI_BASE_URL: options.openAiBaseUrl } };
    },
    unbind: async ({ instanceId, bindingId }) => {
      await store.revokeBindingKeys(instanceId, bindingId, at());
    },
  });
}

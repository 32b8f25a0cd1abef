import { createRequire } from 'node:module';
import type Stripe from 'stripe';
import type { BrokerConfig } from '../../config.js';

// The SDK (some 16 MB resident once loaded) is loaded only by a broker with a secret key:
// a ledger-only broker never holds it. Synchronously, from the package's CommonJS build,
// since a broker is built synchronously.
const requireStripe = (): typeof Stripe => createRequire(import.meta.url)('stripe') as typeof Stripe;

/** How billing runs in this broker: with Stripe, or ledger-only (no STRIPE_SECRET_KEY). */
export interface Billing {
  mode: 'stripe' | 'ledger-only';
  /** The official SDK, configured with the key (and STRIPE_API_BASE in tests); undefined when ledger-only. */
  stripe: Stripe | undefined;
  webhookSecret: string | undefined;
  graceDays: number;
  defaultRevenueShare: number;
}

/** Builds the billing settings from the broker's configuration. */
export function createBilling(config: BrokerConfig['billing']): Billing {
  const stripe = config.stripeSecretKey
    ? new (requireStripe())(config.stripeSecretKey, {
        maxNetworkRetries: 2,
        timeout: 20_000,
        telemetry: false,
        ...(config.stripeApi
          ? { host: config.stripeApi.host, port: config.stripeApi.port, protocol: config.stripeApi.protocol }
          : {}),
      })
    : undefined;
  return {
    mode: stripe ? 'stripe' : 'ledger-only',
    stripe,
    webhookSecret: config.stripeWebhookSecret,
    graceDays: config.graceDays,
    defaultRevenueShare: config.defaultRevenueShare,
  };
}

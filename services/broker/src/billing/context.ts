import Stripe from 'stripe';
import type { BrokerConfig } from '../config.js';
import type { BrokerContext } from '../domain/context.js';

/** How billing runs in this broker: with Stripe, or ledger-only (no STRIPE_SECRET_KEY). */
export interface Billing {
  mode: 'stripe' | 'ledger-only';
  /** The official SDK, configured with the key (and STRIPE_API_BASE in tests); undefined when ledger-only. */
  stripe: Stripe | undefined;
  webhookSecret: string | undefined;
  graceDays: number;
  defaultRevenueShare: number;
}

// The billing settings hang off the context (which other modules build) through a WeakMap, so
// the apps layer can ask for them without the domain context knowing about billing.
const registry = new WeakMap<BrokerContext, Billing>();

const LEDGER_ONLY: Billing = {
  mode: 'ledger-only',
  stripe: undefined,
  webhookSecret: undefined,
  graceDays: 7,
  defaultRevenueShare: 0.8,
};

/** Builds the billing settings from the broker's configuration. */
export function createBilling(config: BrokerConfig['billing']): Billing {
  const stripe = config.stripeSecretKey
    ? new Stripe(config.stripeSecretKey, {
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

export function registerBilling(ctx: BrokerContext, billing: Billing): void {
  registry.set(ctx, billing);
}

/** The broker's billing settings; ledger-only when none were registered. */
export function billingOf(ctx: BrokerContext): Billing {
  return registry.get(ctx) ?? LEDGER_ONLY;
}

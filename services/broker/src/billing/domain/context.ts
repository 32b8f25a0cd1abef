import { createRequire } from 'node:module';
import { traceOutbound } from '@annex/tracing';
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
  const StripeSdk = config.stripeSecretKey ? requireStripe() : undefined;
  const stripe = StripeSdk
    ? new StripeSdk(config.stripeSecretKey as string, {
        httpClient: tracedHttpClient(StripeSdk.createNodeHttpClient()),
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

type StripeHttpClient = ReturnType<typeof Stripe.createNodeHttpClient>;

/**
 * The SDK's own Node client with each request (each retry too) in a client span of the
 * current trace: a Stripe call made while serving a traced request or job shows in it.
 */
function tracedHttpClient(client: StripeHttpClient): StripeHttpClient {
  const makeRequest: StripeHttpClient['makeRequest'] = async (
    host,
    port,
    path,
    method,
    headers,
    data,
    protocol,
    timeout,
  ) => {
    const url = `${protocol}://${host}:${port}${path.split('?')[0]}`;
    const { response } = await traceOutbound(method, url, {}, async (trace) => {
      const answer = await client.makeRequest(
        host,
        port,
        path,
        method,
        { ...headers, ...trace },
        data,
        protocol,
        timeout,
      );
      return { status: answer.getStatusCode(), response: answer };
    });
    return response;
  };
  return Object.assign(Object.create(client) as StripeHttpClient, { makeRequest });
}

import { ConfigError } from '@annex/platform';
import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../config.js';
import { createBilling } from './domain/context.js';

describe('billing configuration', () => {
  it('is ledger-only without a Stripe key', () => {
    const config = loadBrokerConfig({});
    expect(config.billing).toMatchObject({ stripeSecretKey: undefined, graceDays: 7, defaultRevenueShare: 0.8 });
    expect(createBilling(config.billing)).toMatchObject({ mode: 'ledger-only', stripe: undefined });
  });

  it('uses the SDK with host, port and protocol from STRIPE_API_BASE', () => {
    const config = loadBrokerConfig({
      STRIPE_SECRET_KEY: 'sk_test_x',
      STRIPE_WEBHOOK_SECRET: 'whsec_x',
      STRIPE_API_BASE: 'http://127.0.0.1:12111',
      BILLING_GRACE_DAYS: '3',
      BILLING_DEFAULT_REVENUE_SHARE: '0.7',
    });
    expect(config.billing.stripeApi).toEqual({ host: '127.0.0.1', port: 12111, protocol: 'http' });
    const billing = createBilling(config.billing);
    expect(billing.mode).toBe('stripe');
    expect(billing.stripe).toBeDefined();
    expect(billing).toMatchObject({ graceDays: 3, defaultRevenueShare: 0.7 });
  });

  it('names each bad billing variable', () => {
    const problem = (env: Record<string, string>) => {
      try {
        loadBrokerConfig(env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(problem({ STRIPE_SECRET_KEY: 'sk_test_x' })).toMatch(/STRIPE_WEBHOOK_SECRET/);
    expect(problem({ BILLING_DEFAULT_REVENUE_SHARE: '1.5' })).toMatch(/BILLING_DEFAULT_REVENUE_SHARE/);
    expect(problem({ BILLING_GRACE_DAYS: 'soon' })).toMatch(/BILLING_GRACE_DAYS/);
    expect(problem({ STRIPE_API_BASE: 'not a url' })).toMatch(/STRIPE_API_BASE/);
  });
});

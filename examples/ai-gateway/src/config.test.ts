import { describe, expect, it } from 'vitest';
import { loadAiGatewayConfig, startOptionsFromConfig } from './config.js';

describe('the AI gateway configuration', () => {
  it('runs on its defaults: port 4103, the local broker, the local upstream, state in memory', () => {
    const options = startOptionsFromConfig(loadAiGatewayConfig({}));
    expect(options).toEqual({ port: 4103, brokerUrl: 'http://127.0.0.1:4001', usageReportIntervalMs: 5000 });
  });

  it('swaps in a real upstream, PostgreSQL state and a provider token from the environment', () => {
    const options = startOptionsFromConfig(
      loadAiGatewayConfig({
        AI_GATEWAY_UPSTREAM_URL: 'https://api.openai.com/v1',
        AI_GATEWAY_UPSTREAM_API_KEY: 'sk-real',
        EXAMPLE_AI_DATABASE_URL: 'postgres://u@db/ai',
        EXAMPLE_AI_PROVIDER_TOKEN: 'annex_provider_x',
        EXAMPLE_AI_DASHBOARD_SECRET: 'd'.repeat(32),
      }),
    );
    expect(options).toMatchObject({
      upstreamUrl: 'https://api.openai.com/v1',
      upstreamApiKey: 'sk-real',
      databaseUrl: 'postgres://u@db/ai',
      providerToken: 'annex_provider_x',
      dashboardSecret: 'd'.repeat(32),
    });
  });

  it('refuses bad variables by name', () => {
    expect(() => loadAiGatewayConfig({ EXAMPLE_AI_PORT: '70000' })).toThrow(/EXAMPLE_AI_PORT/);
    expect(() => loadAiGatewayConfig({ AI_GATEWAY_UPSTREAM_URL: 'ftp://x' })).toThrow(/AI_GATEWAY_UPSTREAM_URL/);
    expect(() => loadAiGatewayConfig({ AI_GATEWAY_UPSTREAM_API_KEY: 'sk-x' })).toThrow(/AI_GATEWAY_UPSTREAM_API_KEY/);
    expect(() => loadAiGatewayConfig({ EXAMPLE_AI_DATABASE_URL: 'mysql://x' })).toThrow(/EXAMPLE_AI_DATABASE_URL/);
    // Replicas share PostgreSQL state, so they must share the dashboard's cookie secret too.
    expect(() => loadAiGatewayConfig({ EXAMPLE_AI_DATABASE_URL: 'postgres://u@db/ai' })).toThrow(
      /EXAMPLE_AI_DASHBOARD_SECRET/,
    );
    expect(() => loadAiGatewayConfig({ EXAMPLE_AI_DASHBOARD_SECRET: 'short' })).toThrow(/EXAMPLE_AI_DASHBOARD_SECRET/);
  });
});

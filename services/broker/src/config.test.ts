import { ConfigError } from '@annex/platform';
import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from './config.js';

describe('loadBrokerConfig', () => {
  it('has local defaults', () => {
    const config = loadBrokerConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 4001,
      publicUrl: 'http://127.0.0.1:4001',
      providerTimeoutMs: 60_000,
      dataDir: '.annex',
    });
    expect(config.leaseMs).toBeGreaterThan(config.providerTimeoutMs);
  });

  it('names each bad variable', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadBrokerConfig(env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems.map((p) => p.variable).sort();
      }
      return [];
    };
    expect(problems({ BROKER_PORT: 'eighty', BROKER_PUBLIC_URL: 'not a url' })).toEqual([
      'BROKER_PORT',
      'BROKER_PUBLIC_URL',
    ]);
    expect(
      problems({
        DATABASE_URL: 'postgres://127.0.0.1/annex',
        BROKER_PROVIDER_TIMEOUT_MS: '5000',
        BROKER_LEASE_MS: '1000',
      }),
    ).toEqual(['ANNEX_ENCRYPTION_KEYS', 'BROKER_LEASE_MS']);
  });

  it('closes private networks to user-supplied URLs in production unless told otherwise', () => {
    const allowed = (env: Record<string, string>) => loadBrokerConfig(env).outbound.allowPrivateNetworks;
    expect(allowed({})).toBe(true);
    expect(allowed({ NODE_ENV: 'test' })).toBe(true);
    expect(allowed({ NODE_ENV: 'production' })).toBe(false);
    expect(allowed({ NODE_ENV: 'production', ANNEX_ALLOW_PRIVATE_NETWORKS: 'true' })).toBe(true);
    expect(allowed({ NODE_ENV: 'development', ANNEX_ALLOW_PRIVATE_NETWORKS: 'false' })).toBe(false);
    expect(() => loadBrokerConfig({ ANNEX_ALLOW_PRIVATE_NETWORKS: 'sometimes' })).toThrow(
      /ANNEX_ALLOW_PRIVATE_NETWORKS/,
    );
  });
});

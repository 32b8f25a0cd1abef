import { ConfigError } from '@annex/platform';
import { validateManifest } from '@annex/sdk';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { manifest } from './manifest.js';
import { startExample } from './provider.js';

describe('examples/redis set-up', () => {
  it('has a valid manifest with the catalog ids, the given URL and the plans priced', () => {
    const validation = validateManifest(manifest('http://127.0.0.1:4102'));
    expect(validation.ok).toBe(true);
    if (!validation.ok) return;
    expect(validation.manifest.osb).toMatchObject({ url: 'http://127.0.0.1:4102', auth: 'jwt' });
    const plans = validation.manifest.services[0]!.plans.map((p) => [p.slug, p.price?.monthly ?? 0]);
    expect(plans).toEqual([
      ['mini', 0],
      ['premium', 1500],
    ]);
  });

  it('reads its environment once and names a missing or bad variable', () => {
    expect(() => loadConfig({})).toThrow(ConfigError);
    expect(() => loadConfig({})).toThrow(/EXAMPLE_REDIS_URL/);
    expect(() => loadConfig({ EXAMPLE_REDIS_URL: 'postgres://x' })).toThrow(/EXAMPLE_REDIS_URL/);
    expect(() => loadConfig({ EXAMPLE_REDIS_URL: 'redis://h:6379', EXAMPLE_REDIS_PORT: 'x' })).toThrow(
      /EXAMPLE_REDIS_PORT/,
    );
    expect(loadConfig({ EXAMPLE_REDIS_URL: 'redis://h:6379' })).toEqual({
      EXAMPLE_REDIS_URL: 'redis://h:6379',
      EXAMPLE_REDIS_PORT: 4102,
      ANNEX_BROKER_URL: 'http://127.0.0.1:4001',
    });
  });

  it('refuses to start when the Redis server cannot be reached', async () => {
    await expect(
      startExample({ port: 0, brokerUrl: 'http://127.0.0.1:4001', redisUrl: 'redis://127.0.0.1:1' }),
    ).rejects.toThrow(/cannot reach the Redis server/);
  });

  it('refuses a Redis URL its binding users could not use', async () => {
    const start = (redisUrl: string) => startExample({ port: 0, brokerUrl: 'http://127.0.0.1:4001', redisUrl });
    await expect(start('redis://127.0.0.1:6379/3')).rejects.toThrow(/database 0 only/);
    await expect(start('http://127.0.0.1:6379')).rejects.toThrow(/redis:\/\/ or rediss:\/\//);
  });
});

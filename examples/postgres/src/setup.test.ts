import { ConfigError } from '@annex/platform';
import { validateManifest } from '@annex/sdk';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { manifest } from './manifest.js';
import { startExample } from './provider.js';

describe('examples/postgres set-up', () => {
  it('has a valid manifest with the catalog ids, the given URL and the plans priced', () => {
    const validation = validateManifest(manifest('http://127.0.0.1:4101'));
    expect(validation.ok).toBe(true);
    if (!validation.ok) return;
    expect(validation.manifest.osb).toMatchObject({ url: 'http://127.0.0.1:4101', auth: 'jwt' });
    const plans = validation.manifest.services[0]!.plans.map((p) => [p.slug, p.price?.monthly ?? 0]);
    expect(plans).toEqual([
      ['hobby', 0],
      ['standard', 900],
      ['premium', 5000],
    ]);
  });

  it('reads its environment once and names a missing or bad variable', () => {
    expect(() => loadConfig({})).toThrow(ConfigError);
    expect(() => loadConfig({})).toThrow(/EXAMPLE_POSTGRES_URL/);
    expect(() => loadConfig({ EXAMPLE_POSTGRES_URL: 'mysql://x' })).toThrow(/EXAMPLE_POSTGRES_URL/);
    expect(() => loadConfig({ EXAMPLE_POSTGRES_URL: 'postgres://h/db', EXAMPLE_POSTGRES_PORT: 'x' })).toThrow(
      /EXAMPLE_POSTGRES_PORT/,
    );
    expect(loadConfig({ EXAMPLE_POSTGRES_URL: 'postgres://h/db' })).toEqual({
      EXAMPLE_POSTGRES_URL: 'postgres://h/db',
      EXAMPLE_POSTGRES_PORT: 4101,
      ANNEX_BROKER_URL: 'http://127.0.0.1:4001',
    });
  });

  it('refuses to start when the PostgreSQL server cannot be reached', async () => {
    await expect(
      startExample({ port: 0, brokerUrl: 'http://127.0.0.1:4001', adminUrl: 'postgres://postgres@127.0.0.1:1/none' }),
    ).rejects.toThrow(/cannot reach the PostgreSQL server/);
  });
});

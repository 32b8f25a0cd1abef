import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError, SecretBox } from '@annex/platform';
import { describe, expect, it } from 'vitest';
import { loadCatalogConfig } from './config.js';

describe('loadCatalogConfig', () => {
  it('has development defaults: 127.0.0.1:4000, PGlite under .annex, introspection and GraphiQL on', () => {
    const config = loadCatalogConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 4000,
      databaseUrl: undefined,
      dataDir: '.annex',
      introspection: true,
      graphiql: true,
    });
    expect(config.limits.maxDepth).toBeGreaterThanOrEqual(8);
    expect(config.limits).toMatchObject({ maxQueryBytes: 65_536, maxTokens: 600, maxDirectives: 50 });
    expect(loadCatalogConfig({ CATALOG_MAX_TOKENS: '1000' }).limits.maxTokens).toBe(1000);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('turns introspection and GraphiQL off in production unless asked for', () => {
    expect(loadCatalogConfig({ NODE_ENV: 'production' })).toMatchObject({ introspection: false, graphiql: false });
    expect(loadCatalogConfig({ NODE_ENV: 'production', CATALOG_INTROSPECTION: 'true' })).toMatchObject({
      introspection: true,
      graphiql: false,
    });
    expect(loadCatalogConfig({ CATALOG_GRAPHIQL: 'false' }).graphiql).toBe(false);
  });

  it("closes private networks to providers' OSB URLs in production unless told otherwise", () => {
    const allowed = (env: Record<string, string>) => loadCatalogConfig(env).outbound.allowPrivateNetworks;
    expect(allowed({})).toBe(true);
    expect(allowed({ NODE_ENV: 'production' })).toBe(false);
    expect(allowed({ NODE_ENV: 'production', ANNEX_ALLOW_PRIVATE_NETWORKS: 'true' })).toBe(true);
    expect(allowed({ ANNEX_ALLOW_PRIVATE_NETWORKS: 'false' })).toBe(false);
  });

  it('names every bad variable, and needs encryption keys with DATABASE_URL', () => {
    try {
      loadCatalogConfig({ CATALOG_PORT: 'eighty', CATALOG_MAX_DEPTH: '0', DATABASE_URL: 'postgres://db/annex' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const variables = (error as ConfigError).problems.map((p) => p.variable).sort();
      expect(variables).toEqual(['ANNEX_ENCRYPTION_KEYS', 'CATALOG_MAX_DEPTH', 'CATALOG_PORT']);
    }
    expect(() => loadCatalogConfig({ ANNEX_ENCRYPTION_KEYS: 'k1:tooshort' })).toThrow(/ANNEX_ENCRYPTION_KEYS/);
    const keys = SecretBox.generateSpec();
    expect(loadCatalogConfig({ DATABASE_URL: 'postgres://db/annex', ANNEX_ENCRYPTION_KEYS: keys })).toMatchObject({
      databaseUrl: 'postgres://db/annex',
      encryptionKeys: keys,
    });
  });

  it('main.ts stops at start-up with the bad variable named, before touching a database', () => {
    const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
    const result = spawnSync(tsx, ['--conditions=annex-source', 'src/main.ts'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { PATH: process.env.PATH, CATALOG_PORT: 'eighty', DATABASE_URL: 'mysql://nope' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/CATALOG_PORT/);
    expect(result.stderr).toMatch(/DATABASE_URL: expected a postgres/);
  });
});

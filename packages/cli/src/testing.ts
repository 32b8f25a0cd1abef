import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLocalConfig, type Marketplace, startMarketplace } from '@annex/local';
import { createLogger } from '@annex/platform';

/** A free TCP port on 127.0.0.1. */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

/** The whole marketplace in process, as the CLI's tests drive it, with the URLs and tokens it made. */
export interface TestMarketplace {
  marketplace: Marketplace;
  /** A scratch directory for the test (the marketplace's data lives under it). */
  dir: string;
  /** The catalog's GraphQL endpoint. */
  catalog: string;
  /** The broker's base URL (its `/v1` API). */
  api: string;
  admin: string;
  demo: string;
  close(): Promise<void>;
}

/**
 * Starts the whole marketplace (catalog, broker, the AI gateway example) in process on a fresh
 * embedded database. The catalog answers apps through the broker's REST API, so the broker's
 * port is fixed before it starts.
 */
export async function startTestMarketplace(name: string): Promise<TestMarketplace> {
  const dir = mkdtempSync(join(tmpdir(), `annex-cli-${name}-`));
  const brokerPort = await freePort();
  const env = {
    ANNEX_DATA_DIR: join(dir, 'data'),
    CATALOG_PORT: '0',
    CONSOLE_PORT: '0',
    BROKER_PORT: String(brokerPort),
    CATALOG_BROKER_URL: `http://127.0.0.1:${brokerPort}`,
    EXAMPLE_AI_PORT: String(await freePort()),
    LOG_LEVEL: 'silent',
  };
  const marketplace = await startMarketplace(loadLocalConfig(env), env, createLogger('annex', 'silent'));
  return {
    marketplace,
    dir,
    catalog: `${marketplace.catalogUrl}/graphql`,
    api: `http://127.0.0.1:${brokerPort}`,
    admin: marketplace.credentials?.adminToken as string,
    demo: marketplace.credentials?.orgToken as string,
    async close() {
      await marketplace.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

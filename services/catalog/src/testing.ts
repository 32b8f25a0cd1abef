import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiToken, createLogger, type Database, SecretBox } from '@annex/platform';
import type { TestDatabaseKind } from '@annex/platform/testing';
import type { ProviderManifestInput } from '@annex/sdk';
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';
import { createCatalog } from './app.js';
import { type CatalogConfig, loadCatalogConfig } from './config.js';

// Test helpers: a catalog on a real database, listening on 127.0.0.1:0, and a client.

/**
 * Counts the SQL statements the catalog executes: each answered one, as a prepared read is
 * built (and passes `transformQuery`) once but runs many times.
 */
class StatementCounter implements KyselyPlugin {
  count = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    this.count += 1;
    return args.result;
  }
}

export interface GraphQLResponse<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export interface TestCatalog {
  url: string;
  database: Database;
  adminToken: string;
  /** Seals broker passwords; a test broker given the same one can open them. */
  secretBox: SecretBox;
  statements: { count: number };
  gql<T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResponse<T>>;
  close(): Promise<void>;
}

/**
 * A catalog on a fresh database of `kind`, or on an existing `database` (shared with a
 * test broker, say; then closing the catalog leaves the database open).
 */
export async function startTestCatalog(
  kind: TestDatabaseKind | Database,
  env: Record<string, string> = {},
  secretBox: SecretBox = SecretBox.fromSpec(SecretBox.generateSpec()),
): Promise<TestCatalog> {
  const owned = 'open' in kind && typeof kind.open === 'function';
  const database = owned ? await (kind as TestDatabaseKind).open() : (kind as Database);
  const counter = new StatementCounter();
  const counted: Database = { ...database, db: database.db.withPlugin(counter) };
  // The response cache is off unless a test turns it on: most tests count statements or
  // change rows directly, and the cache's own tests exercise it.
  const config: CatalogConfig = loadCatalogConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    CATALOG_RESPONSE_CACHE: 'false',
    ...env,
  });
  const catalog = createCatalog(config, {
    database: counted,
    logger: createLogger('catalog', 'silent'),
    secretBox,
  });
  await catalog.start();
  const server = createServer(catalog.app).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const admin = await createApiToken(database.db, { kind: 'admin', name: 'test admin' });
  return {
    url,
    database,
    adminToken: admin.token,
    secretBox,
    statements: counter,
    async gql(query, variables, token) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as Omit<GraphQLResponse, 'status'>;
      return { status: response.status, ...body };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await catalog.close();
      if (owned) await database.close();
    },
  };
}

/** A small valid manifest; `overrides` replace top-level fields. */
export function sampleManifest(overrides: Partial<ProviderManifestInput> = {}): ProviderManifestInput {
  return {
    slug: 'acme',
    name: 'Acme Data',
    description: 'Databases and caches',
    supportEmail: 'support@acme.example',
    logoUrl: 'https://acme.example/logo.png',
    listingState: 'beta',
    osb: { url: 'https://osb.acme.example' },
    services: [
      {
        id: 'acme-postgres',
        slug: 'acme-postgres',
        name: 'Acme Postgres',
        description: 'Managed PostgreSQL databases with backups',
        category: 'databases',
        tags: ['sql', 'relational'],
        bindable: true,
        configVars: ['DATABASE_URL'],
        regions: ['eu-west', 'us-east'],
        documentationUrl: 'https://acme.example/docs/postgres',
        plans: [
          { id: 'acme-postgres-hobby', slug: 'hobby', description: 'For trying things out', free: true },
          {
            id: 'acme-postgres-pro',
            slug: 'pro',
            description: 'Production databases',
            price: { monthly: 2500, currency: 'usd', metered: [{ unit: 'gb_storage', price: 12.5 }] },
            planUpdateable: true,
            maintenanceInfo: { version: '16.2.0' },
            maximumPollingDuration: 3600,
            schemas: {
              instance: {
                create: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } } },
              },
            },
          },
        ],
      },
      {
        id: 'acme-redis',
        slug: 'acme-redis',
        name: 'Acme Redis',
        description: 'In-memory key value cache',
        category: 'caches',
        tags: ['cache', 'kv'],
        bindable: true,
        configVars: ['REDIS_URL'],
        plans: [{ id: 'acme-redis-mini', slug: 'mini', description: 'Small cache', free: true }],
      },
    ],
    ...overrides,
  };
}

export const PUBLISH = /* GraphQL */ `
  mutation Publish($manifest: JSON!) {
    publishManifest(manifest: $manifest) {
      __typename
      ... on Error { message }
      ... on ManifestPublished { revision unchanged provider { slug currentRevision } }
      ... on ManifestInvalid { problems { path message } }
      ... on PlanInUse { plans { serviceId planId liveInstances } }
      ... on IdConflict { kind id }
      ... on SlugTaken { kind slug }
    }
  }
`;

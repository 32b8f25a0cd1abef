/**
 * Test helpers: the whole marketplace the console talks to (catalog, broker, an SDK
 * provider with a dashboard behind SSO) on a fresh database, plus the console itself.
 * Not part of the built package.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestBroker, type TestBroker } from '@annex/broker/testing';
import { createCatalog, loadCatalogConfig, publishManifest } from '@annex/catalog';
import {
  createLogger,
  type Database,
  ensureDevelopmentCredentials,
  migrateToLatest,
  openDatabase,
  type Principal,
  SecretBox,
} from '@annex/platform';
import type { TestDatabaseKind } from '@annex/platform/testing';
import { defineProvider, ProviderError, type ProviderManifestInput, type SsoContext } from '@annex/sdk';
import express from 'express';
import { createConsole } from './app.js';
import { type CatalogClient, createCatalogClient } from './catalog-client.js';
import { loadConsoleConfig } from './config.js';
import { createSession, upsertUser } from './sessions.js';
import { inputValue, TestClient } from './test-client.js';

export interface ConsoleStack {
  consoleUrl: string;
  catalogUrl: string;
  brokerUrl: string;
  providerUrl: string;
  database: Database;
  /** The development credentials of the fresh database (admin token, demo org token…). */
  adminToken: string;
  /** The demo organization's development token, with `config:read`. */
  orgToken: string;
  /** The console's secret box (sessions seal their org token with it). */
  secretBox: SecretBox;
  /** SSO arrivals at the provider's dashboard. */
  ssoArrivals: SsoContext[];
  /** Every GraphQL query and mutation the console sent, in order (subscriptions aside). */
  catalogQueries: { query: string; variables: Record<string, unknown> | undefined }[];
  close(): Promise<void>;
}

export interface ConsoleStackOptions {
  /** The catalog the console asks (default: the stack's own), e.g. a stand-in that fails on purpose. */
  consoleCatalogUrl?: string;
  /** More of the broker's environment, e.g. STRIPE_SECRET_KEY and STRIPE_API_BASE for Stripe billing. */
  brokerEnv?: Record<string, string>;
}

const listen = async (): Promise<{ server: Server; url: string }> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
};
const stop = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

/** The test provider: a key-value store with a parameters schema, a paid plan and a dashboard. */
export function kvManifest(url: string): ProviderManifestInput {
  return {
    slug: 'console-kv',
    name: 'Console KV Inc',
    osb: { url },
    services: [
      {
        id: 'svc-console-kv',
        slug: 'console-kv',
        name: 'Console KV',
        description: 'A key-value store to try the console with',
        category: 'databases',
        bindable: true,
        // The console changes plans.
        planUpdateable: true,
        configVars: ['KV_URL'],
        regions: ['eu-west', 'us-east'],
        plans: [
          {
            id: 'plan-console-kv-hobby',
            slug: 'hobby',
            description: 'Small and free',
            schemas: {
              instance: {
                create: {
                  type: 'object',
                  properties: {
                    region: { type: 'string', enum: ['eu-west', 'us-east'], description: 'Where the data lives' },
                    size: { type: 'integer', minimum: 1, maximum: 10, description: 'Gigabytes' },
                    tls: { type: 'boolean' },
                  },
                  required: ['region'],
                  additionalProperties: false,
                },
              },
            },
          },
          {
            id: 'plan-console-kv-pro',
            slug: 'pro',
            description: 'Bigger and paid',
            free: false,
            price: { monthly: 2500, currency: 'usd' },
          },
        ],
      },
    ],
  };
}

const ADMIN: Principal = { kind: 'admin', tokenId: 'console-test', scopes: [] };

const freshPGlite = async (): Promise<Database> => {
  const database = await openDatabase({ kind: 'pglite-memory' });
  await migrateToLatest(database.db);
  return database;
};

/**
 * Starts the stack on a fresh database of `kind` (default: PGlite in memory). `consoleEnv`
 * configures the console (e.g. its OIDC issuer); the public URL is the console's own
 * loopback URL unless it sets one.
 */
export async function startConsoleStack(
  consoleEnv: Record<string, string> = {},
  kind?: TestDatabaseKind,
  options: ConsoleStackOptions = {},
): Promise<ConsoleStack> {
  const database = kind ? await kind.open() : await freshPGlite();
  const closers: Array<() => Promise<void>> = [() => database.close()];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
  };
  try {
    const credentials = await ensureDevelopmentCredentials(database.db);
    if (!credentials) throw new Error('expected a fresh database');
    const secretBox = SecretBox.fromSpec(SecretBox.generateSpec());
    const broker: TestBroker = await startTestBroker(
      database,
      { APPS_RECONCILE_MS: '100', ...options.brokerEnv },
      secretBox,
    );
    closers.push(() => broker.close());

    const ssoArrivals: SsoContext[] = [];
    const providerServer = await listen();
    closers.push(() => stop(providerServer.server));
    const provider = defineProvider({
      manifest: kvManifest(providerServer.url),
      broker: { url: broker.url },
      // Size 9 is the provider failing: a 500 with its reason, as the provider health shows.
      provision: ({ parameters }) => {
        if ((parameters as { size?: unknown }).size === 9) throw new ProviderError(500, 'disk full: no room for 9 GB');
        return {};
      },
      deprovision: () => undefined,
      bind: ({ instanceId, bindingId }) => ({
        credentials: { KV_URL: `kv://${bindingId}@127.0.0.1/${instanceId}` },
      }),
      unbind: () => undefined,
      sso: (sso, _req, res) => {
        ssoArrivals.push(sso);
        res
          .type('html')
          .send(
            `<!doctype html><html lang="en"><title>Console KV dashboard</title><h1>Console KV dashboard</h1><p id="who">${sso.user.email ?? sso.user.name}</p><p id="addon">${sso.addon?.name ?? sso.resource.instanceId}</p></html>`,
          );
      },
    });
    const providerApp = express();
    providerApp.use(provider.router());
    providerServer.server.on('request', providerApp);
    const published = await publishManifest(database.db, ADMIN, kvManifest(providerServer.url));
    if (!published.ok) throw new Error(`publishing the test provider failed: ${published.error.message}`);

    const catalogServer = await listen();
    closers.push(() => stop(catalogServer.server));
    const catalog = createCatalog(
      {
        ...loadCatalogConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', CATALOG_RESPONSE_CACHE: 'false' }),
        brokerUrl: broker.url,
      },
      { database, logger: createLogger('catalog', 'silent'), secretBox },
    );
    await catalog.start();
    closers.push(() => catalog.close());
    catalogServer.server.on('request', catalog.app);

    const consoleServer = await listen();
    closers.push(() => stop(consoleServer.server));
    const config = loadConsoleConfig({ NODE_ENV: 'test', ...consoleEnv });
    const catalogQueries: ConsoleStack['catalogQueries'] = [];
    const client = createCatalogClient(options.consoleCatalogUrl ?? catalogServer.url);
    const recorder: CatalogClient = {
      query: (token, query, variables) => {
        catalogQueries.push({ query, variables });
        return client.query(token, query, variables);
      },
      events: (...args) => client.events(...args),
    };
    const webConsole = createConsole(
      {
        ...config,
        publicUrl: config.publicUrl ?? consoleServer.url,
        catalogUrl: catalogServer.url,
      },
      {
        database,
        secretBox,
        logger: createLogger('console', process.env.LOG_LEVEL === 'debug' ? 'debug' : 'silent'),
        catalog: recorder,
      },
    );
    consoleServer.server.on('request', webConsole.app);
    return {
      consoleUrl: consoleServer.url,
      catalogUrl: catalogServer.url,
      brokerUrl: broker.url,
      providerUrl: providerServer.url,
      database,
      adminToken: credentials.adminToken,
      orgToken: credentials.orgToken,
      secretBox,
      ssoArrivals,
      catalogQueries,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A client signed in with the development sign-in: the demo organization's admin. */
export async function signInAsDeveloper(stack: ConsoleStack): Promise<TestClient> {
  const client = new TestClient();
  const page = await client.request(`${stack.consoleUrl}/signin`);
  const res = await client.request(`${stack.consoleUrl}/auth/development`, {
    form: { _csrf: inputValue(page.body, '_csrf'), returnTo: '/apps' },
  });
  if (res.status !== 303) throw new Error(`the development sign-in answered ${res.status}`);
  return client;
}

/**
 * A client signed in as a plain member of the demo organization (the development sign-in
 * only makes admins): the user, membership and session are made as a sign-in makes them.
 * The email is `login@example.com` unless `email` says otherwise (`''`: none).
 */
export async function signInAsMember(
  stack: ConsoleStack,
  login: string,
  email = `${login}@example.com`,
): Promise<TestClient> {
  const db = stack.database.db;
  const user = await upsertUser(db, { issuer: 'console-tests', subject: login, email, name: login });
  const demo = await db.selectFrom('organizations').select('id').where('slug', '=', 'demo').executeTakeFirstOrThrow();
  await db
    .insertInto('memberships')
    .values({ user_id: user.id, organization_id: demo.id, role: 'member' })
    .onConflict((oc) => oc.columns(['user_id', 'organization_id']).doUpdateSet({ role: 'member' }))
    .execute();
  const { sessionId } = await createSession(db, stack.secretBox, { userId: user.id, who: login, ttlSeconds: 3600 });
  const client = new TestClient();
  client.cookies.set('annex_session', sessionId);
  return client;
}

export interface TestIdentityProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The console's redirect URI is known only once it listens; call before any sign-in. */
  register(redirectUri: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real OpenID provider (node-oidc-provider) on loopback, with its development login form
 * (any login, any password; the login is the subject) and consent given in advance.
 * `accounts` gives each login's claims, `annex_orgs` and `annex_providers` included.
 */
export async function startIdentityProvider(
  accounts: Record<string, { email: string; name: string; annex_orgs?: unknown; annex_providers?: unknown }>,
): Promise<TestIdentityProvider> {
  const { default: Provider } = await import('oidc-provider');
  const { server, url } = await listen();
  const clientId = 'annex-console';
  const clientSecret = 'console-secret-for-tests-only';
  return {
    issuer: url,
    clientId,
    clientSecret,
    async register(redirectUri) {
      const oidc = new Provider(url, {
        clients: [
          {
            client_id: clientId,
            client_secret: clientSecret,
            redirect_uris: [redirectUri],
            // Where the console sends a browser back after signing out here.
            post_logout_redirect_uris: [new URL('/signin', redirectUri).href],
            grant_types: ['authorization_code'],
            response_types: ['code'],
          },
        ],
        pkce: { required: () => true },
        cookies: { keys: ['a-cookie-signing-key-for-tests-only'] },
        claims: { openid: ['sub'], email: ['email'], profile: ['name', 'annex_orgs', 'annex_providers'] },
        features: { devInteractions: { enabled: true } },
        findAccount: (_ctx, id) => {
          const account = accounts[id];
          if (!account) return undefined;
          return { accountId: id, claims: () => ({ sub: id, ...account }) };
        },
        // Consent given in advance: the login form is the only interaction.
        loadExistingGrant: async (ctx) => {
          const grant = new ctx.oidc.provider.Grant({
            clientId: ctx.oidc.client?.clientId as string,
            accountId: ctx.oidc.session?.accountId as string,
          });
          grant.addOIDCScope('openid email profile');
          await grant.save();
          return grant;
        },
      });
      server.removeAllListeners('request');
      server.on('request', oidc.callback());
    },
    close: () => stop(server),
  };
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiToken } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import type { ProviderManifestInput } from '@annex/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiAddon, ApiApp, ApiAttachment } from '../broker-client.js';
import { publishManifest } from '../domain/publishing.js';
import { startTestCatalog, type TestCatalog } from '../testing.js';

// What an app's add-ons cost: SQL statements for their services and plans, and broker calls
// for the add-ons its attachments name, must not grow with the number of add-ons. A
// scripted broker answers the `/v1` calls and records them; the catalog's own database is
// real.

const ADMIN = { kind: 'admin', tokenId: 'seed', scopes: [] } as const;
const SERVICES = 8;

/** `svc-0`..`svc-7`, each with a public `free` plan and a `vip` plan private to globex; `hidden` has only the latter. */
function manifest(): ProviderManifestInput {
  const vip = {
    slug: 'vip',
    description: 'Private',
    visibility: 'private' as const,
    allowedOrganizations: ['globex'],
    price: { monthly: 1000 },
  };
  return {
    slug: 'loaders',
    name: 'Loaders',
    osb: { url: 'https://loaders.example' },
    services: [
      ...Array.from({ length: SERVICES }, (_, i) => ({
        id: `svc-${i}`,
        slug: `svc-${i}`,
        name: `Service ${i}`,
        description: `Service number ${i}`,
        category: 'databases' as const,
        bindable: true,
        plans: [
          { id: `svc-${i}-free`, slug: 'free', description: 'Free', free: true },
          { ...vip, id: `svc-${i}-vip` },
        ],
      })),
      {
        id: 'hidden',
        slug: 'hidden',
        name: 'Hidden',
        description: 'Only for globex',
        category: 'databases',
        bindable: true,
        plans: [{ ...vip, id: 'hidden-vip' }],
      },
    ],
  };
}

function attachmentOf(addon: string, app: string): ApiAttachment {
  return {
    id: `att-${addon}`,
    name: addon.toUpperCase().replaceAll('-', '_'),
    app,
    appOrganization: 'acme',
    addon,
    state: 'attached',
    configVarNames: [],
    lastError: null,
    createdAt: '2026-01-01T00:00:00.000Z',
  };
}

function addonOf(name: string, app: string, service: string, plan: string): ApiAddon {
  return {
    id: `id-${name}`,
    name,
    app,
    organization: 'acme',
    service,
    plan,
    provider: 'loaders',
    state: 'provisioned',
    lastError: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    attachments: [attachmentOf(name, app)],
  };
}

/** An app owning `addons`, attached to each of them and to `shared` (another app's add-on). */
function appOf(name: string, addons: ApiAddon[], shared: ApiAddon): ApiApp {
  return {
    id: `id-${name}`,
    name,
    organization: 'acme',
    releaseVersion: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    addons,
    attachments: [...addons, shared].map((addon) => attachmentOf(addon.name, name)),
  };
}

// Add-ons on plans the caller sees, and on ones it does not (so service/plan read null).
const shared = addonOf('shared-db', 'elsewhere', 'svc-0', 'free');
const small = appOf(
  'small',
  [addonOf('small-0', 'small', 'svc-0', 'free'), addonOf('small-1', 'small', 'svc-1', 'vip')],
  shared,
);
const large = appOf(
  'large',
  [
    ...Array.from({ length: SERVICES }, (_, i) => addonOf(`large-${i}`, 'large', `svc-${i}`, 'free')),
    addonOf('large-vip', 'large', 'svc-2', 'vip'),
    addonOf('large-hidden', 'large', 'hidden', 'vip'),
    addonOf('large-gone', 'large', 'gone', 'free'),
    addonOf('large-noplan', 'large', 'svc-3', 'nope'),
  ],
  shared,
);

describe.each(testDatabaseKinds('app add-on loaders'))('app add-on loaders on $name', (kind) => {
  let catalog: TestCatalog;
  let broker: Server;
  let token: string;
  /** Paths the scripted broker was asked for, in order. */
  const calls: string[] = [];

  beforeAll(async () => {
    const apps = new Map([small, large].map((app) => [app.name, app]));
    const addons = new Map([shared, ...small.addons!, ...large.addons!].map((addon) => [addon.name, addon]));
    broker = createServer((req, res) => {
      const path = req.url ?? '';
      calls.push(path);
      const [, v1, resource, key, rest] = path.split('/');
      const found =
        v1 === 'v1' && rest === undefined && key
          ? (resource === 'apps' ? apps : resource === 'addons' ? addons : undefined)?.get(decodeURIComponent(key))
          : undefined;
      res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(found ?? { error: 'not_found', message: `${path} not found` }));
    });
    await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
    catalog = await startTestCatalog(kind, {
      CATALOG_BROKER_URL: `http://127.0.0.1:${(broker.address() as AddressInfo).port}`,
    });
    const db = catalog.database.db;
    expect((await publishManifest(db, ADMIN, manifest())).ok).toBe(true);
    const acme = await db
      .insertInto('organizations')
      .values({ slug: 'acme', name: 'Acme' })
      .returning('id')
      .executeTakeFirstOrThrow();
    token = (await createApiToken(db, { kind: 'org', name: 'acme', organizationId: acme.id })).token;
  });
  afterAll(async () => {
    await catalog?.close();
    broker?.closeAllConnections();
    await new Promise((resolve) => broker?.close(resolve));
  });

  /** The answer and the SQL statements and broker calls it took. */
  async function measure(query: string, app: string) {
    const statements = catalog.statements.count;
    calls.length = 0;
    const result = await catalog.gql(query, { name: app }, token);
    expect(result.errors).toBeUndefined();
    return { app: result.data.app, statements: catalog.statements.count - statements, calls: [...calls] };
  }

  const SERVICE_AND_PLAN = `query($name: String!) { app(name: $name) {
    addons { name service { slug } plan { slug free bindable } } } }`;

  it('loads the services and plans of any number of add-ons with one statement', async () => {
    // Names only: authentication and nothing else (and the token's last-used write out of the way).
    await measure('query($name: String!) { app(name: $name) { addons { name } } }', 'small');
    const bare = await measure('query($name: String!) { app(name: $name) { addons { name } } }', 'small');

    const few = await measure(SERVICE_AND_PLAN, 'small');
    const many = await measure(SERVICE_AND_PLAN, 'large');
    expect(few.app.addons).toEqual([
      { name: 'small-0', service: { slug: 'svc-0' }, plan: { slug: 'free', free: true, bindable: true } },
      { name: 'small-1', service: { slug: 'svc-1' }, plan: null },
    ]);
    expect(many.app.addons).toEqual([
      ...Array.from({ length: SERVICES }, (_, i) => ({
        name: `large-${i}`,
        service: { slug: `svc-${i}` },
        plan: { slug: 'free', free: true, bindable: true },
      })),
      // A private plan of another organization, a service with only such plans, one the
      // catalog does not hold, and a plan the service does not have.
      { name: 'large-vip', service: { slug: 'svc-2' }, plan: null },
      { name: 'large-hidden', service: null, plan: null },
      { name: 'large-gone', service: null, plan: null },
      { name: 'large-noplan', service: { slug: 'svc-3' }, plan: null },
    ]);
    // One statement for the services with their plans, shared by both fields.
    expect(few.statements).toBe(bare.statements + 1);
    expect(many.statements).toBe(few.statements);
  });

  it('loads the services of add-ons alone with one statement too', async () => {
    const query = 'query($name: String!) { app(name: $name) { addons { service { slug } } } }';
    const few = await measure(query, 'small');
    const many = await measure(query, 'large');
    expect(many.app.addons.map((a: { service: { slug: string } | null }) => a.service?.slug ?? null)).toEqual([
      ...Array.from({ length: SERVICES }, (_, i) => `svc-${i}`),
      'svc-2',
      null,
      null,
      'svc-3',
    ]);
    expect(many.statements).toBe(few.statements);
  });

  it("answers attachments' add-ons from the app, asking the broker only for add-ons of other apps", async () => {
    const query = `query($name: String!) { app(name: $name) {
      attachments { name addon { name state service { slug } } } } }`;
    const few = await measure(query, 'small');
    const many = await measure(query, 'large');
    expect(many.app.attachments).toEqual(
      [...large.addons!, shared].map((addon) => ({
        name: addon.name.toUpperCase().replaceAll('-', '_'),
        addon: {
          name: addon.name,
          state: 'PROVISIONED',
          service: ['large-hidden', 'large-gone'].includes(addon.name) ? null : { slug: addon.service },
        },
      })),
    );
    // The app itself, then the one add-on it does not own.
    expect(few.calls).toEqual(['/v1/apps/small', '/v1/addons/shared-db']);
    expect(many.calls).toEqual(['/v1/apps/large', '/v1/addons/shared-db']);
    expect(many.statements).toBe(few.statements);
  });
});

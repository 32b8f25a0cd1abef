import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seedAppsWithAddons, seedCatalog, startTestBroker, type TestBroker } from '@annex/broker/testing';
import { ALL_SCOPES, createApiToken, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCatalog, type TestCatalog } from './testing.js';

// An organization's apps with their add-ons and attachments in one GraphQL query: what it
// costs (broker calls, SQL statements) does not grow with the number of apps.

/** A pass-through proxy in front of the broker that counts the calls it forwards. */
async function startCountingProxy(
  target: string,
): Promise<{ url: string; calls: () => number; close(): Promise<void> }> {
  let calls = 0;
  const server: Server = createServer((req, res) => {
    calls += 1;
    const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls: () => calls,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const ORG_APPS = /* GraphQL */ `
  {
    apps {
      name
      lastEventId
      addons { name state plan { slug } app { name } attachments { name app { name } } }
      attachments { name configVarNames addon { name } app { name } }
    }
  }
`;

interface OrgApps {
  apps: {
    name: string;
    lastEventId: string;
    addons: { name: string; state: string; plan: { slug: string } | null; app: { name: string } | null }[];
    attachments: { name: string; configVarNames: string[]; addon: { name: string }; app: { name: string } | null }[];
  }[];
}

describe.each(testDatabaseKinds('org apps query'))("an organization's apps in one query on $name", (kind) => {
  let database: Database;
  let broker: TestBroker;
  let proxy: Awaited<ReturnType<typeof startCountingProxy>>;
  let catalog: TestCatalog;
  const tokens = { small: '', large: '' };
  const prefix = `org-${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    database = await kind.open();
    // No job runner: every statement counted is the query's.
    broker = await startTestBroker(database, { BROKER_WORKERS: 'false' });
    const fixture = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: 'http://127.0.0.1:9',
      auth: { kind: 'basic', username: 'prov', password: 'prov-pw' },
      plans: [{ slug: 'hobby' }],
    });
    for (const [size, apps] of [
      ['small', 3],
      ['large', 12],
    ] as const) {
      const org = await database.db
        .insertInto('organizations')
        .values({ slug: `${prefix}-${size}`, name: size })
        .returning('id')
        .executeTakeFirstOrThrow();
      await seedAppsWithAddons(database.db, broker.secretBox, {
        fixture,
        plan: 'hobby',
        organizationId: org.id,
        prefix: `${prefix}-${size}`,
        apps,
        addonsPerApp: 2,
      });
      tokens[size] = (
        await createApiToken(database.db, { kind: 'org', name: size, organizationId: org.id, scopes: ALL_SCOPES })
      ).token;
    }
    proxy = await startCountingProxy(broker.url);
    catalog = await startTestCatalog(database, { CATALOG_BROKER_URL: proxy.url });
  }, 60_000);

  afterAll(async () => {
    await catalog?.close();
    await proxy?.close();
    await broker?.close();
    await database?.close();
  });

  /** The query as `size`'s token, with the broker calls and SQL statements it took. */
  const measure = async (size: keyof typeof tokens) => {
    const calls = proxy.calls();
    const statements = database.statementCount();
    const answer = await catalog.gql<OrgApps>(ORG_APPS, {}, tokens[size]);
    return {
      answer,
      calls: proxy.calls() - calls,
      statements: database.statementCount() - statements,
    };
  };

  it('answers every app with its add-ons, their plans and its attachments with their vars', async () => {
    const { answer } = await measure('large');
    expect(answer.errors).toBeUndefined();
    const apps = answer.data?.apps ?? [];
    expect(apps).toHaveLength(12);
    for (const app of apps) {
      expect(app.lastEventId).toBe('0');
      expect(app.addons.map((a) => a.name)).toEqual([`${app.name}-db0`, `${app.name}-db1`]);
      for (const addon of app.addons) {
        expect(addon).toMatchObject({ state: 'PROVISIONED', plan: { slug: 'hobby' }, app: { name: app.name } });
      }
      expect(app.attachments.map((a) => [a.name, a.configVarNames, a.addon.name, a.app?.name])).toEqual([
        ['DB0', ['DB0_URL'], `${app.name}-db0`, app.name],
        ['DB1', ['DB1_URL'], `${app.name}-db1`, app.name],
      ]);
    }
  });

  it('costs the same broker calls and SQL statements for 3 apps as for 12', async () => {
    // Once each first, so that both tokens were recently used (a use is recorded at most once a minute).
    await measure('small');
    await measure('large');
    const small = await measure('small');
    const large = await measure('large');
    expect(small.answer.data?.apps).toHaveLength(3);
    expect(large.answer.data?.apps).toHaveLength(12);
    expect(small.calls).toBe(1);
    expect(large.calls).toBe(small.calls);
    expect(large.statements).toBe(small.statements);
    // The token at the catalog and at the broker; apps, add-ons, attachments; the add-ons'
    // services with their plans.
    expect(small.statements).toBeLessThanOrEqual(6);
  });

  it('answers one app alone as the list answers it', async () => {
    const listed = (await measure('small')).answer.data?.apps[0];
    const alone = await catalog.gql<{ app: OrgApps['apps'][number] }>(
      ORG_APPS.replace('apps {', 'app(name: $name) {').replace('{', 'query($name: String!) {'),
      { name: listed?.name },
      tokens.small,
    );
    expect(alone.errors).toBeUndefined();
    expect(alone.data?.app).toEqual(listed);
  });
});

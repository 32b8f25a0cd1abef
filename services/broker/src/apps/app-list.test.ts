import { ALL_SCOPES, createApiToken, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedAppsWithAddons, seedCatalog, startTestBroker, type TestBroker } from '../testing.js';

// `GET /v1/apps?include=addons,attachments`: every app as `GET /v1/apps/:app` answers it, in
// statements that do not grow with the number of apps, add-ons and attachments.
describe.each(testDatabaseKinds('app list'))('the app list with add-ons and attachments ($name)', (kind) => {
  let database: Database;
  let broker: TestBroker;
  const tokens = { owner: '', borrower: '', small: '', large: '' };
  const prefix = `list-${Math.random().toString(36).slice(2, 8)}`;
  let borrowerApp = '';
  let sharedAddon = '';

  const get = async (path: string, token: string) => {
    const response = await fetch(`${broker.url}/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, body: (await response.json()) as any };
  };

  beforeAll(async () => {
    database = await kind.open();
    // No job runner: every statement counted is the request's.
    broker = await startTestBroker(database, { BROKER_WORKERS: 'false' });
    const fixture = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: 'http://127.0.0.1:9',
      auth: { kind: 'basic', username: 'prov', password: 'prov-pw' },
      plans: [{ slug: 'hobby' }],
    });
    const orgs: Record<string, string> = {};
    for (const [name, apps] of [
      ['owner', 3],
      ['borrower', 1],
      ['small', 3],
      ['large', 12],
    ] as const) {
      const org = await database.db
        .insertInto('organizations')
        .values({ slug: `${prefix}-${name}`, name })
        .returning('id')
        .executeTakeFirstOrThrow();
      orgs[name] = org.id;
      await seedAppsWithAddons(database.db, broker.secretBox, {
        fixture,
        plan: 'hobby',
        organizationId: org.id,
        prefix: `${prefix}-${name}`,
        apps,
        addonsPerApp: name === 'borrower' ? 0 : 2,
      });
      tokens[name] = (
        await createApiToken(database.db, { kind: 'org', name, organizationId: org.id, scopes: ALL_SCOPES })
      ).token;
    }
    // The owner shares one add-on with the borrower, whose app attaches it.
    sharedAddon = `${prefix}-owner-0-db0`;
    borrowerApp = `${prefix}-borrower-0`;
    const addon = await database.db
      .selectFrom('addons')
      .select('id')
      .where('name', '=', sharedAddon)
      .executeTakeFirstOrThrow();
    const app = await database.db
      .selectFrom('apps')
      .select('id')
      .where('name', '=', borrowerApp)
      .executeTakeFirstOrThrow();
    await database.db
      .insertInto('addon_shares')
      .values({ addon_id: addon.id, organization_id: orgs.borrower as string })
      .execute();
    await database.db
      .insertInto('attachments')
      .values({
        addon_id: addon.id,
        app_id: app.id,
        name: 'SHARED',
        binding_id: crypto.randomUUID(),
        state: 'attached',
      })
      .execute();
  }, 60_000);

  afterAll(async () => {
    await broker?.close();
    await database?.close();
  });

  it('lists apps alone by default, and with include answers each as its detail does', async () => {
    for (const token of [tokens.owner, tokens.borrower]) {
      const plain = await get('/apps', token);
      expect(plain.status).toBe(200);
      for (const app of plain.body.apps)
        expect(Object.keys(app).sort()).toEqual(['createdAt', 'id', 'name', 'organization', 'releaseVersion']);
      const listed = await get('/apps?include=addons,attachments', token);
      expect(listed.status).toBe(200);
      expect(listed.body.apps.map((a: { name: string }) => a.name)).toEqual(
        plain.body.apps.map((a: { name: string }) => a.name),
      );
      for (const app of listed.body.apps) {
        expect(app).toEqual((await get(`/apps/${app.name}`, token)).body);
      }
    }
  });

  it('shows a shared add-on from both sides in the list, as the detail does', async () => {
    const owner = (await get('/apps?include=addons,attachments', tokens.owner)).body.apps;
    const shared = owner
      .flatMap((app: any) => app.addons)
      .find((addon: { name: string }) => addon.name === sharedAddon);
    expect(shared.attachments.map((a: any) => [a.name, a.app, a.appOrganization])).toEqual([
      ['DB0', `${prefix}-owner-0`, `${prefix}-owner`],
      ['SHARED', null, `${prefix}-borrower`],
    ]);
    const [borrower] = (await get('/apps?include=addons,attachments', tokens.borrower)).body.apps;
    expect(borrower).toMatchObject({ name: borrowerApp, addons: [] });
    expect(borrower.attachments).toMatchObject([{ name: 'SHARED', app: borrowerApp, addon: sharedAddon }]);
  });

  it('includes only what it names, and refuses anything else naming the field', async () => {
    const addons = (await get('/apps?include=addons', tokens.owner)).body.apps[0];
    expect(addons.addons).toHaveLength(2);
    expect(addons.attachments).toBeUndefined();
    expect(addons.lastEventId).toBe('0');
    const attachments = (await get('/apps?include=attachments', tokens.owner)).body.apps[0];
    expect(attachments.addons).toBeUndefined();
    expect(attachments.attachments).toHaveLength(2);
    const refused = await get('/apps?include=addons,releases', tokens.owner);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_input', field: 'include' });
  });

  it('reads 3 apps and 12 apps with their add-ons and attachments in as many statements', async () => {
    const statements = async (token: string) => {
      const before = database.statementCount();
      const answer = await get('/apps?include=addons,attachments', token);
      expect(answer.status).toBe(200);
      return { apps: answer.body.apps.length, statements: database.statementCount() - before };
    };
    for (const token of [tokens.small, tokens.large, tokens.owner]) await statements(token);
    const small = await statements(tokens.small);
    const large = await statements(tokens.large);
    expect([small.apps, large.apps]).toEqual([3, 12]);
    expect(large.statements).toBe(small.statements);
    // The token, the apps (with their organization and latest event), their add-ons (with their
    // plans) and the attachments (with their config var names).
    expect(small.statements).toBe(4);
    // An add-on shared with another organization's app: that app's name is read, once.
    expect((await statements(tokens.owner)).statements).toBe(small.statements + 1);
  });
});

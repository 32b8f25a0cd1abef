import {
  type CatalogFixture,
  type FakeProvider,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
} from '@annex/broker/testing';
import { createApiToken, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCatalog, type TestCatalog } from './testing.js';

// `openAddonDashboard` end to end: a real broker mints the SSO token, for the caller only.

const OPEN = /* GraphQL */ `
  mutation($input: OpenAddonDashboardInput!) {
    openAddonDashboard(input: $input) {
      __typename
      ... on OpenAddonDashboardSuccess { url expiresAt }
      ... on Error { message }
      ... on InvalidInput { problems { path message } }
    }
  }
`;

/** The claims of the SSO token in a hand-off URL (the provider verifies it; here we only read it). */
function claimsOf(url: string): Record<string, any> {
  const token = new URL(url).searchParams.get('token') ?? '';
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

describe.each(testDatabaseKinds('dashboard SSO through GraphQL'))('openAddonDashboard on $name', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let catalog: TestCatalog;
  let fixture: CatalogFixture;
  const tokens = { org: '', person: '', other: '' };
  let orgTokenId = '';
  let personId = '';
  const suffix = Math.random().toString(36).slice(2, 8);
  const web = `dash-web-${suffix}`;
  const worker = `dash-worker-${suffix}`;
  let addon = '';

  const open = (input: Record<string, unknown>, token: string) => catalog.gql(OPEN, { input }, token);

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'prov', password: 'prov-pw' } });
    broker = await startTestBroker(database, { APPS_RECONCILE_MS: '100' });
    fixture = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'prov', password: 'prov-pw' },
      plans: [{ slug: 'hobby' }],
    });
    const org = await database.db
      .selectFrom('platform_organizations')
      .select('organization_id')
      .where('platform_id', '=', fixture.platformId)
      .executeTakeFirstOrThrow();
    const other = await database.db
      .insertInto('organizations')
      .values({ slug: `dash-other-${suffix}`, name: 'Other' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const bot = await createApiToken(database.db, {
      kind: 'org',
      name: 'deploy bot',
      organizationId: org.organization_id,
    });
    tokens.org = bot.token;
    orgTokenId = bot.id;
    // A token that acts for a person, as the console mints one per session; this one has no email.
    const person = await database.db
      .insertInto('users')
      .values({ oidc_issuer: 'dashboard-tests', oidc_subject: `grace-${suffix}`, email: '', name: 'Grace Hopper' })
      .returning('id')
      .executeTakeFirstOrThrow();
    personId = person.id;
    tokens.person = (
      await createApiToken(database.db, {
        kind: 'org',
        name: 'console session of grace',
        organizationId: org.organization_id,
        userId: person.id,
      })
    ).token;
    tokens.other = (await createApiToken(database.db, { kind: 'org', name: 'x', organizationId: other.id })).token;
    catalog = await startTestCatalog(database, { CATALOG_BROKER_URL: broker.url });

    const service = await database.db
      .selectFrom('services')
      .select('slug')
      .where('id', '=', fixture.serviceId)
      .executeTakeFirstOrThrow();
    for (const name of [web, worker]) {
      const created = await catalog.gql(
        'mutation($input: CreateAppInput!) { createApp(input: $input) { __typename } }',
        { input: { name } },
        tokens.org,
      );
      expect(created.data?.createApp.__typename).toBe('CreateAppSuccess');
    }
    const created = await catalog.gql(
      'mutation($input: CreateAddonInput!) { createAddon(input: $input) { __typename ... on CreateAddonSuccess { addon { name } } } }',
      { input: { app: web, plan: `${service.slug}:hobby` } },
      tokens.org,
    );
    addon = created.data?.createAddon.addon.name;
    expect(addon).toBeTruthy();
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const state = await catalog.gql(
        'query($name: String!) { addon(name: $name) { state } }',
        { name: addon },
        tokens.org,
      );
      if (state.data?.addon?.state === 'PROVISIONED') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }, 60_000);

  afterAll(async () => {
    await catalog?.close();
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  const countTokens = async () =>
    Number(
      (
        await database.db
          .selectFrom('sso_tokens')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('answers DashboardNotOffered while the provider has no SSO, and mints nothing', async () => {
    const answer = await open({ addon }, tokens.org);
    expect(answer.data?.openAddonDashboard).toMatchObject({
      __typename: 'DashboardNotOffered',
      message: expect.stringMatching(/sso\.url/),
    });
    expect(await countTokens()).toBe(0);
    // The provider publishes an SSO URL; the rest of this file opens dashboards there.
    await database.db
      .insertInto('provider_revisions')
      .values({
        provider_id: fixture.providerId,
        revision: 1,
        digest: 'sha256:test',
        manifest: JSON.stringify({ sso: { url: 'https://dashboard.example.com/sso' } }),
        published_by: 'test',
      })
      .execute();
    await database.db
      .updateTable('providers')
      .set({ current_revision: 1 })
      .where('id', '=', fixture.providerId)
      .execute();
  });

  it('opens with the add-on alone, as the API token that asked (kind token, its name and id)', async () => {
    const before = Math.floor(Date.now() / 1000);
    const answer = await open({ addon }, tokens.org);
    const result = answer.data?.openAddonDashboard;
    expect(result?.__typename, JSON.stringify(answer)).toBe('OpenAddonDashboardSuccess');
    expect(result.url).toMatch(/^https:\/\/dashboard\.example\.com\/sso\?token=/);
    const claims = claimsOf(result.url);
    expect(claims).toMatchObject({
      sub: `token:${orgTokenId}`,
      kind: 'token',
      name: 'deploy bot',
      email: '',
      app: { name: web },
      addon: { name: addon },
    });
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(new Date(result.expiresAt).getTime()).toBe(claims.exp * 1000);
  });

  it('names the person a session token acts for, even without an email', async () => {
    const result = (await open({ addon }, tokens.person)).data?.openAddonDashboard;
    expect(result?.__typename).toBe('OpenAddonDashboardSuccess');
    expect(claimsOf(result.url)).toMatchObject({ sub: personId, kind: 'person', name: 'Grace Hopper', email: '' });
  });

  it('names the app the user came from, and refuses one the add-on is not attached to', async () => {
    const refused = (await open({ addon, app: worker }, tokens.org)).data?.openAddonDashboard;
    expect(refused).toMatchObject({ __typename: 'InvalidInput', problems: [{ path: 'app' }] });
    expect(refused.message).toContain(worker);
    const attached = await catalog.gql(
      'mutation($input: AttachAddonInput!) { attachAddon(input: $input) { __typename } }',
      { input: { app: worker, addon, as: 'REPORTING' } },
      tokens.org,
    );
    expect(attached.data?.attachAddon.__typename).toBe('AttachAddonSuccess');
    const result = (await open({ addon, app: worker }, tokens.org)).data?.openAddonDashboard;
    expect(result?.__typename).toBe('OpenAddonDashboardSuccess');
    expect(claimsOf(result.url).app).toMatchObject({ name: worker });
  });

  it("refuses another organization's add-on and a missing one as NotFound, and an anonymous caller", async () => {
    const before = await countTokens();
    for (const [input, token] of [
      [{ addon }, tokens.other],
      [{ addon: 'no-such-addon' }, tokens.org],
    ] as const) {
      const result = (await open(input, token)).data?.openAddonDashboard;
      expect(result?.__typename, JSON.stringify(input)).toBe('NotFound');
    }
    const anonymous = await catalog.gql(OPEN, { input: { addon } });
    expect(anonymous.data?.openAddonDashboard).toMatchObject({
      __typename: 'NotAuthorized',
      message: expect.stringMatching(/API token is required/),
    });
    expect(await countTokens()).toBe(before);
  });
});

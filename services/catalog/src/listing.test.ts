import {
  type CatalogFixture,
  type FakeProvider,
  seedCatalog,
  startFakeProvider,
  startTestBroker,
  type TestBroker,
} from '@annex/broker/testing';
import { ALL_SCOPES, createApiToken, type Database, missingScopeMessage } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import type { ProviderManifestInput } from '@annex/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleManifest, startTestCatalog, type TestCatalog } from './testing.js';

// The listing lifecycle (docs/provider-portal.md, "Listing lifecycle") through GraphQL: ALPHA
// services seen only by invited organizations, BETA public and marked, GA only through an
// admin's approval, DEPRECATED taking no new add-ons while existing ones keep working.

const PUBLISH = /* GraphQL */ `
  mutation($manifest: JSON!) {
    publishManifest(manifest: $manifest) {
      __typename
      ... on Error { message }
      ... on ManifestPublished { revision unchanged pendingReviews { serviceSlug state } }
    }
  }
`;
const SERVICE = /* GraphQL */ `
  query($slug: String!) { service(slug: $slug) { slug stage status deprecated } }
`;
const LIST = /* GraphQL */ `
  query($search: String) {
    services(filter: { search: $search }, first: 100) { edges { node { slug stage } } }
    providers { slug }
  }
`;
const INVITE = /* GraphQL */ `
  mutation($input: AlphaInvitationInput!) {
    inviteToAlpha(input: $input) {
      __typename
      ... on Error { message }
      ... on NotFound { kind key }
      ... on AlphaInvitationChange { changed invitation { organization organizationName invitedBy } service { slug } }
    }
  }
`;
const REVOKE = /* GraphQL */ `
  mutation($input: AlphaInvitationInput!) {
    revokeAlphaInvitation(input: $input) {
      __typename
      ... on Error { message }
      ... on AlphaInvitationChange { changed invitation { organization } }
    }
  }
`;
const LISTING = /* GraphQL */ `
  query($slug: String!) {
    service(slug: $slug) {
      stage
      alphaInvitations {
        __typename
        ... on Error { message }
        ... on ServiceAlphaInvitationsSuccess { data { organization } }
      }
      listingReviews {
        __typename
        ... on Error { message }
        ... on ServiceListingReviewsSuccess { data { id state reason requestedBy reviewedBy } }
      }
    }
  }
`;
const QUEUE = /* GraphQL */ `
  query($state: ListingReviewState) {
    listingReviews(state: $state) {
      __typename
      ... on Error { message }
      ... on QueryListingReviewsSuccess {
        data { id serviceSlug providerSlug stage state requestedBy requestedAt reason service { slug } }
      }
    }
  }
`;
const REQUEST_GA = /* GraphQL */ `
  mutation($service: String!) {
    requestGeneralAvailability(service: $service) {
      __typename
      ... on Error { message }
      ... on StageConflict { stage }
      ... on ListingReview { id state serviceSlug }
    }
  }
`;
const APPROVE = /* GraphQL */ `
  mutation($review: ID!) {
    approveListing(review: $review) {
      __typename
      ... on Error { message }
      ... on ListingReview { state service { slug stage } }
    }
  }
`;
const REJECT = /* GraphQL */ `
  mutation($review: ID!, $reason: String!) {
    rejectListing(review: $review, reason: $reason) {
      __typename
      ... on Error { message }
      ... on InvalidInput { problems { path message } }
      ... on ListingReview { state reason service { slug stage } }
    }
  }
`;

/** The sample manifest with its Postgres service in ALPHA (the rest BETA). */
function lifecycleManifest(overrides: Partial<ProviderManifestInput> = {}): ProviderManifestInput {
  const base = sampleManifest();
  const [postgres, redis] = base.services as [
    ProviderManifestInput['services'][number],
    ProviderManifestInput['services'][number],
  ];
  return { ...base, services: [{ ...postgres, listingState: 'alpha' }, redis], ...overrides };
}

describe.each(testDatabaseKinds('listing lifecycle'))('listing lifecycle through GraphQL on $name', (kind) => {
  let catalog: TestCatalog;
  const tokens = { provider: '', publisher: '', other: '', orgA: '', orgB: '' };
  const slugs = { orgA: 'alpha-tester', orgB: 'bystander' };

  const gql = <T = any>(query: string, variables: Record<string, unknown> = {}, token?: string) =>
    catalog.gql<T>(query, variables, token);
  const visibleSlugs = async (token?: string, search?: string) => {
    const answer = await gql(LIST, { search: search ?? null }, token);
    expect(answer.errors).toBeUndefined();
    return (answer.data.services.edges as { node: { slug: string } }[]).map((e) => e.node.slug);
  };

  beforeAll(async () => {
    catalog = await startTestCatalog(kind);
    const db = catalog.database.db;
    expect((await gql(PUBLISH, { manifest: lifecycleManifest() }, catalog.adminToken)).data.publishManifest).toEqual({
      __typename: 'ManifestPublished',
      revision: 1,
      unchanged: false,
      pendingReviews: [],
    });
    const other = sampleManifest({
      slug: 'rival',
      name: 'Rival',
      services: [
        {
          id: 'rival-kv',
          slug: 'rival-kv',
          name: 'Rival KV',
          description: 'Another cache',
          category: 'caches',
          bindable: true,
          plans: [{ id: 'rival-kv-free', slug: 'free', description: 'Free', free: true }],
        },
      ],
    });
    expect((await gql(PUBLISH, { manifest: other }, catalog.adminToken)).data.publishManifest.__typename).toBe(
      'ManifestPublished',
    );
    const providerId = async (slug: string) =>
      (await db.selectFrom('providers').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()).id;
    const acme = await providerId('acme');
    tokens.provider = (await createApiToken(db, { kind: 'provider', name: 'acme', providerId: acme })).token;
    tokens.publisher = (
      await createApiToken(db, { kind: 'provider', name: 'acme ci', providerId: acme, scopes: ['catalog:publish'] })
    ).token;
    tokens.other = (
      await createApiToken(db, { kind: 'provider', name: 'rival', providerId: await providerId('rival') })
    ).token;
    for (const [key, slug] of [
      ['orgA', slugs.orgA],
      ['orgB', slugs.orgB],
    ] as const) {
      const org = await db
        .insertInto('organizations')
        .values({ slug, name: slug === slugs.orgA ? 'Alpha Tester' : 'Bystander' })
        .returning('id')
        .executeTakeFirstOrThrow();
      tokens[key] = (await createApiToken(db, { kind: 'org', name: slug, organizationId: org.id })).token;
    }
  }, 60_000);

  afterAll(async () => {
    await catalog?.close();
  });

  it('hides an ALPHA service from everyone but its provider and admins until an organization is invited', async () => {
    for (const token of [undefined, tokens.orgA, tokens.orgB, tokens.other]) {
      expect(await visibleSlugs(token)).not.toContain('acme-postgres');
      expect(await visibleSlugs(token, 'postgres')).toEqual([]);
      expect((await gql(SERVICE, { slug: 'acme-postgres' }, token)).data.service).toBeNull();
    }
    // The BETA service beside it is public and marked.
    expect(await visibleSlugs()).toContain('acme-redis');
    expect((await gql(SERVICE, { slug: 'acme-redis' })).data.service).toEqual({
      slug: 'acme-redis',
      stage: 'BETA',
      status: 'ACTIVE',
      deprecated: false,
    });
    for (const token of [tokens.provider, catalog.adminToken]) {
      expect((await gql(SERVICE, { slug: 'acme-postgres' }, token)).data.service).toMatchObject({ stage: 'ALPHA' });
      expect(await visibleSlugs(token, 'postgres')).toEqual(['acme-postgres']);
    }
  });

  it('lets the provider invite an organization by slug, idempotently, and revoke it', async () => {
    const input = { service: 'acme-postgres', organization: slugs.orgA };
    const invited = await gql(INVITE, { input }, tokens.provider);
    expect(invited.data.inviteToAlpha).toMatchObject({
      __typename: 'AlphaInvitationChange',
      changed: true,
      invitation: { organization: slugs.orgA, organizationName: 'Alpha Tester' },
      service: { slug: 'acme-postgres' },
    });
    expect(invited.data.inviteToAlpha.invitation.invitedBy).toMatch(/^provider:/);
    const again = await gql(INVITE, { input }, tokens.provider);
    expect(again.data.inviteToAlpha).toMatchObject({ changed: false, invitation: { organization: slugs.orgA } });

    // The invited organization sees it everywhere; the other one still does not.
    expect(await visibleSlugs(tokens.orgA)).toContain('acme-postgres');
    expect(await visibleSlugs(tokens.orgA, 'postgres')).toEqual(['acme-postgres']);
    expect((await gql(SERVICE, { slug: 'acme-postgres' }, tokens.orgA)).data.service).toMatchObject({
      stage: 'ALPHA',
    });
    expect(await visibleSlugs(tokens.orgB)).not.toContain('acme-postgres');

    const listing = await gql(LISTING, { slug: 'acme-postgres' }, tokens.provider);
    expect(listing.data.service.alphaInvitations).toEqual({
      __typename: 'ServiceAlphaInvitationsSuccess',
      data: [{ organization: slugs.orgA }],
    });

    const revoked = await gql(REVOKE, { input }, tokens.provider);
    expect(revoked.data.revokeAlphaInvitation).toMatchObject({
      changed: true,
      invitation: { organization: slugs.orgA },
    });
    expect(await visibleSlugs(tokens.orgA)).not.toContain('acme-postgres');
    expect((await gql(REVOKE, { input }, tokens.provider)).data.revokeAlphaInvitation.changed).toBe(false);
    // Invited again for the tests below.
    expect((await gql(INVITE, { input }, catalog.adminToken)).data.inviteToAlpha.changed).toBe(true);
  });

  it('refuses invitations with typed errors that name what is wrong, changing nothing', async () => {
    const unknown = await gql(INVITE, { input: { service: 'acme-postgres', organization: 'nobody' } }, tokens.provider);
    expect(unknown.data.inviteToAlpha).toEqual({
      __typename: 'NotFound',
      message: 'no organization "nobody"',
      kind: 'organization',
      key: 'nobody',
    });
    // Another provider cannot see the ALPHA service, nor invite to its own competitor's BETA one.
    const hidden = await gql(INVITE, { input: { service: 'acme-postgres', organization: slugs.orgB } }, tokens.other);
    expect(hidden.data.inviteToAlpha).toMatchObject({ __typename: 'NotFound', kind: 'service', key: 'acme-postgres' });
    const foreign = await gql(INVITE, { input: { service: 'acme-redis', organization: slugs.orgB } }, tokens.other);
    expect(foreign.data.inviteToAlpha).toEqual({
      __typename: 'Forbidden',
      message: `service "acme-redis" is not for another provider's token`,
    });
    // A publishing-only token of the right provider lacks provider:write.
    const publisher = await gql(
      INVITE,
      { input: { service: 'acme-postgres', organization: slugs.orgB } },
      tokens.publisher,
    );
    expect(publisher.data.inviteToAlpha).toEqual({
      __typename: 'Forbidden',
      message: missingScopeMessage('provider:write'),
    });
    for (const token of [tokens.orgA, undefined]) {
      const org = await gql(INVITE, { input: { service: 'acme-postgres', organization: slugs.orgB } }, token);
      expect(org.data.inviteToAlpha.__typename).toBe('NotAuthorized');
    }
    expect(await visibleSlugs(tokens.orgB)).not.toContain('acme-postgres');
    const listing = await gql(LISTING, { slug: 'acme-postgres' }, tokens.provider);
    expect(listing.data.service.alphaInvitations.data).toEqual([{ organization: slugs.orgA }]);
  });

  it("shows a service's invitations and reviews only to its provider and admins", async () => {
    for (const [token, refusal] of [
      [tokens.other, 'Forbidden'],
      [tokens.orgA, 'NotAuthorized'],
      [undefined, 'NotAuthorized'],
    ] as const) {
      const answer = await gql(LISTING, { slug: 'acme-redis' }, token);
      expect(answer.data.service.alphaInvitations.__typename).toBe(refusal);
      expect(answer.data.service.listingReviews.__typename).toBe(refusal);
    }
    // The invited organization sees the ALPHA service, not who else is invited.
    const invitee = await gql(LISTING, { slug: 'acme-postgres' }, tokens.orgA);
    expect(invitee.data.service.alphaInvitations.__typename).toBe('NotAuthorized');
    const admin = await gql(LISTING, { slug: 'acme-postgres' }, catalog.adminToken);
    expect(admin.data.service.alphaInvitations.data).toEqual([{ organization: slugs.orgA }]);
    const queue = await gql(QUEUE, {}, tokens.provider);
    expect(queue.data.listingReviews).toMatchObject({
      __typename: 'NotAuthorized',
      message: 'the listing review queue needs an admin token',
    });
  });

  it('keeps a service whose manifest asks for GA in BETA until an admin approves, and shows a rejection with its reason', async () => {
    const manifest = lifecycleManifest();
    const asking = {
      ...manifest,
      services: manifest.services.map((s) => (s.slug === 'acme-redis' ? { ...s, listingState: 'ga' as const } : s)),
    };
    const published = await gql(PUBLISH, { manifest: asking }, tokens.provider);
    expect(published.data.publishManifest).toMatchObject({
      __typename: 'ManifestPublished',
      unchanged: false,
      pendingReviews: [{ serviceSlug: 'acme-redis', state: 'PENDING' }],
    });
    expect((await gql(SERVICE, { slug: 'acme-redis' })).data.service.stage).toBe('BETA');

    const queue = await gql(QUEUE, {}, catalog.adminToken);
    expect(queue.data.listingReviews.data).toEqual([
      expect.objectContaining({
        serviceSlug: 'acme-redis',
        providerSlug: 'acme',
        stage: 'GA',
        state: 'PENDING',
        requestedBy: expect.stringMatching(/^provider:/),
        reason: null,
        service: { slug: 'acme-redis' },
      }),
    ]);
    const review = queue.data.listingReviews.data[0].id as string;

    const noReason = await gql(REJECT, { review, reason: '  ' }, catalog.adminToken);
    expect(noReason.data.rejectListing).toMatchObject({
      __typename: 'InvalidInput',
      problems: [{ path: 'reason', message: 'a rejection needs a reason the provider can act on' }],
    });
    expect((await gql(APPROVE, { review }, tokens.provider)).data.approveListing.__typename).toBe('NotAuthorized');

    const rejected = await gql(REJECT, { review, reason: 'No support SLA published yet' }, catalog.adminToken);
    expect(rejected.data.rejectListing).toEqual({
      __typename: 'ListingReview',
      state: 'REJECTED',
      reason: 'No support SLA published yet',
      service: { slug: 'acme-redis', stage: 'BETA' },
    });
    const seen = await gql(LISTING, { slug: 'acme-redis' }, tokens.provider);
    expect(seen.data.service.listingReviews.data).toEqual([
      expect.objectContaining({ id: review, state: 'REJECTED', reason: 'No support SLA published yet' }),
    ]);
    expect((await gql(QUEUE, {}, catalog.adminToken)).data.listingReviews.data).toEqual([]);
    // Deciding it again is refused.
    expect((await gql(APPROVE, { review }, catalog.adminToken)).data.approveListing.__typename).toBe('StageConflict');

    // Publishing the same manifest again files nothing; asking through the mutation does.
    expect((await gql(PUBLISH, { manifest: asking }, tokens.provider)).data.publishManifest).toMatchObject({
      unchanged: true,
      pendingReviews: [],
    });
    const requested = await gql(REQUEST_GA, { service: 'acme-redis' }, tokens.provider);
    expect(requested.data.requestGeneralAvailability).toMatchObject({ __typename: 'ListingReview', state: 'PENDING' });
    const same = await gql(REQUEST_GA, { service: 'acme-redis' }, tokens.provider);
    expect(same.data.requestGeneralAvailability.id).toBe(requested.data.requestGeneralAvailability.id);

    const approved = await gql(APPROVE, { review: requested.data.requestGeneralAvailability.id }, catalog.adminToken);
    expect(approved.data.approveListing).toEqual({
      __typename: 'ListingReview',
      state: 'APPROVED',
      service: { slug: 'acme-redis', stage: 'GA' },
    });
    expect((await gql(SERVICE, { slug: 'acme-redis' })).data.service.stage).toBe('GA');
    const ga = await gql(REQUEST_GA, { service: 'acme-redis' }, tokens.provider);
    expect(ga.data.requestGeneralAvailability).toMatchObject({ __typename: 'StageConflict', stage: 'GA' });

    // A later publish still asking for GA keeps it GA, with nothing pending.
    const changed = { ...asking, description: 'Databases, caches and more' };
    expect((await gql(PUBLISH, { manifest: changed }, tokens.provider)).data.publishManifest).toMatchObject({
      unchanged: false,
      pendingReviews: [],
    });
    expect((await gql(SERVICE, { slug: 'acme-redis' })).data.service.stage).toBe('GA');
  });

  it('lists a deprecated service as DEPRECATED: `deprecated: true` and the stage are one thing', async () => {
    const manifest = lifecycleManifest({ description: 'Deprecating the cache' });
    const deprecated = {
      ...manifest,
      services: manifest.services.map((s) => (s.slug === 'acme-redis' ? { ...s, deprecated: true } : s)),
    };
    expect((await gql(PUBLISH, { manifest: deprecated }, tokens.provider)).data.publishManifest.__typename).toBe(
      'ManifestPublished',
    );
    expect((await gql(SERVICE, { slug: 'acme-redis' })).data.service).toEqual({
      slug: 'acme-redis',
      stage: 'DEPRECATED',
      status: 'DEPRECATED',
      deprecated: true,
    });
    const ga = await gql(REQUEST_GA, { service: 'acme-redis' }, tokens.provider);
    expect(ga.data.requestGeneralAvailability).toMatchObject({ __typename: 'StageConflict', stage: 'DEPRECATED' });
  });
});

const CREATE_APP = /* GraphQL */ `
  mutation($input: CreateAppInput!) { createApp(input: $input) { __typename ... on Error { message } } }
`;
const CREATE_ADDON = /* GraphQL */ `
  mutation($input: CreateAddonInput!) {
    createAddon(input: $input) {
      __typename
      ... on Error { message }
      ... on CreateAddonSuccess { addon { name } }
    }
  }
`;
const ADDON = /* GraphQL */ `
  query($name: String!) { addon(name: $name) { state attachments { name state } } }
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await sleep(50);
    value = await read();
  }
  return value;
}

describe.each(testDatabaseKinds('listing lifecycle add-ons'))('add-ons and listing stages on $name', (kind) => {
  let database: Database;
  let provider: FakeProvider;
  let broker: TestBroker;
  let catalog: TestCatalog;
  let fixture: CatalogFixture;
  let service: string;
  let orgSlug: string;
  let token = '';
  const app = `stage-${Math.random().toString(36).slice(2, 8)}`;
  const otherApp = `${app}-other`;

  const gql = <T = any>(query: string, variables: Record<string, unknown>) => catalog.gql<T>(query, variables, token);
  const setStage = (stage: 'alpha' | 'beta' | 'deprecated') =>
    database.db.updateTable('services').set({ stage }).where('id', '=', fixture.serviceId).execute();
  const osbCatalog = async () => {
    const answer = await fetch(`${broker.url}/v2/catalog`, {
      headers: {
        authorization: `Basic ${Buffer.from(`${fixture.osbUsername}:${fixture.osbPassword}`).toString('base64')}`,
        'x-broker-api-version': '2.17',
      },
    });
    expect(answer.status).toBe(200);
    return ((await answer.json()) as { services: { id: string }[] }).services.map((s) => s.id);
  };

  beforeAll(async () => {
    database = await kind.open();
    provider = await startFakeProvider({ auth: { kind: 'basic', username: 'prov', password: 'prov-pw' } });
    broker = await startTestBroker(database, { APPS_RECONCILE_MS: '100' });
    fixture = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: provider.url,
      auth: { kind: 'basic', username: 'prov', password: 'prov-pw' },
      plans: [{ slug: 'hobby' }],
    });
    service = (
      await database.db
        .selectFrom('services')
        .select('slug')
        .where('id', '=', fixture.serviceId)
        .executeTakeFirstOrThrow()
    ).slug;
    const org = await database.db
      .selectFrom('platform_organizations as po')
      .innerJoin('organizations as o', 'o.id', 'po.organization_id')
      .select(['o.id', 'o.slug'])
      .where('po.platform_id', '=', fixture.platformId)
      .executeTakeFirstOrThrow();
    orgSlug = org.slug;
    token = (
      await createApiToken(database.db, { kind: 'org', name: 'org', organizationId: org.id, scopes: ALL_SCOPES })
    ).token;
    catalog = await startTestCatalog(database, { CATALOG_BROKER_URL: broker.url });
    for (const name of [app, otherApp]) {
      expect((await gql(CREATE_APP, { input: { name } })).data.createApp.__typename).toBe('CreateAppSuccess');
    }
  }, 60_000);

  afterAll(async () => {
    await catalog?.close();
    await broker?.close();
    await provider?.close();
    await database?.close();
  });

  it('refuses an add-on of an ALPHA service to an uninvited organization, and creates it once invited', async () => {
    await setStage('alpha');
    const refused = await gql(CREATE_ADDON, { input: { app, plan: `${service}:hobby` } });
    expect(refused.data.createAddon).toEqual({
      __typename: 'PlanNotOffered',
      message: `service "${service}" is in alpha, open only to organizations its provider invited, and organization "${orgSlug}" is not invited`,
    });
    // The platform acting for that organization does not see it in its OSB catalog either.
    expect(await osbCatalog()).not.toContain(fixture.serviceOsbId);

    const invite = await catalog.gql(INVITE, { input: { service, organization: orgSlug } }, catalog.adminToken);
    expect(invite.data.inviteToAlpha.changed).toBe(true);
    expect(await osbCatalog()).toContain(fixture.serviceOsbId);
    const created = await gql(CREATE_ADDON, { input: { app, plan: `${service}:hobby` } });
    expect(created.data.createAddon.__typename).toBe('CreateAddonSuccess');
    const name = created.data.createAddon.addon.name as string;
    const ready = await eventually(
      () => gql(ADDON, { name }),
      (r) => r.data?.addon?.state === 'PROVISIONED',
    );
    expect(ready.data.addon.state).toBe('PROVISIONED');
  });

  it('refuses new add-ons of a DEPRECATED service while an existing one still attaches, detaches and is destroyed', async () => {
    await setStage('beta');
    const created = await gql(CREATE_ADDON, { input: { app, plan: `${service}:hobby`, as: 'OLD' } });
    expect(created.data.createAddon.__typename).toBe('CreateAddonSuccess');
    const name = created.data.createAddon.addon.name as string;
    await eventually(
      () => gql(ADDON, { name }),
      (r) => r.data?.addon?.state === 'PROVISIONED',
    );

    await setStage('deprecated');
    const refused = await gql(CREATE_ADDON, { input: { app, plan: `${service}:hobby`, as: 'NEW' } });
    expect(refused.data.createAddon).toEqual({
      __typename: 'PlanNotOffered',
      message: `service "${service}" is deprecated: it takes no new add-ons (existing ones keep working)`,
    });
    const preflight = await gql(
      `query($input: AttachPreflightInput!) { attachPreflight(input: $input) { __typename ... on Error { message } ... on Preflight { ok problems } } }`,
      { input: { app, plan: `${service}:hobby`, as: 'NEW' } },
    );
    expect(preflight.data.attachPreflight).toEqual({
      __typename: 'PlanNotOffered',
      message: `service "${service}" is deprecated: it takes no new add-ons (existing ones keep working)`,
    });
    expect(await osbCatalog()).not.toContain(fixture.serviceOsbId);

    const attached = await gql(
      `mutation($input: AttachAddonInput!) { attachAddon(input: $input) { __typename ... on Error { message } } }`,
      { input: { app: otherApp, addon: name, as: 'SHARED' } },
    );
    expect(attached.data.attachAddon.__typename).toBe('AttachAddonSuccess');
    const both = await eventually(
      () => gql(ADDON, { name }),
      (r) => r.data?.addon?.attachments?.every((a: { state: string }) => a.state === 'ATTACHED'),
    );
    expect(both.data.addon.attachments).toHaveLength(2);
    const detached = await gql(
      `mutation($input: DetachAddonInput!) { detachAddon(input: $input) { __typename ... on Error { message } } }`,
      { input: { app: otherApp, name: 'SHARED' } },
    );
    expect(detached.data.detachAddon.__typename).toBe('DetachAddonSuccess');
    const destroyed = await gql(
      `mutation($input: DestroyAddonInput!) { destroyAddon(input: $input) { __typename ... on Error { message } } }`,
      { input: { addon: name } },
    );
    expect(destroyed.data.destroyAddon.__typename).toBe('DestroyAddonSuccess');
    const gone = await eventually(
      () => gql(ADDON, { name }),
      (r) => r.data?.addon?.state === 'DESTROYED',
    );
    // Deprovisioned at the provider: the add-on ends DESTROYED, not stuck.
    expect(gone.data.addon).toEqual({ state: 'DESTROYED', attachments: [] });
  });
});

import { graphql } from '@annex/contracts/graphql';

// Every GraphQL document the console sends, typed from the catalog's committed schema
// (@annex/contracts): `gql.tada check` in this package's typecheck validates each one, and a
// schema change that breaks a page fails `npm run typecheck`.

export const CatalogPageQuery = graphql(`
  query CatalogPage($filter: ServiceFilter, $first: Int!, $after: String) {
    categories { id serviceCount }
    services(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { slug name description category provider { name } plans { free price { monthly currency } } } }
    }
  }
`);

export const ServicePageQuery = graphql(`
  query ServicePage($slug: String!) {
    service(slug: $slug) {
      slug name description category stage regions configVars documentationUrl provider { name slug }
      plans {
        slug name description free deprecated regions schemas
        price { monthly currency metered { unit price description } }
      }
    }
    apps { name }
  }
`);

export const AttachPreflightQuery = graphql(`
  query AttachPreflight($input: AttachPreflightInput!) {
    attachPreflight(input: $input) {
      __typename
      ... on Preflight {
        ok serviceSlug planSlug free priceCents currency configVars
        collisions { name owner } parameterErrors { path message } problems paymentRequired
      }
      ... on Error { message }
    }
  }
`);

export const AppsListQuery = graphql('query AppsList { apps { name releaseVersion addons { name } } }');

export const AppPageQuery = graphql(`
  query AppPage($name: String!, $values: Boolean!) {
    app(name: $name) {
      name organization releaseVersion lastEventId
      addons {
        name state serviceSlug planSlug providerSlug lastError attachments { appOrganization }
        service { plans { slug name free deprecated price { monthly currency } } }
      }
      attachments { name state configVarNames lastError addon { name serviceSlug planSlug state organization } }
      configVars { name owner value @include(if: $values) }
      releases(first: 20) { version actor reason createdAt diff { name change value } kept { name attachment } }
    }
  }
`);

export const BillingAddonsQuery = graphql(`
  query BillingAddons { apps { name addons { name serviceSlug planSlug plan { free price { monthly currency } } } } }
`);

/** The account part of the billing page (billing.ts composes it with each app's usage). */
export const BillingAccountFields = graphql(`
  fragment BillingAccountFields on Query {
    billingAccount {
      mode status currentMonthCents pastDueSince graceEndsAt paymentMethod { brand last4 expMonth expYear }
      spendCaps { app limitCents spentCents } alerts { app month threshold spentCents createdAt }
    }
    invoices {
      id period state totalCents currency paidAt
      lines { app addon plan kind description quantity unit seconds cents }
    }
  }
`);

/** One app's usage on the billing page. */
export const AppUsageFields = graphql(`
  fragment AppUsageFields on AppUsage {
    app period totalCents addons { addon plan seconds cents capped } metered { addon unit quantity cents }
  }
`);

// Mutations: each answers its result union's success member, or any error's message (the
// console shows it, with a status by its __typename).

export const CreateAddonMutation = graphql(`
  mutation CreateAddon($input: CreateAddonInput!) {
    createAddon(input: $input) { __typename ... on CreateAddonSuccess { addon { name } } ... on Error { message } }
  }
`);

export const StartCardCheckoutMutation = graphql(`
  mutation StartCardCheckout($input: StartCardCheckoutInput!) {
    startCardCheckout(input: $input) { __typename ... on StartCardCheckoutSuccess { url } ... on Error { message } }
  }
`);

export const CreateAppMutation = graphql(`
  mutation CreateApp($input: CreateAppInput!) {
    createApp(input: $input) { __typename ... on CreateAppSuccess { app { name } } ... on Error { message } }
  }
`);

export const DetachAddonMutation = graphql(`
  mutation DetachAddon($input: DetachAddonInput!) {
    detachAddon(input: $input) { __typename ... on DetachAddonSuccess { attachment { name } } ... on Error { message } }
  }
`);

export const ChangeAddonPlanMutation = graphql(`
  mutation ChangeAddonPlan($input: ChangeAddonPlanInput!) {
    changeAddonPlan(input: $input) { __typename ... on ChangeAddonPlanSuccess { addon { name } } ... on Error { message } }
  }
`);

export const RotateAddonCredentialsMutation = graphql(`
  mutation RotateAddonCredentials($input: RotateAddonCredentialsInput!) {
    rotateAddonCredentials(input: $input) {
      __typename ... on RotateAddonCredentialsSuccess { addon { name } } ... on Error { message }
    }
  }
`);

export const DestroyAddonMutation = graphql(`
  mutation DestroyAddon($input: DestroyAddonInput!) {
    destroyAddon(input: $input) { __typename ... on DestroyAddonSuccess { addon { name } } ... on Error { message } }
  }
`);

export const SetConfigVarsMutation = graphql(`
  mutation SetConfigVars($input: SetConfigVarsInput!) {
    setConfigVars(input: $input) { __typename ... on SetConfigVarsSuccess { unchanged } ... on Error { message } }
  }
`);

export const RollbackConfigMutation = graphql(`
  mutation RollbackConfig($input: RollbackConfigInput!) {
    rollbackConfig(input: $input) { __typename ... on RollbackConfigSuccess { release { version } } ... on Error { message } }
  }
`);

export const OpenAddonDashboardMutation = graphql(`
  mutation OpenAddonDashboard($input: OpenAddonDashboardInput!) {
    openAddonDashboard(input: $input) { __typename ... on OpenAddonDashboardSuccess { url } ... on Error { message } }
  }
`);

// The Provider section (docs/provider-portal.md), asked with the session's provider token.

export const ProviderOverviewQuery = graphql(`
  query ProviderOverview($slug: String!) {
    provider(slug: $slug) {
      slug name listingState
      services { slug name }
      installations(first: 1) { totalCount }
      activeInstallations(days: 30) { day active }
      revenue(months: 12) { mode revenueShare months { period currency grossCents shareCents } }
      health { daily { start count errorRate p50Ms } }
    }
  }
`);

export const ProviderInstallationsQuery = graphql(`
  query ProviderInstallations($slug: String!, $first: Int!, $after: String, $plan: String, $state: AddonState) {
    provider(slug: $slug) {
      slug name
      services { plans { slug } }
      installations(first: $first, after: $after, plan: $plan, state: $state) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { id name service plan state region organization { name apps } lastError createdAt updatedAt } }
      }
    }
  }
`);

export const ProviderPayoutsQuery = graphql(`
  query ProviderPayouts($slug: String!) {
    provider(slug: $slug) {
      slug name
      revenue(months: 24) {
        mode revenueShare
        months {
          period currency grossCents collectedCents shareCents adjustmentsCents unpaidOutCents
          payouts { id sequence grossCents revenueShare amountCents state stripeTransfer createdAt paidAt }
        }
      }
    }
  }
`);

export const ProviderHealthQuery = graphql(`
  query ProviderHealth($slug: String!) {
    provider(slug: $slug) {
      slug name
      health {
        generatedAt
        overall { lastHour { count errors errorRate p50Ms p99Ms } last30Days { count errors errorRate p50Ms p99Ms } }
        operations {
          operation
          lastHour { count errors errorRate p50Ms p99Ms }
          last30Days { count errors errorRate p50Ms p99Ms }
        }
        failures { operation service outcome status latencyMs error description at }
        daily { start count errorRate p50Ms }
      }
    }
  }
`);

export const ProviderListingQuery = graphql(`
  query ProviderListing($slug: String!) {
    provider(slug: $slug) {
      slug name
      services {
        slug name stage
        alphaInvitations {
          __typename
          ... on ServiceAlphaInvitationsSuccess { data { organization organizationName createdAt } }
          ... on Error { message }
        }
      }
    }
  }
`);

export const InviteToAlphaMutation = graphql(`
  mutation InviteToAlpha($input: AlphaInvitationInput!) {
    inviteToAlpha(input: $input) {
      __typename
      ... on AlphaInvitationChange { invitation { organization } }
      ... on Error { message }
    }
  }
`);

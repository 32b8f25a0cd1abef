import { CliError, expectSuccess } from '../../client.js';
import { defineCommand } from '../../command.js';
import { EXIT_CODES } from '../../exit-codes.js';
import { ErrorFields, graphql } from '../../graphql.js';
import { table } from '../../output.js';

// The admins' review queue of the listing lifecycle (docs/provider-portal.md, "Listing
// lifecycle"): providers ask for GA, an admin approves or rejects with a reason.

const LISTING_REVIEWS = graphql(
  `
  query ListingReviews($state: ListingReviewState) {
    listingReviews(state: $state) {
      __typename ...ErrorFields
      ... on QueryListingReviewsSuccess {
        data { id serviceSlug serviceName providerSlug stage state requestedBy requestedAt reviewedBy reviewedAt reason }
      }
    }
  }
`,
  [ErrorFields],
);

const STATES = ['pending', 'approved', 'rejected', 'withdrawn', 'all'] as const;

export default defineCommand({
  id: 'admin listings',
  summary: "providers' requests for GA waiting for review (--state for decided ones) (admin token)",
  args: {},
  flags: {
    state: { type: 'string', value: 'STATE', description: `one of ${STATES.join(', ')} (default pending)` },
  },
  examples: ['admin listings', 'admin listings --state rejected --json'],
  async run(ctx) {
    const state = (ctx.flags.state ?? 'pending').toLowerCase();
    if (!(STATES as readonly string[]).includes(state)) {
      throw new CliError(`--state must be one of ${STATES.join(', ')}, not "${ctx.flags.state}"`, EXIT_CODES.usage);
    }
    const answer = await ctx.client().request(LISTING_REVIEWS, {
      state: state === 'all' ? null : (state.toUpperCase() as 'PENDING' | 'APPROVED' | 'REJECTED' | 'WITHDRAWN'),
    });
    const result = expectSuccess(answer.listingReviews, 'QueryListingReviewsSuccess');
    const reviews = result.__typename === 'QueryListingReviewsSuccess' ? result.data : [];
    if (ctx.json) return ctx.printJson(reviews);
    if (reviews.length === 0) {
      ctx.print(`No ${state === 'all' ? '' : `${state} `}requests for GA.`);
      return;
    }
    ctx.print(
      table(
        reviews.map((r) => ({
          review: r.id,
          service: r.serviceSlug,
          provider: r.providerSlug,
          state: r.state.toLowerCase(),
          requested: `${r.requestedAt.slice(0, 19)} by ${r.requestedBy}`,
          reason: r.reason ?? '',
        })),
        ['review', 'service', 'provider', 'state', 'requested', 'reason'],
      ),
    );
  },
});

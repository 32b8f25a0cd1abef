import { CliError } from '../../client.js';
import { defineCommand } from '../../command.js';
import { EXIT_CODES } from '../../exit-codes.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';

const REJECT_LISTING = graphql(
  `
  mutation RejectListing($review: ID!, $reason: String!) {
    rejectListing(review: $review, reason: $reason) {
      __typename ... on ListingReview { id serviceSlug state reason } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [ErrorFields, InvalidInputFields],
);

export default defineCommand({
  id: 'admin listings:reject',
  summary: 'reject a request for GA with a reason the provider sees; the service keeps its stage (admin token)',
  args: { REVIEW: { description: 'the review id `admin listings` prints' } },
  flags: { reason: { type: 'string', value: 'TEXT', description: 'why, so the provider can act on it (required)' } },
  examples: ['admin listings:reject 0b5c3f0e-8f1d-4c8a-9a57-2f0f6f1f2a10 --reason "no support SLA yet"'],
  async run(ctx) {
    if (!ctx.flags.reason) throw new CliError('admin listings:reject needs --reason TEXT', EXIT_CODES.usage);
    const result = await mutate(
      ctx,
      REJECT_LISTING,
      { review: ctx.args.REVIEW, reason: ctx.flags.reason },
      'rejectListing',
      'ListingReview',
    );
    if (ctx.json) return ctx.printJson(result);
    ctx.print(`Rejected the request for GA of ${result.serviceSlug}: ${result.reason}`);
  },
});

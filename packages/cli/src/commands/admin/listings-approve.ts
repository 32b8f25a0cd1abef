import { defineCommand } from '../../command.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';

const APPROVE_LISTING = graphql(
  `
  mutation ApproveListing($review: ID!, $reason: String) {
    approveListing(review: $review, reason: $reason) {
      __typename ... on ListingReview { id serviceSlug state reason } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [ErrorFields, InvalidInputFields],
);

export default defineCommand({
  id: 'admin listings:approve',
  summary: 'approve a request for GA: the service becomes GA (admin token)',
  args: { REVIEW: { description: 'the review id `admin listings` prints' } },
  flags: { reason: { type: 'string', value: 'TEXT', description: 'a note the provider sees' } },
  examples: ['admin listings:approve 0b5c3f0e-8f1d-4c8a-9a57-2f0f6f1f2a10'],
  async run(ctx) {
    const result = await mutate(
      ctx,
      APPROVE_LISTING,
      { review: ctx.args.REVIEW, reason: ctx.flags.reason ?? null },
      'approveListing',
      'ListingReview',
    );
    if (ctx.json) return ctx.printJson(result);
    ctx.print(`Approved: ${result.serviceSlug} is GA`);
  },
});

import { defineCommand } from '../../command.js';
import {
  categoryEnum,
  ErrorFields,
  graphql,
  InvalidInputFields,
  ManifestInvalidFields,
  mutate,
} from '../../graphql.js';
import { BrokerPublishedFields, servicesBySlug } from './brokers.js';

const REGISTER_OSB_BROKER = graphql(
  `
  mutation RegisterOsbBroker($input: RegisterOsbBrokerInput!) {
    registerOsbBroker(input: $input) {
      __typename ...BrokerPublishedFields ...ErrorFields ...InvalidInputFields ...ManifestInvalidFields
    }
  }
`,
  [BrokerPublishedFields, ErrorFields, InvalidInputFields, ManifestInvalidFields],
);

export default defineCommand({
  id: 'admin brokers:register',
  summary: 'list an existing OSB broker’s services in the marketplace (admin token)',
  args: { URL: { description: "the broker's base URL (its catalog is GET URL/v2/catalog)" } },
  flags: {
    provider: { type: 'string', value: 'SLUG', required: true, description: 'the provider to list them under' },
    username: { type: 'string', value: 'USER', required: true, description: "the broker's basic-auth user" },
    password: { type: 'string', value: 'PASS', required: true, description: "the broker's basic-auth password" },
    name: { type: 'string', value: 'NAME', description: "the provider's display name" },
    category: {
      type: 'string',
      value: 'CATEGORY',
      description: 'the category of services that name none, such as databases',
    },
  },
  examples: ['admin brokers:register https://broker.example.com --provider legacy --username u --password p'],
  async run(ctx) {
    const { URL: url } = ctx.args;
    const { category } = ctx.flags;
    const result = await mutate(
      ctx,
      REGISTER_OSB_BROKER,
      {
        input: {
          url,
          providerSlug: ctx.flags.provider,
          providerName: ctx.flags.name ?? null,
          username: ctx.flags.username,
          password: ctx.flags.password,
          ...(category ? { defaultCategory: categoryEnum(category) } : {}),
        },
      },
      'registerOsbBroker',
      'ManifestPublished',
    );
    if (ctx.json) return ctx.printJson(result);
    ctx.print(
      `Registered ${url} as provider ${result.provider.slug} (revision ${result.revision}). ${servicesBySlug(result)}`,
    );
  },
});

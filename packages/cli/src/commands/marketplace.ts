import { defineCommand } from '../command.js';
import { categoryEnum, graphql } from '../graphql.js';
import { money, table } from '../output.js';

const MARKETPLACE = graphql(`
  query Marketplace($filter: ServiceFilter) {
    services(filter: $filter, first: 100) {
      edges { node { slug name category stage provider { slug } plans { slug free price { monthly currency } } } }
    }
  }
`);

export default defineCommand({
  id: 'marketplace',
  summary: 'list the services in the catalog, with their plans, prices and listing stage (alpha, beta, deprecated)',
  args: {},
  flags: {
    category: { type: 'string', value: 'CATEGORY', description: 'only this category, such as databases or caches' },
    search: { type: 'string', value: 'TEXT', description: 'only services matching this text' },
    free: { type: 'boolean', description: 'only services with a free plan' },
  },
  examples: ['marketplace', 'marketplace --category databases', 'marketplace --search redis --free --json'],
  async run(ctx) {
    const { category, search, free } = ctx.flags;
    const data = await ctx.client().request(MARKETPLACE, {
      filter: {
        ...(category ? { category: categoryEnum(category) } : {}),
        ...(search ? { search } : {}),
        ...(free ? { freeOnly: true } : {}),
      },
    });
    const services = data.services.edges.map((e) => e.node);
    if (ctx.json) return ctx.printJson(services);
    ctx.print(
      table(
        services.map((s) => ({
          service: s.slug,
          name: s.name,
          category: s.category.toLowerCase().replaceAll('_', '-'),
          provider: s.provider.slug,
          plans: s.plans
            .map((p) => `${p.slug} (${p.free ? 'free' : `${money(p.price.monthly, p.price.currency)}/mo`})`)
            .join(', '),
          // GA says nothing; the other stages are what a user should know before choosing.
          stage:
            s.stage === 'GA' ? '' : s.stage === 'DEPRECATED' ? 'deprecated (no new add-ons)' : s.stage.toLowerCase(),
        })),
        ['service', 'name', 'category', 'provider', 'plans', 'stage'],
      ),
    );
  },
});

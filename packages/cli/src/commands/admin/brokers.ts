import { graphql, type ResultOf } from '../../graphql.js';

// admin brokers:register and brokers:refresh publish the broker's catalog under a provider;
// both say which slugs its services are listed under (docs/catalog.md: a service whose name
// another provider lists takes the provider's slug as a prefix), since add-ons use the slug.

export const BrokerPublishedFields = graphql(`
  fragment BrokerPublishedFields on ManifestPublished {
    revision unchanged provider { slug services { slug name } }
  }
`);

/** "Its services, by slug:" and one line each: `  eu-postgres (EU Postgres)`. */
export function servicesBySlug(published: ResultOf<typeof BrokerPublishedFields>): string {
  const { services } = published.provider;
  if (services.length === 0) return 'It lists no services.';
  return ['Its services, by slug:', ...services.map((s) => `  ${s.slug} (${s.name})`)].join('\n');
}

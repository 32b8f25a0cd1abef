import type { DB } from '@annex/platform';
import { CATEGORIES } from '@annex/sdk';
import { type Kysely, sql } from 'kysely';

const KINDS = [
  'postgres',
  'redis',
  'kafka',
  'elastic',
  'mongo',
  'mysql',
  'rabbit',
  'llama',
  'vector',
  'smtp',
  'grafana',
];
const ADJECTIVES = ['swift', 'quiet', 'amber', 'solid', 'lunar', 'brisk', 'cobalt', 'vivid', 'steady', 'noble'];
const WORDS = ['managed', 'scalable', 'replicated', 'serverless', 'dedicated', 'shared', 'encrypted', 'regional'];

/**
 * Fills a benchmark database with `count` services (three plans each) in batched inserts,
 * spread over every category, with names and descriptions varied enough for search.
 */
export async function seedServices(db: Kysely<DB>, count: number): Promise<void> {
  const provider = await db
    .insertInto('providers')
    .values({ slug: 'bench', name: 'Bench Provider', osb_url: 'http://127.0.0.1:9', updated_at: new Date() })
    .returning('id')
    .executeTakeFirstOrThrow();
  const batch = 500;
  // Vacuumed at the end, as autovacuum would have done to a catalog in steady state.
  for (let start = 0; start < count; start += batch) {
    const rows = [];
    for (let i = start; i < Math.min(count, start + batch); i++) {
      const kind = KINDS[i % KINDS.length] as string;
      const adjective = ADJECTIVES[Math.floor(i / KINDS.length) % ADJECTIVES.length] as string;
      const word = WORDS[i % WORDS.length] as string;
      rows.push({
        provider_id: provider.id,
        osb_id: `bench-service-${i}`,
        slug: `${adjective}-${kind}-${i}`,
        name: `${adjective[0]?.toUpperCase()}${adjective.slice(1)} ${kind} ${i}`,
        description: `A ${word} ${kind} service for apps that need ${word} ${kind} without operating it.`,
        category: CATEGORIES[i % CATEGORIES.length] as (typeof CATEGORIES)[number],
        tags: [kind, word],
        requires: [],
        bindable: true,
        // Every seeded service gets public plans below; publishing would set this itself.
        has_public_plans: true,
        config_vars: [`${kind.toUpperCase()}_URL`],
        regions: ['eu-west', 'us-east'],
        metadata: '{}',
        dashboard_client: null,
        documentation_url: null,
        updated_at: new Date(),
      });
    }
    const services = await db.insertInto('services').values(rows).returning(['id', 'osb_id']).execute();
    await db
      .insertInto('plans')
      .values(
        services.flatMap((service) =>
          ['hobby', 'standard', 'premium'].map((slug, position) => ({
            service_id: service.id,
            osb_id: `${service.osb_id}-${slug}`,
            slug,
            name: slug,
            description: `${slug} plan`,
            free: position === 0,
            price_cents: position * 900,
            currency: 'usd',
            metered: JSON.stringify(position === 2 ? [{ unit: '1k_tokens', price: 0.2 }] : []),
            maintenance_info: null,
            schemas: null,
            visibility: 'public' as const,
            allowed_organizations: [],
            regions: [],
            metadata: '{}',
            position,
            updated_at: new Date(),
          })),
        ),
      )
      .execute();
  }
  await sql`vacuum analyze services`.execute(db);
  await sql`vacuum analyze plans`.execute(db);
}

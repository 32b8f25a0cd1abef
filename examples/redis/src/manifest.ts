import type { ProviderManifestInput } from '@annex/sdk';
import { PLANS, type RedisPlan, SERVICE_ID } from './plans.js';

// Nothing to choose at provision or bind: anything sent is refused with a 400 that names it.
const noParameters = { type: 'object', properties: {}, additionalProperties: false };
const schemas = { instance: { create: noParameters, update: noParameters }, binding: { create: noParameters } };

const planOf = (slug: RedisPlan['slug']) => PLANS.find((p) => p.slug === slug)!;
const metadata = (plan: RedisPlan) => ({ memoryBytes: plan.memoryBytes, memoryEnforced: false, pubsub: plan.pubsub });

/**
 * The provider manifest of the Redis example, served at `url`.
 *
 * @example
 * const provider = defineProvider({ manifest: manifest('http://127.0.0.1:4102'), ...handlers });
 */
export function manifest(url: string): ProviderManifestInput {
  const mini = planOf('mini');
  const premium = planOf('premium');
  return {
    slug: 'annex-redis',
    name: 'Annex Redis',
    description: 'Redis key spaces isolated by ACL users and key prefixes.',
    supportEmail: 'support@annex.example',
    listingState: 'beta',
    osb: { url, auth: 'jwt' },
    services: [
      {
        id: SERVICE_ID,
        slug: 'redis',
        name: 'Redis',
        description:
          'A Redis key space (every key under its own prefix) with its own ACL user per attachment. ' +
          'Memory is measured, not capped: Redis cannot limit memory per key prefix.',
        category: 'caches',
        tags: ['redis', 'cache', 'key-value'],
        bindable: true,
        planUpdateable: true,
        instancesRetrievable: true,
        bindingsRetrievable: true,
        configVars: ['REDIS_URL', 'REDIS_KEY_PREFIX'],
        regions: ['local'],
        plans: [
          {
            id: mini.id,
            slug: 'mini',
            description: '25 MB (measured, not enforced), data commands only.',
            free: true,
            schemas,
            metadata: metadata(mini),
          },
          {
            id: premium.id,
            slug: 'premium',
            description: '1 GB (measured, not enforced), data and pub/sub commands.',
            price: { monthly: 1500, currency: 'usd' },
            bindingRotatable: true,
            schemas,
            metadata: metadata(premium),
          },
        ],
      },
    ],
  };
}

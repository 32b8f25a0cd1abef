import type { ProviderManifestInput } from '@annex/sdk';
import { PLANS, type PostgresPlan, SERVICE_ID } from './plans.js';

// Provisioning takes no parameters: anything sent is refused with a 400 that names it.
const noParameters = { type: 'object', properties: {}, additionalProperties: false };

const planOf = (slug: PostgresPlan['slug']) => PLANS.find((p) => p.slug === slug)!;
const describe = (plan: PostgresPlan) =>
  `${plan.connectionLimit} connections, ${plan.statementTimeoutSeconds} s statement timeout.`;
const limits = (plan: PostgresPlan) => ({
  connectionLimit: plan.connectionLimit,
  statementTimeoutSeconds: plan.statementTimeoutSeconds,
});

/**
 * The provider manifest of the PostgreSQL example, served at `url`.
 *
 * @example
 * const provider = defineProvider({ manifest: manifest('http://127.0.0.1:4101'), ...handlers });
 */
export function manifest(url: string): ProviderManifestInput {
  const hobby = planOf('hobby');
  const standard = planOf('standard');
  const premium = planOf('premium');
  const schemas = { instance: { create: noParameters, update: noParameters }, binding: { create: noParameters } };
  return {
    slug: 'annex-postgres',
    name: 'Annex Postgres',
    description: 'PostgreSQL databases on a server you run, one database and owner role per add-on.',
    supportEmail: 'support@annex.example',
    listingState: 'beta',
    osb: { url, auth: 'jwt' },
    services: [
      {
        id: SERVICE_ID,
        slug: 'postgres',
        name: 'Postgres',
        description: 'Managed PostgreSQL: a database with its own owner role, a login role per attachment.',
        category: 'databases',
        tags: ['postgresql', 'sql', 'relational'],
        bindable: true,
        planUpdateable: true,
        instancesRetrievable: true,
        bindingsRetrievable: true,
        configVars: ['DATABASE_URL'],
        regions: ['local'],
        plans: [
          {
            id: hobby.id,
            slug: 'hobby',
            description: describe(hobby),
            free: true,
            maximumPollingDuration: 600,
            schemas,
            metadata: limits(hobby),
          },
          {
            id: standard.id,
            slug: 'standard',
            description: describe(standard),
            price: { monthly: 900, currency: 'usd' },
            bindingRotatable: true,
            maximumPollingDuration: 600,
            schemas,
            metadata: limits(standard),
          },
          {
            id: premium.id,
            slug: 'premium',
            description: describe(premium),
            price: { monthly: 5000, currency: 'usd' },
            bindingRotatable: true,
            maximumPollingDuration: 600,
            schemas,
            metadata: limits(premium),
          },
        ],
      },
    ],
  };
}

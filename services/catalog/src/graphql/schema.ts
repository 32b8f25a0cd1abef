import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import './types/enums.js';
import './types/errors.js';
import './types/price.js';
import './types/provider.js';
import './types/service.js';
import './types/plan.js';
import './types/publishing.js';
import './types/listing.js';
import './types/administration.js';
import './types/app-errors.js';
import './types/apps.js';
import './types/app-mutations.js';
import './types/preflight.js';
import './types/addon-events.js';
import './types/billing.js';
import './types/provider-installations.js';
import './types/provider-money.js';
import './types/provider-members.js';
import './types/provider-health.js';

builder.queryType({
  description: 'What platforms and people browse: providers, services, plans, categories; apps and their add-ons.',
});
builder.mutationType({ description: 'Publishing, administration, and apps with their add-ons and config vars.' });

/** The catalog's GraphQL schema (the same object for every app in the process). */
export const schema = lexicographicSortSchema(builder.toSchema());

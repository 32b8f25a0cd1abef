import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import './types/enums.js';
import './types/errors.js';
import './types/price.js';
import './types/provider.js';
import './types/service.js';
import './types/plan.js';
import './types/publishing.js';
import './types/administration.js';

builder.queryType({ description: 'What platforms and people browse: providers, services, plans, categories.' });
builder.mutationType({ description: 'Publishing and administration.' });

/** The catalog's GraphQL schema (the same object for every app in the process). */
export const schema = lexicographicSortSchema(builder.toSchema());

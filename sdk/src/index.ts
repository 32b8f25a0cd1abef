export { checkParameterSchema, MAX_SCHEMA_BYTES, type ParameterProblem, validateParameters } from './json-schema.js';
export {
  CATEGORIES,
  type Category,
  isFreePlan,
  LISTING_STATES,
  type ListingState,
  type ManifestProblem,
  type ManifestValidation,
  manifestJsonSchema,
  type PlanManifest,
  type ProviderManifest,
  type ProviderManifestInput,
  planManifestSchema,
  providerManifestSchema,
  type ServiceManifest,
  serviceManifestSchema,
  validateManifest,
} from './manifest.js';

export { type Catalog, type CatalogDeps, createCatalog } from './app.js';
export { type CatalogConfig, loadCatalogConfig } from './config.js';
export {
  CatalogError,
  IdConflictError,
  ManifestInvalidError,
  NotAuthorizedError,
  PlanInUseError,
  type Problem,
  SlugTakenError,
} from './domain/errors.js';
export type { Plan, Provider, Service } from './domain/model.js';
export { catalogToManifest, refreshOsbBroker, registerOsbBroker } from './domain/osb-import.js';
export { type PublishOptions, type PublishOutcome, publishManifest } from './domain/publishing.js';
export { schema } from './graphql/schema.js';

export { AdminDatabase } from './database.js';
export { manifest } from './manifest.js';
export { bindingRole, type InstanceNames, instanceNames } from './names.js';
export { PLANS, type PostgresPlan, planById } from './plans.js';
export {
  createPostgresProvider,
  type PostgresProviderOptions,
  type RunningExample,
  startExample,
} from './provider.js';

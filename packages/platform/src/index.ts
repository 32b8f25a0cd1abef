export { type DevelopmentCredentials, ensureDevelopmentCredentials } from './bootstrap.js';
export {
  ConfigError,
  configOrExit,
  encryptionKeySpec,
  flag,
  logLevel,
  optionalFlag,
  outboundPolicyOf,
  parseEnvironment,
  port,
  postgresUrl,
  tracingFromEnvironment,
} from './config.js';
export { type Database, type DatabaseTarget, executePrepared, openDatabase } from './db/database.js';
export { executeStatements, type Migration, type MigrationResult, migrateToLatest } from './db/migrate.js';
export type * from './db/schema.js';
export {
  type RecentCalls,
  recentServiceCalls,
  SERVICE_HEALTH_RULE,
  type ServiceHealth,
  serviceHealthOf,
} from './db/service-health.js';
export { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from './db/unavailable.js';
export {
  createObservability,
  drainServer,
  internalErrorHandler,
  logOf,
  type Observability,
  type ObservabilityOptions,
  requestIdOf,
  stopOnSignals,
} from './http.js';
export {
  createJobRunner,
  daily,
  type EnqueueOptions,
  enqueueJob,
  every,
  failedJobs,
  hourly,
  JOBS_CHANNEL,
  type Job,
  type JobHandler,
  type JobKindOptions,
  type JobKinds,
  type JobOutcome,
  type JobRunner,
  type JobRunnerOptions,
  type JobSchedule,
  type JobsExecutor,
  type NewJob,
  periodStart,
  type Recurrence,
  RetryLaterError,
  type RetryPolicy,
  retryDelayMs,
} from './jobs/index.js';
export { ensureLocalEncryptionKeys } from './local.js';
export { createLogger, type Logger, serviceLogger } from './log.js';
export {
  guardedLookup,
  isPublicAddress,
  OutboundAbortedError,
  type OutboundPolicy,
  type OutboundRequestOptions,
  type OutboundResponse,
  OutboundTimeoutError,
  outboundRequest,
  outboundUrlProblem,
  PrivateAddressError,
  ResponseTooLargeError,
} from './outbound.js';
export {
  ALL_SCOPES,
  type AnyScope,
  CONFIG_VALUES_SCOPE,
  DEFAULT_TOKEN_SCOPES,
  type GraphqlOperation,
  missingScopeMessage,
  OPERATION_SCOPES,
  type Operation,
  type OrganizationOperation,
  PROVIDER_ROLE_SCOPES,
  PROVIDER_SCOPES,
  type ProviderScope,
  principalHasScope,
  type RestOperation,
  ROLE_SCOPES,
  SCOPES,
  type Scope,
  scopesForNewToken,
  scopesGrant,
  unknownScopes,
  validScopes,
} from './scopes.js';
export { hashPassword, randomSecret, SecretBox, verifyPassword } from './secrets.js';
export {
  ANONYMOUS,
  authenticateToken,
  bearerToken,
  type CreatedApiToken,
  createApiToken,
  hashToken,
  type NewApiToken,
  type Principal,
  platformOrganizations,
  visibleOrganizations,
} from './tokens.js';

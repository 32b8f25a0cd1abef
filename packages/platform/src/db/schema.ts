import type { ColumnType, Generated, JSONColumnType } from 'kysely';

// Row types of the database, one interface per table. They stop at the repositories:
// services return domain types. db/schema.test.ts holds them to the migrated schema.

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Json<T extends object> = JSONColumnType<T, string, string>;
/** JSON values are written as JSON text: `pg` would turn a JS array into a PostgreSQL array. */
type NullableJson<T extends object> = ColumnType<T | null, string | null, string | null>;

export type ListingState = 'alpha' | 'beta' | 'ga' | 'deprecated';
export type TokenKind = 'admin' | 'platform' | 'provider' | 'org';

export interface OrganizationsTable {
  id: Generated<string>;
  slug: string;
  name: string;
  created_at: CreatedAt;
}

export interface PlatformsTable {
  id: Generated<string>;
  slug: string;
  name: string;
  osb_username: string;
  osb_password_hash: string;
  created_at: CreatedAt;
  // Apps (migration 20261127140000): where config-var change notifications go.
  webhook_url: ColumnType<string | null, string | null | undefined, string | null>;
  /** Sealed with SecretBox. */
  webhook_secret_sealed: ColumnType<string | null, string | null | undefined, string | null>;
  // Migration 20261127190000: the secret before the last rotation, signing beside the new one until it expires.
  webhook_previous_secret_sealed: ColumnType<string | null, string | null | undefined, string | null>;
  webhook_previous_secret_expires_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface PlatformOrganizationsTable {
  platform_id: string;
  organization_id: string;
}

export interface ProvidersTable {
  id: Generated<string>;
  slug: string;
  name: string;
  description: Generated<string>;
  support_email: string | null;
  support_url: string | null;
  logo_url: string | null;
  listing_state: Generated<ListingState>;
  osb_url: string | null;
  osb_auth_kind: Generated<'jwt' | 'basic'>;
  osb_username: string | null;
  /** Sealed with the installation's encryption key (see `SecretBox`). */
  osb_password_secret: string | null;
  owner_organization_id: string | null;
  source: Generated<'manifest' | 'osb_broker'>;
  current_revision: Generated<number>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface ProviderRevisionsTable {
  provider_id: string;
  revision: number;
  digest: string;
  manifest: Json<Record<string, unknown>>;
  published_by: string;
  created_at: CreatedAt;
}

export interface ApiTokensTable {
  id: Generated<string>;
  kind: TokenKind;
  name: string;
  token_hash: string;
  token_prefix: string;
  scopes: ColumnType<string[], string[] | undefined, string[]>;
  organization_id: string | null;
  platform_id: string | null;
  provider_id: string | null;
  created_at: CreatedAt;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  /** The person the token acts for (a console session's user; migration 20261203120000), else null. */
  user_id: Generated<string | null>;
}

export type ServiceCategory =
  | 'databases'
  | 'caches'
  | 'ai-models'
  | 'search'
  | 'logging'
  | 'monitoring'
  | 'email'
  | 'queues'
  | 'other';

export interface ServicesTable {
  id: Generated<string>;
  provider_id: string;
  osb_id: string;
  slug: string;
  name: string;
  description: string;
  category: ServiceCategory;
  tags: string[];
  bindable: boolean;
  plan_updateable: Generated<boolean>;
  instances_retrievable: Generated<boolean>;
  bindings_retrievable: Generated<boolean>;
  allow_context_updates: Generated<boolean>;
  requires: string[];
  documentation_url: string | null;
  dashboard_client: NullableJson<Record<string, unknown>>;
  config_vars: string[];
  regions: string[];
  metadata: Json<Record<string, unknown>>;
  /** The listing stage (migration 20261207030000; replaced `status`: DEPRECATED is a stage). */
  stage: Generated<ListingState>;
  position: Generated<number>;
  /** A live public plan exists (kept by publishing; what anonymous visibility reads). */
  has_public_plans: Generated<boolean>;
  search: ColumnType<string | null, never, never>;
  created_at: CreatedAt;
  updated_at: Timestamp;
  /** Set when removed from the manifest while instances still reference it (migration 20261127100000). */
  removed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface MeteredPrice {
  /** What is counted, e.g. `1k_tokens`. */
  unit: string;
  /** Price of one unit in minor units of the plan's currency (may be fractional). */
  price: number;
  description?: string;
}

export interface MaintenanceInfo {
  version: string;
  description?: string;
}

export interface PlanSchemas {
  service_instance?: { create?: { parameters?: object }; update?: { parameters?: object } };
  service_binding?: { create?: { parameters?: object } };
}

export interface PlansTable {
  id: Generated<string>;
  service_id: string;
  osb_id: string;
  slug: string;
  name: string;
  description: string;
  free: boolean;
  price_cents: number;
  currency: string;
  metered: Json<MeteredPrice[]>;
  bindable: boolean | null;
  plan_updateable: boolean | null;
  binding_rotatable: boolean | null;
  maintenance_info: NullableJson<MaintenanceInfo>;
  maximum_polling_duration: number | null;
  schemas: NullableJson<PlanSchemas>;
  visibility: 'public' | 'private';
  allowed_organizations: string[];
  regions: string[];
  metadata: Json<Record<string, unknown>>;
  status: Generated<'active' | 'deprecated'>;
  position: Generated<number>;
  created_at: CreatedAt;
  updated_at: Timestamp;
  /** Set when removed from the manifest while instances still reference it (migration 20261127100000). */
  removed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface ServiceInstancesTable {
  id: string;
  service_id: string;
  plan_id: string;
  platform_id: string | null;
  organization_guid: string;
  space_guid: string;
  context: Json<Record<string, unknown>>;
  /** Plain only in rows written before migration 20261203140000 and not yet sealed; '{}' otherwise. */
  parameters: ColumnType<Record<string, unknown>, string | undefined, string>;
  /** The parameters, sealed with SecretBox (JSON); null when there are none. */
  parameters_sealed: string | null;
  state: string;
  dashboard_url: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  deleted_at: Date | null;
  // Broker (migration 20261127110000): the provider-side id the broker sends to the provider.
  provider_id: string | null;
  provider_instance_id: string | null;
  maintenance_info: NullableJson<MaintenanceInfo>;
  originating_identity: NullableJson<Record<string, unknown>>;
  token_id: string | null;
  last_operation_id: string | null;
}

export type BindingState = 'binding' | 'bound' | 'unbinding' | 'failed' | 'unbound';

export interface ServiceBindingsTable {
  id: string;
  instance_id: string;
  provider_binding_id: string;
  platform_id: string | null;
  app_guid: string | null;
  bind_resource: Json<Record<string, unknown>>;
  /** Plain only in rows written before migration 20261203140000 and not yet sealed; '{}' otherwise. */
  parameters: ColumnType<Record<string, unknown>, string | undefined, string>;
  /** The parameters, sealed with SecretBox (JSON); null when there are none. */
  parameters_sealed: string | null;
  context: Json<Record<string, unknown>>;
  predecessor_binding_id: string | null;
  state: BindingState;
  /** Sealed with SecretBox; never logged. */
  credentials_sealed: string | null;
  credentials_key_id: string | null;
  /** syslog_drain_url, route_service_url, volume_mounts, endpoints, metadata from the provider. */
  details: Json<Record<string, unknown>>;
  last_operation_id: string | null;
  originating_identity: NullableJson<Record<string, unknown>>;
  created_at: CreatedAt;
  updated_at: Timestamp;
  deleted_at: Date | null;
}

export type BrokerOperationKind =
  | 'provision'
  | 'update'
  | 'deprovision'
  | 'bind'
  | 'unbind'
  | 'orphan_deprovision'
  | 'orphan_unbind';
export type BrokerOperationState = 'pending' | 'polling' | 'succeeded' | 'failed';

export interface BrokerOperationsTable {
  id: Generated<string>;
  kind: BrokerOperationKind;
  instance_id: string;
  binding_id: string | null;
  provider_id: string;
  state: BrokerOperationState;
  request: Json<Record<string, unknown>>;
  accepts_incomplete: Generated<boolean>;
  provider_operation: string | null;
  description: string | null;
  result: NullableJson<Record<string, unknown>>;
  instance_usable: boolean | null;
  update_repeatable: boolean | null;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  poll_deadline_at: Date | null;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  platform_id: string | null;
  token_id: string | null;
  originating_identity: NullableJson<Record<string, unknown>>;
  created_at: CreatedAt;
  updated_at: Timestamp;
  completed_at: Date | null;
}

export interface BrokerAuditLogTable {
  id: Generated<number>;
  at: CreatedAt;
  actor_kind: string;
  actor_id: string | null;
  platform_id: string | null;
  token_id: string | null;
  originating_identity: NullableJson<Record<string, unknown>>;
  action: string;
  instance_id: string | null;
  binding_id: string | null;
  operation_id: string | null;
  result: string;
  detail: Json<Record<string, unknown>>;
}

export interface BrokerSigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: Json<Record<string, unknown>>;
  /** Sealed with SecretBox. */
  private_key_sealed: string;
  created_at: CreatedAt;
  signs_from: ColumnType<Date, Date | string, Date | string>;
  retired_at: Date | null;
}

// Apps, add-ons, attachments, config vars (migration 20261127140000, docs/apps.md).

export interface AppsTable {
  id: Generated<string>;
  name: string;
  organization_id: string;
  platform_id: string | null;
  /** The version of the app's latest release; 0 before the first. */
  release_version: Generated<number>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export type AddonState =
  | 'provisioning'
  | 'provisioned'
  | 'changing_plan'
  | 'failed'
  | 'destroying'
  | 'destroyed'
  /** Billing (migration 20261127150000): dunning ran out; kept at the provider, restored on payment. */
  | 'suspended';

export interface AddonsTable {
  /** The id of the add-on's service instance in the broker. */
  id: string;
  name: string;
  organization_id: string;
  app_id: string;
  service_id: string;
  plan_id: string;
  /** Plain only in rows written before migration 20261203140000 and not yet sealed; '{}' otherwise. */
  parameters: ColumnType<Record<string, unknown>, string | undefined, string>;
  /** The parameters, sealed with SecretBox (JSON); null when there are none. */
  parameters_sealed: string | null;
  state: AddonState;
  last_error: string | null;
  /** Which replica is moving the add-on forward, until when; also its next check. */
  lease_owner: string | null;
  lease_expires_at: Date | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  destroyed_at: Date | null;
}

export interface AddonSharesTable {
  addon_id: string;
  organization_id: string;
  created_at: CreatedAt;
}

export type AttachmentState = 'attaching' | 'attached' | 'rotating' | 'detaching' | 'detached' | 'failed';

export interface AttachmentsTable {
  id: Generated<string>;
  addon_id: string;
  app_id: string;
  /** The prefix of its vars: `DATABASE` gives `DATABASE_URL`. */
  name: string;
  /** The id of the attachment's current service binding in the broker. */
  binding_id: string;
  /** The binding a rotation is making, until it replaces `binding_id`. */
  rotating_binding_id: string | null;
  /** The grace period the rotation asked for; null for the installation's default. */
  rotation_grace_seconds: number | null;
  replace_vars: Generated<boolean>;
  state: AttachmentState;
  last_error: string | null;
  /** The latest release the app's runtime confirmed running with. */
  confirmed_release: number | null;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  detached_at: Date | null;
}

export interface BindingRetirementsTable {
  binding_id: string;
  attachment_id: string;
  app_id: string;
  /** The release that replaced this binding's credentials. */
  release_version: number;
  revoke_after: ColumnType<Date, Date | string, Date | string>;
  state: Generated<'waiting' | 'revoking' | 'revoked'>;
  created_at: CreatedAt;
  revoked_at: Date | null;
}

export interface ConfigVarsTable {
  app_id: string;
  name: string;
  /** Sealed with SecretBox. */
  value_sealed: string;
  secret: Generated<boolean>;
  /** The attachment that owns the var; null for vars set by a user. */
  attachment_id: string | null;
}

export interface ReleaseDiffEntry {
  name: string;
  change: 'added' | 'changed' | 'removed';
  /** Only for values that are not secret. */
  value?: string;
}

/** An attachment-owned var a rollback left as it was, and the attachment that owns it. */
export interface ReleaseKeptVar {
  name: string;
  attachment: string;
}

export interface ReleasesTable {
  id: Generated<string>;
  app_id: string;
  version: number;
  diff: Json<ReleaseDiffEntry[]>;
  /** Only rollbacks keep vars: empty otherwise. */
  kept: ColumnType<ReleaseKeptVar[], string | undefined, string>;
  /** Every var of the app after this release, with its owner: sealed JSON. */
  vars_sealed: string;
  actor: Json<Record<string, unknown>>;
  reason: string;
  created_at: CreatedAt;
}

export interface AppEventsTable {
  id: Generated<string>;
  app_id: string;
  addon_id: string | null;
  kind: string;
  detail: Json<Record<string, unknown>>;
  created_at: CreatedAt;
}

export interface WebhookDeliveriesTable {
  id: Generated<string>;
  platform_id: string;
  app_id: string;
  release_version: number | null;
  event_type: string;
  payload: Json<Record<string, unknown>>;
  state: Generated<'pending' | 'delivered' | 'failed'>;
  attempts: Generated<number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_status: number | null;
  last_error: string | null;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  created_at: CreatedAt;
  delivered_at: Date | null;
}

export interface DB {
  organizations: OrganizationsTable;
  platforms: PlatformsTable;
  platform_organizations: PlatformOrganizationsTable;
  providers: ProvidersTable;
  provider_revisions: ProviderRevisionsTable;
  api_tokens: ApiTokensTable;
  services: ServicesTable;
  plans: PlansTable;
  service_instances: ServiceInstancesTable;
  service_bindings: ServiceBindingsTable;
  broker_operations: BrokerOperationsTable;
  broker_audit_log: BrokerAuditLogTable;
  broker_signing_keys: BrokerSigningKeysTable;
  apps: AppsTable;
  addons: AddonsTable;
  addon_shares: AddonSharesTable;
  attachments: AttachmentsTable;
  binding_retirements: BindingRetirementsTable;
  config_vars: ConfigVarsTable;
  releases: ReleasesTable;
  app_events: AppEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
}

// The web console (migration 20261127170000): people, their organizations, their sessions.
// Declared as a second `DB` block (interfaces merge) so that this section is appended
// without touching the list above.

export type MembershipRole = 'member' | 'admin';

export interface UsersTable {
  id: Generated<string>;
  /** The OpenID Connect issuer, or `annex-development` for the development sign-in. */
  oidc_issuer: string;
  oidc_subject: string;
  email: Generated<string>;
  name: Generated<string>;
  created_at: CreatedAt;
  last_sign_in_at: Timestamp;
}

export interface MembershipsTable {
  user_id: string;
  organization_id: string;
  /** `admin` may reveal config var values (the session's token gets `config:read`). */
  role: Generated<MembershipRole>;
  created_at: CreatedAt;
}

export interface ConsoleSessionsTable {
  /** SHA-256 of the cookie's session id; the id itself is never stored. */
  id_hash: string;
  user_id: string;
  /** The organization the console acts for now. */
  organization_id: string | null;
  /** The synchronizer CSRF token of the session. */
  csrf_secret: string;
  /** The org API token the console acts with, revoked with the session. */
  api_token_id: string | null;
  /** That token, sealed with SecretBox. */
  api_token_sealed: string | null;
  /** The identity provider's ID token of the sign-in, sealed: the hint of the sign-out there. */
  id_token_sealed: Generated<string | null>;
  // Migration 20261207020000: the provider a provider member's session acts for, and its token.
  provider_id: Generated<string | null>;
  /** The provider token the console shows the provider's portal with, revoked with the session. */
  provider_token_id: Generated<string | null>;
  /** That token, sealed with SecretBox. */
  provider_token_sealed: Generated<string | null>;
  created_at: CreatedAt;
  expires_at: ColumnType<Date, Date | string, Date | string>;
}

/** Who works for a provider (migration 20261207020000): they see its portal in the console. */
export interface ProviderMembersTable {
  user_id: string;
  provider_id: string;
  /** `admin` may also invite organizations and change listings (provider:write). */
  role: Generated<MembershipRole>;
  /** `claim`: from the `annex_providers` sign-in claim (the next claim replaces it); `admin`: added by an admin. */
  granted_by: Generated<'claim' | 'admin'>;
  created_at: CreatedAt;
}

export interface DB {
  users: UsersTable;
  memberships: MembershipsTable;
  console_sessions: ConsoleSessionsTable;
  provider_members: ProviderMembersTable;
}

// SSO hand-off tokens the broker minted (migration 20261127160000, docs/provider-protocol.md §2),
// appended as its own `DB` block like the console's.

export interface SsoTokensTable {
  /** The token's `jti`; the provider accepts it once. */
  jti: string;
  addon_id: string;
  /** The app the user came from (the `app` claim); null when the token names none. */
  app_id: string | null;
  organization_id: string;
  provider_id: string;
  /** The user the caller vouched for (the `sub`, `email` and `name` claims). */
  user_id: string;
  user_email: string;
  user_name: string;
  /** The API token that asked for it: `{kind, tokenId}`. */
  requested_by: Json<Record<string, unknown>>;
  issued_at: ColumnType<Date, Date | string, never>;
  expires_at: ColumnType<Date, Date | string, never>;
}

export interface DB {
  sso_tokens: SsoTokensTable;
}

// Billing (migration 20261127150000, docs/billing.md), appended as its own `DB` block.
// Amounts are in minor units (cents); `numeric` columns come back from pg as strings.

type Numeric = ColumnType<string, number | string, number | string>;

export interface BillingAccountsTable {
  organization_id: string;
  stripe_customer_id: string | null;
  /** The customer's default payment method in Stripe (mirrored from webhooks and the API). */
  default_payment_method: string | null;
  payment_method_brand: string | null;
  payment_method_last4: string | null;
  /** The default card's expiry (null: not a card, or mirrored before 20261206130000). */
  payment_method_exp_month: number | null;
  payment_method_exp_year: number | null;
  /** When the read of Stripe that the payment method above mirrors began (null: set before 20261202). */
  payment_method_read_at: Date | null;
  /** When the mirrored default last changed (the read that saw it first; null: not since 20261202). */
  payment_method_changed_at: Date | null;
  status: Generated<'good' | 'past_due' | 'suspended'>;
  past_due_since: Date | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface UsageIntervalsTable {
  id: Generated<string>;
  addon_id: string;
  organization_id: string;
  app_id: string;
  plan_id: string;
  provider_id: string;
  /** The plan's monthly price when the interval opened. */
  price_cents: number;
  currency: string;
  started_at: ColumnType<Date, Date | string, Date | string>;
  ended_at: Date | null;
  created_at: CreatedAt;
}

export interface UsageRecordsTable {
  id: Generated<string>;
  provider_id: string;
  idempotency_key: string;
  addon_id: string;
  organization_id: string;
  app_id: string;
  unit: string;
  quantity: Numeric;
  /** The plan's metered price of one unit, in minor units (may be fractional). */
  unit_price: Numeric;
  currency: string;
  at: ColumnType<Date, Date | string, Date | string>;
  created_at: CreatedAt;
}

/** Metered spend per organization, app and month (migration 20261127210000), kept with usage_records. */
export interface UsageTotalsTable {
  organization_id: string;
  app_id: string;
  /** The calendar month, `YYYY-MM` (UTC). */
  period: string;
  cents: Numeric;
}

export interface SpendCapsTable {
  organization_id: string;
  /** `org` or the app's id. */
  scope: string;
  app_id: string | null;
  limit_cents: number;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface SpendAlertsTable {
  organization_id: string;
  scope: string;
  /** `YYYY-MM`. */
  month: string;
  /** Percent of the cap: 50, 80 or 100. */
  threshold: number;
  spent_cents: Numeric;
  limit_cents: number;
  created_at: CreatedAt;
}

export interface InvoiceLine {
  kind: 'plan' | 'metered';
  addonId: string;
  addon: string;
  appId: string;
  app: string;
  plan: string;
  providerId: string;
  description: string;
  seconds?: number;
  unit?: string;
  quantity?: number;
  cents: number;
}

export interface InvoicesTable {
  id: Generated<string>;
  organization_id: string;
  /** The calendar month, `YYYY-MM`. */
  period: string;
  state: 'draft' | 'open' | 'paid' | 'payment_failed' | 'ledger_only';
  total_cents: number;
  currency: string;
  lines: Json<InvoiceLine[]>;
  stripe_invoice_id: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  finalized_at: Date | null;
  paid_at: Date | null;
  failed_at: Date | null;
  /** When a payout counted this invoice (migration 20261127200000); null until then. */
  paid_out_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface StripeEventsTable {
  id: string;
  type: string;
  created: ColumnType<Date, Date | string, Date | string>;
  received_at: CreatedAt;
  /** What the broker did with it (`applied`, `ignored: …`). */
  outcome: string;
}

export interface ProviderBillingTable {
  provider_id: string;
  /** The provider's share of its add-ons' revenue (0..1); null for BILLING_DEFAULT_REVENUE_SHARE. */
  revenue_share: Numeric | null;
  /** Its Stripe Connect account (`acct_…`). */
  stripe_account_id: string | null;
  updated_at: Timestamp;
}

export interface ProviderPayoutsTable {
  id: Generated<string>;
  provider_id: string;
  period: string;
  currency: string;
  gross_cents: number;
  revenue_share: Numeric;
  amount_cents: number;
  state: 'pending' | 'paid' | 'ledger_only' | 'no_account' | 'nothing_due';
  stripe_transfer_id: string | null;
  created_at: CreatedAt;
  paid_at: Date | null;
  /** 1 for a month's first payout to a provider, 2… for invoices paid after it (migration 20261127200000). */
  sequence: ColumnType<number, number | undefined, number>;
  /** The invoices this payout counts. */
  invoice_ids: ColumnType<string[], string[] | undefined, string[]>;
}

export interface BillingJobsTable {
  name: string;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  last_run_at: Date | null;
  last_result: NullableJson<Record<string, unknown>>;
}

export interface DB {
  billing_accounts: BillingAccountsTable;
  usage_intervals: UsageIntervalsTable;
  usage_records: UsageRecordsTable;
  usage_totals: UsageTotalsTable;
  spend_caps: SpendCapsTable;
  spend_alerts: SpendAlertsTable;
  invoices: InvoicesTable;
  stripe_events: StripeEventsTable;
  provider_billing: ProviderBillingTable;
  provider_payouts: ProviderPayoutsTable;
  billing_jobs: BillingJobsTable;
}

// The job runner's queue (migration 20261206100000, docs/jobs.md).

export interface JobsTable {
  id: Generated<number>;
  kind: string;
  payload: ColumnType<unknown, string | undefined, string>;
  key: string | null;
  state: ColumnType<'pending' | 'running' | 'failed', 'pending' | undefined, 'pending' | 'running' | 'failed'>;
  run_at: ColumnType<Date, Date | string | undefined, Date | string>;
  attempts: Generated<number>;
  max_attempts: Generated<number>;
  locked_by: string | null;
  locked_until: Date | null;
  /** Enqueued again while running: when to run once more after it finishes. */
  rerun_at: Date | null;
  last_error: string | null;
  /** The W3C `traceparent` of the request that enqueued it (migration 20261207050000); its span continues that trace. */
  traceparent: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface JobSchedulesTable {
  name: string;
  last_period: Date;
}

export interface DB {
  jobs: JobsTable;
  job_schedules: JobSchedulesTable;
}

// Provider calls (migration 20261207010000, docs/provider-portal.md "Health").

export type ProviderCallOperation =
  | 'provision'
  | 'update'
  | 'deprovision'
  | 'bind'
  | 'unbind'
  | 'last_operation'
  | 'fetch_instance'
  | 'fetch_binding'
  | 'other';

export type ProviderCallOutcome = 'ok' | 'error' | 'timeout' | 'unreachable';

export interface ProviderCallsTable {
  id: Generated<number>;
  provider_id: string;
  /** Null when the call named no service the catalog knows (a fetch of an instance). */
  service_id: string | null;
  operation: ProviderCallOperation;
  outcome: ProviderCallOutcome;
  /** The provider's HTTP status; null without an answer. */
  status: number | null;
  latency_ms: number;
  /** A failure: the OSB error key the provider answered, if any. */
  error: string | null;
  /** A failure: the provider's description (or why there was no answer), at most 1 KB. */
  description: string | null;
  at: ColumnType<Date, Date | string, Date | string>;
}

export interface DB {
  provider_calls: ProviderCallsTable;
}

// The listing lifecycle (migration 20261207030000, docs/provider-portal.md "Listing lifecycle"):
// organizations invited to a provider's ALPHA services, and requests for GA with their review.

export interface ServiceInvitationsTable {
  service_id: string;
  organization_id: string;
  /** Who invited: `provider:<token id>` or `admin:<token id>`. */
  invited_by: string;
  created_at: CreatedAt;
}

export type ListingReviewState = 'pending' | 'approved' | 'rejected' | 'withdrawn';

export interface ListingReviewsTable {
  id: Generated<string>;
  service_id: string;
  /** The stage asked for (GA is the only one that needs an admin). */
  stage: Generated<'ga'>;
  state: Generated<ListingReviewState>;
  /** `provider:<token id>` or `admin:<token id>`. */
  requested_by: string;
  requested_at: CreatedAt;
  reviewed_by: string | null;
  reviewed_at: Date | null;
  /** Why it was rejected (or approved), as the admin wrote it. */
  reason: string | null;
}

export interface DB {
  service_invitations: ServiceInvitationsTable;
  listing_reviews: ListingReviewsTable;
}

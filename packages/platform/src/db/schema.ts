import type { ColumnType, Generated, JSONColumnType } from 'kysely';

// Row types of the database, one interface per table. They stop at the repositories:
// services return domain types.

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
  status: Generated<'active' | 'deprecated'>;
  position: Generated<number>;
  search: ColumnType<string, never, never>;
  created_at: CreatedAt;
  updated_at: Timestamp;
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
}

export interface ServiceInstancesTable {
  id: string;
  service_id: string;
  plan_id: string;
  platform_id: string | null;
  organization_guid: string;
  space_guid: string;
  context: Json<Record<string, unknown>>;
  parameters: Json<Record<string, unknown>>;
  state: string;
  dashboard_url: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  deleted_at: Date | null;
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
}

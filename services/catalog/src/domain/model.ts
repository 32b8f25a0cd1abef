import type { Category, ListingState } from '@annex/sdk';

// What the catalog returns: domain types, not rows. Repositories map rows to these.

export interface Provider {
  id: string;
  slug: string;
  name: string;
  description: string;
  supportEmail: string | null;
  supportUrl: string | null;
  logoUrl: string | null;
  listingState: ListingState;
  osbUrl: string | null;
  osbAuthKind: 'jwt' | 'basic';
  source: 'manifest' | 'osb_broker';
  currentRevision: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface Service {
  id: string;
  providerId: string;
  osbId: string;
  slug: string;
  name: string;
  description: string;
  category: Category;
  tags: string[];
  bindable: boolean;
  planUpdateable: boolean;
  instancesRetrievable: boolean;
  bindingsRetrievable: boolean;
  allowContextUpdates: boolean;
  requires: string[];
  documentationUrl: string | null;
  configVars: string[];
  regions: string[];
  metadata: Record<string, unknown>;
  /** The listing stage (docs/provider-portal.md, "Listing lifecycle"). */
  stage: ListingState;
  /** `deprecated` exactly when the stage is DEPRECATED (kept for the OSB-shaped field). */
  status: 'active' | 'deprecated';
  createdAt: Date;
  updatedAt: Date;
}

export interface MeteredPrice {
  unit: string;
  price: number;
  description: string | null;
}

export interface Price {
  /** Monthly amount in minor units (cents). */
  monthly: number;
  currency: string;
  metered: MeteredPrice[];
}

export interface PlanSchemas {
  service_instance?: { create?: { parameters?: object }; update?: { parameters?: object } };
  service_binding?: { create?: { parameters?: object } };
}

export interface Plan {
  id: string;
  serviceId: string;
  osbId: string;
  slug: string;
  name: string;
  description: string;
  free: boolean;
  price: Price;
  /** Overrides of the service's flags; `null` inherits. */
  bindable: boolean | null;
  planUpdateable: boolean | null;
  bindingRotatable: boolean | null;
  maintenanceInfo: { version: string; description: string | null } | null;
  maximumPollingDuration: number | null;
  /** OSB shape: `{ service_instance: { create: { parameters } }, ... }`. */
  schemas: PlanSchemas | null;
  visibility: 'public' | 'private';
  allowedOrganizations: string[];
  regions: string[];
  metadata: Record<string, unknown>;
  status: 'active' | 'deprecated';
}

export interface CategoryCount {
  category: Category;
  serviceCount: number;
}

/** An organization invited to see and use an ALPHA service. */
export interface AlphaInvitation {
  serviceId: string;
  /** The organization's slug. */
  organization: string;
  organizationName: string;
  /** `provider:<token id>` or `admin:<token id>`. */
  invitedBy: string;
  createdAt: Date;
}

/** A provider's request to move a service to GA, and an admin's decision on it. */
export interface ListingReview {
  id: string;
  serviceId: string;
  serviceSlug: string;
  serviceName: string;
  providerId: string;
  providerSlug: string;
  stage: 'ga';
  state: 'pending' | 'approved' | 'rejected' | 'withdrawn';
  requestedBy: string;
  requestedAt: Date;
  reviewedBy: string | null;
  reviewedAt: Date | null;
  reason: string | null;
}

import { type Principal, visibleOrganizations } from '@annex/platform';

/**
 * What a caller may see of the catalog: public plans always; private plans when one of
 * the caller's organizations is on the plan's allow-list; everything for admins. A
 * service is visible when at least one of its plans is.
 */
export interface Viewer {
  organizations: readonly string[] | 'all';
  /** A provider sees all of its own plans, private ones included. */
  providerId?: string;
}

export function viewerOf(principal: Principal): Viewer {
  return {
    organizations: visibleOrganizations(principal),
    ...(principal.kind === 'provider' ? { providerId: principal.providerId } : {}),
  };
}

export const ANONYMOUS_VIEWER: Viewer = Object.freeze({ organizations: [] });
export const ADMIN_VIEWER: Viewer = Object.freeze({ organizations: 'all' as const });

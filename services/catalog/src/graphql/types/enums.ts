import { CATEGORIES, type Category } from '@annex/sdk';
import { builder } from '../builder.js';

const enumName = (value: string) => value.toUpperCase().replace(/-/g, '_');

export const CategoryEnum = builder.enumType('ServiceCategory', {
  description: 'What kind of service it is.',
  values: Object.fromEntries(CATEGORIES.map((c) => [enumName(c), { value: c }])) as Record<string, { value: Category }>,
});

export const ListingStateEnum = builder.enumType('ListingState', {
  description:
    "A service's listing stage: ALPHA (invited organizations only), BETA (public, marked beta), GA (approved by an admin), DEPRECATED (no new add-ons).",
  values: {
    ALPHA: { value: 'alpha' },
    BETA: { value: 'beta' },
    GA: { value: 'ga' },
    DEPRECATED: { value: 'deprecated' },
  } as const,
});

export const StatusEnum = builder.enumType('Status', {
  description: 'A deprecated service or plan stays listed (its instances keep working) but should not be chosen anew.',
  values: { ACTIVE: { value: 'active' }, DEPRECATED: { value: 'deprecated' } } as const,
});

export const VisibilityEnum = builder.enumType('Visibility', {
  description: 'Public plans are listed for everyone; private plans only for the organizations on their allow-list.',
  values: { PUBLIC: { value: 'public' }, PRIVATE: { value: 'private' } } as const,
});

export const TokenKindEnum = builder.enumType('TokenKind', {
  values: {
    ADMIN: { value: 'admin' },
    PLATFORM: { value: 'platform' },
    PROVIDER: { value: 'provider' },
    ORG: { value: 'org' },
  } as const,
});

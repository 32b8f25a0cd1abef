import { print } from '@0no-co/graphql.web';
import type { ResultOf } from '@annex/contracts/graphql';
import { AppUsageFields, BillingAccountFields } from './documents.js';
import type { BillingView } from './views/pages.js';

// The /billing page's data in one GraphQL document: the account, the invoices and every
// app's usage. The schema has usage only per app (`usage(app:)`), so each app's field gets
// a generated alias (u0, u1…) and its name travels as a variable ($a0, $a1…), never in the
// document's text. What each part selects is a typed fragment (documents.ts), checked
// against the schema like every other document.

/**
 * Usage fields per document: the catalog refuses more aliases than CATALOG_MAX_ALIASES (15
 * by default), so the apps beyond the first 15 take further documents.
 */
export const USAGE_PER_DOCUMENT = 15;

const ACCOUNT_FRAGMENT = print(BillingAccountFields);
const USAGE_FRAGMENT = print(AppUsageFields);
type AccountPart = ResultOf<typeof BillingAccountFields>;
type UsagePart = ResultOf<typeof AppUsageFields>;

export interface BillingDocument {
  query: string;
  variables: Record<string, string>;
}

/** The documents that load the billing of `apps`: one, the account's included, for up to USAGE_PER_DOCUMENT apps. */
export function billingDocuments(apps: readonly string[]): BillingDocument[] {
  const documents: BillingDocument[] = [];
  for (let start = 0; start === 0 || start < apps.length; start += USAGE_PER_DOCUMENT) {
    const indexes = apps.slice(start, start + USAGE_PER_DOCUMENT).map((_, i) => start + i);
    const declarations = indexes.map((i) => `$a${i}: String!`).join(', ');
    const fields = indexes.map((i) => `  u${i}: usage(app: $a${i}) { ...AppUsageFields }`);
    documents.push({
      query: [
        `query${declarations ? `(${declarations})` : ''} {`,
        ...(start === 0 ? ['  ...BillingAccountFields'] : []),
        ...fields,
        '}',
        ...(start === 0 ? [ACCOUNT_FRAGMENT] : []),
        ...(fields.length > 0 ? [USAGE_FRAGMENT] : []),
      ].join('\n'),
      variables: Object.fromEntries(indexes.map((i) => [`a${i}`, apps[i] as string])),
    });
  }
  return documents;
}

/**
 * The billing of `apps` from the data of each of `billingDocuments(apps)`, in order. A field
 * that failed (null or missing: a partial answer, or a document that failed whole) is left
 * out, and the apps whose usage is missing are named.
 */
export function assembleBilling(apps: readonly string[], answers: readonly Record<string, unknown>[]): BillingView {
  const data: Record<string, unknown> = Object.assign({}, ...answers);
  const usage: BillingView['usage'] = [];
  const usageMissing: string[] = [];
  apps.forEach((app, i) => {
    const found = data[`u${i}`] as UsagePart | null | undefined;
    if (found) usage.push(found);
    else usageMissing.push(app);
  });
  return {
    billingAccount: (data.billingAccount as AccountPart['billingAccount'] | undefined) ?? null,
    invoices: (data.invoices as AccountPart['invoices'] | undefined) ?? null,
    usage,
    usageMissing,
  };
}

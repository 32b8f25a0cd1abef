import { describe, expect, it } from 'vitest';
import { assembleBilling, billingDocuments, USAGE_PER_DOCUMENT } from './billing.js';

// The /billing documents: the app names only as variables, at most USAGE_PER_DOCUMENT
// aliases each, and the answers mapped back to their apps (the real catalog runs them in
// console.test.ts).

const aliasesOf = (query: string) => [...query.matchAll(/\b(\w+): usage\(app: \$(\w+)\)/g)].map((m) => [m[1], m[2]]);

describe('billingDocuments', () => {
  it('asks for the account, the invoices and every app’s usage in one document', () => {
    const hostile = 'x") { __typename } evil: billingAccount(organization: "other';
    const documents = billingDocuments(['web', hostile, 'api']);
    expect(documents).toHaveLength(1);
    const [document] = documents;
    expect(document?.query).toMatch(/^query\(\$a0: String!, \$a1: String!, \$a2: String!\) \{/);
    expect(document?.query).toContain('billingAccount {');
    expect(document?.query).toContain('invoices {');
    expect(aliasesOf(document?.query ?? '')).toEqual([
      ['u0', 'a0'],
      ['u1', 'a1'],
      ['u2', 'a2'],
    ]);
    // The names travel as variables only.
    expect(document?.variables).toEqual({ a0: 'web', a1: hostile, a2: 'api' });
    expect(document?.query).not.toContain('web');
    expect(document?.query).not.toContain('evil');
  });

  it('asks for the account alone when there is no app', () => {
    const documents = billingDocuments([]);
    expect(documents).toHaveLength(1);
    expect(documents[0]?.query).toMatch(
      /^query \{\n {2}\.\.\.BillingAccountFields\n\}\nfragment BillingAccountFields on Query \{/,
    );
    expect(documents[0]?.query).not.toMatch(/usage|AppUsage/);
    expect(documents[0]?.variables).toEqual({});
  });

  it('keeps each document within the catalog’s alias limit, the account in the first only', () => {
    const apps = Array.from({ length: 2 * USAGE_PER_DOCUMENT + 1 }, (_, i) => `app-${i}`);
    const documents = billingDocuments(apps);
    expect(documents).toHaveLength(3);
    expect(documents.map((d) => aliasesOf(d.query).length)).toEqual([USAGE_PER_DOCUMENT, USAGE_PER_DOCUMENT, 1]);
    expect(documents.map((d) => d.query.includes('billingAccount'))).toEqual([true, false, false]);
    // Aliases and variables are numbered across the documents, one per app.
    expect(documents.flatMap((d) => aliasesOf(d.query).map(([alias]) => alias))).toEqual(apps.map((_, i) => `u${i}`));
    expect(Object.assign({}, ...documents.map((d) => d.variables))).toEqual(
      Object.fromEntries(apps.map((app, i) => [`a${i}`, app])),
    );
    expect(documents[2]?.query).toMatch(/^query\(\$a30: String!\) \{/);
  });
});

describe('assembleBilling', () => {
  const usage = (app: string) => ({ app, period: '2026-01', totalCents: 1, addons: [], metered: [] });
  const account = { mode: 'ledger-only', status: 'good' };

  it('maps each alias back to its app', () => {
    expect(
      assembleBilling(['web', 'api'], [{ billingAccount: account, invoices: [], u0: usage('web'), u1: usage('api') }]),
    ).toEqual({ billingAccount: account, invoices: [], usage: [usage('web'), usage('api')], usageMissing: [] });
  });

  it('leaves out what failed and names the apps whose usage is missing', () => {
    // A partial answer (u1 and the invoices null) and a document that failed whole ({}).
    const billing = assembleBilling(
      ['web', 'api', 'db'],
      [{ billingAccount: account, invoices: null, u0: usage('web'), u1: null }, {}],
    );
    expect(billing).toEqual({
      billingAccount: account,
      invoices: null,
      usage: [usage('web')],
      usageMissing: ['api', 'db'],
    });
    expect(assembleBilling(['web'], [{}])).toEqual({
      billingAccount: null,
      invoices: null,
      usage: [],
      usageMissing: ['web'],
    });
  });
});

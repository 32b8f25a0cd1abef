/** What each plan gives an instance. The ids are the catalog's and never change. */
export interface PostgresPlan {
  id: string;
  slug: 'hobby' | 'standard' | 'premium';
  /** Connections to the instance's database, and per login role. */
  connectionLimit: number;
  /** PostgreSQL `statement_timeout` of every session in the instance's database, in seconds. */
  statementTimeoutSeconds: number;
}

export const SERVICE_ID = '5b3c1a52-4a55-4f0e-9a60-6fd0a2f1a001';

export const PLANS: readonly PostgresPlan[] = Object.freeze([
  { id: '5b3c1a52-4a55-4f0e-9a60-6fd0a2f1a101', slug: 'hobby', connectionLimit: 5, statementTimeoutSeconds: 5 },
  { id: '5b3c1a52-4a55-4f0e-9a60-6fd0a2f1a102', slug: 'standard', connectionLimit: 20, statementTimeoutSeconds: 30 },
  { id: '5b3c1a52-4a55-4f0e-9a60-6fd0a2f1a103', slug: 'premium', connectionLimit: 100, statementTimeoutSeconds: 120 },
]);

/** The plan with this catalog id; throws for an id the manifest does not have. */
export function planById(id: string): PostgresPlan {
  const plan = PLANS.find((p) => p.id === id);
  if (!plan) throw new Error(`unknown plan id ${id}`);
  return plan;
}

/** What each plan gives an instance. The ids are the catalog's and never change. */
export interface RedisPlan {
  id: string;
  slug: 'mini' | 'premium';
  /** Advertised memory of the key space, in bytes: measured, not enforced (see the README). */
  memoryBytes: number;
  /** Whether the plan's users may publish and subscribe (on the instance's channels only). */
  pubsub: boolean;
}

export const SERVICE_ID = '6c4d2b63-5b66-4f1f-8b71-7fe1b3f2b002';

const MB = 1024 * 1024;

export const PLANS: readonly RedisPlan[] = Object.freeze([
  { id: '6c4d2b63-5b66-4f1f-8b71-7fe1b3f2b201', slug: 'mini', memoryBytes: 25 * MB, pubsub: false },
  { id: '6c4d2b63-5b66-4f1f-8b71-7fe1b3f2b202', slug: 'premium', memoryBytes: 1024 * MB, pubsub: true },
]);

/** The plan with this catalog id; throws for an id the manifest does not have. */
export function planById(id: string): RedisPlan {
  const plan = PLANS.find((p) => p.id === id);
  if (!plan) throw new Error(`unknown plan id ${id}`);
  return plan;
}

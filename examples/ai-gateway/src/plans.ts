import type { ProviderManifestInput } from '@annex/sdk';

/** What a plan allows, per instance (all the API keys of one add-on share it). */
export interface PlanLimits {
  /** Requests a minute, over a fixed one-minute window. */
  requestsPerMinute: number;
  /** Tokens (prompt + completion) per calendar month, UTC. */
  tokensPerMonth: number;
}

/** The plans' limits by plan slug; the manifest publishes them in each plan's metadata. */
export const PLAN_LIMITS: Readonly<Record<string, PlanLimits>> = Object.freeze({
  starter: { requestsPerMinute: 20, tokensPerMonth: 100_000 },
  scale: { requestsPerMinute: 600, tokensPerMonth: 10_000_000 },
});

/** Units the gateway knows how to meter, and how many of them `tokens` tokens make. */
const UNIT_QUANTITY: Readonly<Record<string, (tokens: number) => number>> = {
  '1k_tokens': (tokens) => tokens / 1000,
  tokens: (tokens) => tokens,
};

/** The metered unit of a plan the gateway reports usage in, if the plan's price has one. */
export function meteredUnit(
  plan: { price?: { metered?: readonly { unit: string }[] } } | undefined,
): string | undefined {
  return (plan?.price?.metered ?? []).map((m) => m.unit).find((unit) => unit in UNIT_QUANTITY);
}

/** `tokens` expressed in `unit` (e.g. 1500 tokens = 1.5 `1k_tokens`). */
export function quantityIn(unit: string, tokens: number): number {
  const convert = UNIT_QUANTITY[unit];
  if (!convert) throw new RangeError(`unknown metered unit "${unit}"`);
  return convert(tokens);
}

/** Checks at start-up that every plan of the manifest has limits, so no request meets a plan without any. */
export function assertPlansHaveLimits(manifest: ProviderManifestInput, limits: Readonly<Record<string, PlanLimits>>) {
  for (const service of manifest.services) {
    for (const plan of service.plans) {
      if (!limits[plan.slug]) throw new Error(`plan "${plan.slug}" has no rate limit and token quota`);
    }
  }
}

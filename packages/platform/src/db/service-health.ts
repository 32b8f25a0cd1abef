import { type Kysely, sql, type Transaction } from 'kysely';
import type { DB } from './schema.js';

// The coarse health of a service, from the broker's record of its provider calls
// (`provider_calls`, docs/provider-portal.md "Health"): what a platform reads before it
// attaches, and what the attach preflight warns about. One rule, read by the catalog and the
// broker alike.

/** `ok`, `degraded` or `failing` (the catalog's `ServiceHealth` enum, upper-cased). */
export type ServiceHealth = 'ok' | 'degraded' | 'failing';

/**
 * The rule's bounds, applied to each operation (provision, bind, deprovision…) over the
 * last `windowMinutes` of calls to the service; the service is as healthy as its worst
 * operation, so provisions that all fail are not hidden by deletes that succeed.
 */
export const SERVICE_HEALTH_RULE = Object.freeze({
  windowMinutes: 15,
  /** `failing`: at least this many calls of an operation, and at least `failingRate` of them failed. */
  failingMinCalls: 3,
  failingRate: 0.5,
  /** `degraded`: at least `degradedRate` of an operation's calls failed, or its 99th percentile took longer than `degradedP99Ms`. */
  degradedRate: 0.1,
  degradedP99Ms: 5_000,
});

/** What the rule reads of one operation's recent calls to a service. */
export interface RecentCalls {
  operation: string;
  calls: number;
  failures: number;
  p99Ms: number | null;
}

const RANK: Record<ServiceHealth, number> = { ok: 0, degraded: 1, failing: 2 };

/** The rule (see `SERVICE_HEALTH_RULE`): no calls is `ok`. */
export function serviceHealthOf(recent: readonly RecentCalls[] | undefined): ServiceHealth {
  const rule = SERVICE_HEALTH_RULE;
  let worst: ServiceHealth = 'ok';
  for (const op of recent ?? []) {
    if (op.calls === 0) continue;
    const rate = op.failures / op.calls;
    const health: ServiceHealth =
      op.calls >= rule.failingMinCalls && rate >= rule.failingRate
        ? 'failing'
        : rate >= rule.degradedRate || (op.p99Ms !== null && op.p99Ms > rule.degradedP99Ms)
          ? 'degraded'
          : 'ok';
    if (RANK[health] > RANK[worst]) worst = health;
  }
  return worst;
}

/**
 * The recent calls of each of `serviceIds`, per operation (services without calls are
 * absent), in one statement over the `(service_id, at)` index.
 */
export async function recentServiceCalls(
  db: Kysely<DB> | Transaction<DB>,
  serviceIds: readonly string[],
  now: Date = new Date(),
): Promise<Map<string, RecentCalls[]>> {
  const found = new Map<string, RecentCalls[]>();
  if (serviceIds.length === 0) return found;
  const since = new Date(now.getTime() - SERVICE_HEALTH_RULE.windowMinutes * 60_000);
  const rows = await db
    .selectFrom('provider_calls')
    .select([
      'service_id',
      'operation',
      sql<number>`count(*)::int`.as('calls'),
      sql<number>`(count(*) filter (where outcome <> 'ok'))::int`.as('failures'),
      sql<number | null>`percentile_cont(0.99) within group (order by latency_ms)`.as('p99'),
    ])
    .where('service_id', '=', sql<string>`any(${[...serviceIds]}::uuid[])`)
    .where('at', '>=', since)
    .groupBy(['service_id', 'operation'])
    .execute();
  for (const row of rows) {
    if (row.service_id === null) continue;
    const list = found.get(row.service_id) ?? [];
    list.push({
      operation: row.operation,
      calls: Number(row.calls),
      failures: Number(row.failures),
      p99Ms: row.p99 === null ? null : Number(row.p99),
    });
    found.set(row.service_id, list);
  }
  return found;
}

import type { CallBucket, CallStats, ProviderHealth } from '@annex/contracts/v1';
import { hourly, type JobKindOptions, type JobSchedule } from '@annex/platform';
import { invalidInput } from '../../shared/domain/api-failure.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import {
  type CallsFilter,
  callSeries,
  findProviderServiceId,
  operationStats,
  pruneProviderCalls,
  recentFailures,
  type SeriesRow,
} from '../db/provider-calls.js';

// A provider's health report (docs/provider-portal.md, "Health"): per operation the last
// hour and the last 30 days, the recent failures with what the provider answered, and the
// series the console draws. Three statements, whatever the number of calls.

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** How long calls are kept, and the longest window reported. */
export const PROVIDER_CALLS_RETENTION_DAYS = 30;
const RECENT_FAILURES = 20;

const rate = (errors: number, count: number) => (count === 0 ? 0 : errors / count);
const ms = (value: number | null) => (value === null ? null : Math.round(Number(value) * 10) / 10);

function stats(count: number, errors: number, p50: number | null, p99: number | null): CallStats {
  return { count, errors, errorRate: rate(errors, count), p50Ms: ms(p50), p99Ms: ms(p99) };
}

const EMPTY = stats(0, 0, null, null);

/** `count` buckets of `sizeMs` ending with the one holding `now`, filled from `rows` (others empty). */
function buckets(rows: SeriesRow[], size: 'hour' | 'day', now: Date, count: number): CallBucket[] {
  const sizeMs = size === 'hour' ? HOUR_MS : DAY_MS;
  const last = Math.floor(now.getTime() / sizeMs) * sizeMs;
  const found = new Map(rows.filter((r) => r.size === size).map((r) => [r.bucket.getTime(), r]));
  return Array.from({ length: count }, (_, i) => {
    const start = last - (count - 1 - i) * sizeMs;
    const row = found.get(start);
    const calls = row?.count ?? 0;
    const errors = row?.errors ?? 0;
    return {
      start: new Date(start).toISOString(),
      count: calls,
      errors,
      errorRate: rate(errors, calls),
      p50Ms: ms(row?.p50 ?? null),
    };
  });
}

/**
 * The health of `provider` (optionally of one of its services, by slug) as of `now`.
 * A service the provider does not have is `invalid_input` naming it.
 */
export async function providerHealth(
  ctx: BrokerContext,
  provider: { id: string; slug: string },
  service: string | undefined,
  now: Date = new Date(),
): Promise<ProviderHealth> {
  const filter: CallsFilter = { providerId: provider.id };
  if (service !== undefined) {
    const serviceId = await findProviderServiceId(ctx.db, provider.id, service);
    if (!serviceId) throw invalidInput('service', `provider ${provider.slug} has no service ${service}`);
    filter.serviceId = serviceId;
  }
  const monthSince = new Date(now.getTime() - PROVIDER_CALLS_RETENTION_DAYS * DAY_MS);
  const hourSince = new Date(now.getTime() - HOUR_MS);
  // The series start at the first bucket's start, so that bucket holds all of its calls.
  const hourlySince = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS - 23 * HOUR_MS);
  const dailySince = new Date(
    Math.floor(now.getTime() / DAY_MS) * DAY_MS - (PROVIDER_CALLS_RETENTION_DAYS - 1) * DAY_MS,
  );
  const [byOperation, series, failures] = await Promise.all([
    operationStats(ctx.db, filter, { hourSince, monthSince }),
    callSeries(ctx.db, filter, { hourlySince, dailySince }),
    recentFailures(ctx.db, filter, monthSince, RECENT_FAILURES),
  ]);
  const overall = byOperation.find((row) => row.operation === null);
  return {
    provider: provider.slug,
    service: service ?? null,
    generatedAt: now.toISOString(),
    overall: overall
      ? {
          lastHour: stats(overall.hour_count, overall.hour_errors, overall.hour_p50, overall.hour_p99),
          last30Days: stats(overall.month_count, overall.month_errors, overall.month_p50, overall.month_p99),
        }
      : { lastHour: EMPTY, last30Days: EMPTY },
    operations: byOperation.flatMap((row) =>
      row.operation === null
        ? []
        : [
            {
              operation: row.operation,
              lastHour: stats(row.hour_count, row.hour_errors, row.hour_p50, row.hour_p99),
              last30Days: stats(row.month_count, row.month_errors, row.month_p50, row.month_p99),
            },
          ],
    ),
    failures: failures.map((row) => ({
      operation: row.operation,
      service: row.service,
      outcome: row.outcome as 'error' | 'timeout' | 'unreachable',
      status: row.status,
      latencyMs: row.latency_ms,
      error: row.error,
      description: row.description,
      at: new Date(row.at).toISOString(),
    })),
    hourly: buckets(series, 'hour', now, 24),
    daily: buckets(series, 'day', now, PROVIDER_CALLS_RETENTION_DAYS),
  };
}

/** The job that deletes calls older than the retention, hourly (at :25). */
export function providerCallsPruneJobKind(ctx: BrokerContext): JobKindOptions<Record<string, never>> {
  return {
    maxAttempts: 5,
    backoff: { baseMs: 60_000, maxMs: 15 * 60_000 },
    run: async () => {
      const pruned = await pruneProviderCalls(ctx.db, new Date(Date.now() - PROVIDER_CALLS_RETENTION_DAYS * DAY_MS));
      if (pruned > 0) ctx.logger.info({ pruned }, 'provider calls older than the retention deleted');
    },
  };
}

export const providerCallsPruneSchedule: JobSchedule<'osb.provider-calls.prune'> = {
  kind: 'osb.provider-calls.prune',
  recurrence: hourly(25),
};

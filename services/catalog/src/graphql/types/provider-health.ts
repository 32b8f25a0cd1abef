import type { CallBucket, CallStats, ProviderCallFailure, ProviderHealth } from '@annex/contracts/v1';
import { recentServiceCalls, SERVICE_HEALTH_RULE, serviceHealthOf } from '@annex/platform';
import { builder, type CatalogContext } from '../builder.js';
import { ProviderRef, ServiceRef } from '../refs.js';
import { limitCacheAge } from '../response-cache.js';
import { orGraphQLError } from './app-errors.js';
import { requireProviderAccess } from './provider-access.js';

// A provider's health (docs/provider-portal.md, "Health"): `Provider.health`, the broker's
// record of its calls read from `/v1/providers/:provider/health` with the caller's token (the
// broker checks access again), and the coarse `Service.health` any caller reads before
// attaching, from the same record in the shared database.

/** A cached answer with a service's health is served this long at most. */
export const SERVICE_HEALTH_CACHE_MS = 15_000;

const CallStatsRef = builder.objectRef<CallStats>('CallStats').implement({
  description: 'Provider calls in a window: how many, how many failed, and their latency percentiles.',
  fields: (t) => ({
    count: t.exposeInt('count'),
    errors: t.exposeInt('errors', { description: 'Calls that failed: an error answer, a timeout or no answer.' }),
    errorRate: t.exposeFloat('errorRate', { description: '`errors / count`; 0 without calls.' }),
    p50Ms: t.exposeFloat('p50Ms', { nullable: true, description: 'Median latency in ms; null without calls.' }),
    p99Ms: t.exposeFloat('p99Ms', {
      nullable: true,
      description: '99th percentile latency in ms; null without calls.',
    }),
  }),
});

const CallWindowsRef = builder
  .objectRef<{ lastHour: CallStats; last30Days: CallStats }>('ProviderCallWindows')
  .implement({
    fields: (t) => ({
      lastHour: t.field({ type: CallStatsRef, resolve: (w) => w.lastHour }),
      last30Days: t.field({ type: CallStatsRef, resolve: (w) => w.last30Days }),
    }),
  });

const OperationHealthRef = builder
  .objectRef<ProviderHealth['operations'][number]>('ProviderOperationHealth')
  .implement({
    description: 'One OSB operation the broker calls the provider for.',
    fields: (t) => ({
      operation: t.exposeString('operation', {
        description:
          '`provision`, `update`, `deprovision`, `bind`, `unbind`, `last_operation`, `fetch_instance`, `fetch_binding` or `other`.',
      }),
      lastHour: t.field({ type: CallStatsRef, resolve: (o) => o.lastHour }),
      last30Days: t.field({ type: CallStatsRef, resolve: (o) => o.last30Days }),
    }),
  });

const CallFailureRef = builder.objectRef<ProviderCallFailure>('ProviderCallFailure').implement({
  description: "A failed call to the provider, with what it answered (never a success's body).",
  fields: (t) => ({
    operation: t.exposeString('operation'),
    service: t.exposeString('service', { nullable: true, description: "The service's slug, when the call named one." }),
    outcome: t.exposeString('outcome', { description: '`error` (an answer), `timeout` or `unreachable`.' }),
    status: t.exposeInt('status', {
      nullable: true,
      description: "The provider's HTTP status; null without an answer.",
    }),
    latencyMs: t.exposeInt('latencyMs'),
    error: t.exposeString('error', { nullable: true, description: 'The OSB error key the provider answered.' }),
    description: t.exposeString('description', {
      nullable: true,
      description: 'What the provider said, or why there was no answer (at most 1 KB).',
    }),
    at: t.field({ type: 'DateTime', resolve: (f) => new Date(f.at) }),
  }),
});

const CallBucketRef = builder.objectRef<CallBucket>('ProviderCallBucket').implement({
  description: 'Calls that started in one hour or one day (UTC) of a series.',
  fields: (t) => ({
    start: t.field({ type: 'DateTime', resolve: (b) => new Date(b.start) }),
    count: t.exposeInt('count'),
    errors: t.exposeInt('errors'),
    errorRate: t.exposeFloat('errorRate'),
    p50Ms: t.exposeFloat('p50Ms', { nullable: true }),
  }),
});

const ProviderHealthRef = builder.objectRef<ProviderHealth>('ProviderHealth').implement({
  description:
    "How the broker's calls to a provider went: per operation over the last hour and 30 days, the recent failures, and series for charts.",
  fields: (t) => ({
    service: t.exposeString('service', { nullable: true, description: 'The service it is limited to, if any.' }),
    generatedAt: t.field({ type: 'DateTime', resolve: (h) => new Date(h.generatedAt) }),
    overall: t.field({
      type: CallWindowsRef,
      description: 'Every operation together.',
      resolve: (h) => h.overall,
    }),
    operations: t.field({
      type: [OperationHealthRef],
      description: 'Each operation with a call in the last 30 days, by name.',
      resolve: (h) => h.operations,
    }),
    failures: t.field({
      type: [CallFailureRef],
      description: 'The most recent failed calls (at most 20, last 30 days), newest first.',
      resolve: (h) => h.failures,
    }),
    hourly: t.field({
      type: [CallBucketRef],
      description: 'The last 24 hours, one bucket an hour, oldest first (hours without calls count 0).',
      resolve: (h) => h.hourly,
    }),
    daily: t.field({
      type: [CallBucketRef],
      description: 'The last 30 days, one bucket a day, oldest first (days without calls count 0).',
      resolve: (h) => h.daily,
    }),
  }),
});

builder.objectFields(ProviderRef, (t) => ({
  health: t.field({
    type: ProviderHealthRef,
    // Nullable like every field of a provider's own data: a refusal is an error beside the rest.
    nullable: true,
    description:
      "How the broker's calls to this provider went (docs/provider-portal.md). For this provider's token (`provider:read`) or an admin's; refused to anyone else.",
    args: { service: t.arg.string({ description: "Only this service's calls (its slug)." }) },
    resolve: (provider, args, ctx) =>
      orGraphQLError(async () => {
        limitCacheAge(ctx, 0);
        requireProviderAccess(ctx, provider, 'provider:read');
        const query = args.service ? `?service=${encodeURIComponent(args.service)}` : '';
        return ctx.broker.client.call<ProviderHealth>(
          ctx.broker.bearer,
          'GET',
          `/providers/${encodeURIComponent(provider.slug)}/health${query}`,
          { subject: { kind: 'provider', key: provider.slug } },
        );
      }),
  }),
}));

export const ServiceHealthEnum = builder.enumType('ServiceHealth', {
  description: `How a service's provider has answered lately: over the last ${SERVICE_HEALTH_RULE.windowMinutes} minutes, per operation, FAILING when at least ${SERVICE_HEALTH_RULE.failingMinCalls} calls were made and at least ${SERVICE_HEALTH_RULE.failingRate * 100}% failed, DEGRADED when at least ${SERVICE_HEALTH_RULE.degradedRate * 100}% failed or the 99th percentile latency passed ${SERVICE_HEALTH_RULE.degradedP99Ms} ms; the service is as healthy as its worst operation. OK otherwise, or without calls.`,
  values: {
    OK: { value: 'ok' },
    DEGRADED: { value: 'degraded' },
    FAILING: { value: 'failing' },
  } as const,
});

builder.objectFields(ServiceRef, (t) => ({
  health: t.loadable({
    type: ServiceHealthEnum,
    description: `How the service's provider has answered lately (see ServiceHealth); read before attaching. An answer holding it is cached ${SERVICE_HEALTH_CACHE_MS / 1000} s at most.`,
    load: async (serviceIds: string[], ctx: CatalogContext) => {
      limitCacheAge(ctx, SERVICE_HEALTH_CACHE_MS);
      const recent = await recentServiceCalls(ctx.db, serviceIds);
      return serviceIds.map((id) => serviceHealthOf(recent.get(id)));
    },
    resolve: (service) => service.id,
  }),
}));

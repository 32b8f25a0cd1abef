import * as z from 'zod';

// The provider callback API (`/v1/provider/*`, docs/provider-protocol.md §3): what a provider
// sends the broker with its provider token, and what the broker answers, written once. The
// broker mounts its routes from `PROVIDER_CALLBACKS` and decodes with these schemas, the SDK's
// broker client sends and reads by their types, and the broker's OpenAPI document
// (`GET /openapi.json`) is generated from them. They live in the SDK, which is published, so
// that a provider built outside this repository has them (like the OSB contract, osb/contract.ts).

// The broker's rule for ids and names (@annex/contracts' `idString`, which this published
// package cannot import): non-empty, bounded, no control characters.
const CONTROL_CHARACTER = /\p{Cc}/u;
const id = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((value) => !CONTROL_CHARACTER.test(value), 'must not contain control characters');

/**
 * One metered usage record (`POST /v1/provider/usage`); `idempotencyKey` makes re-sending it harmless.
 *
 * @example
 * usageRecord.parse({ idempotencyKey: 'req-42', instanceId, unit: '1k_tokens', quantity: 3, at: new Date().toISOString() });
 */
export const usageRecord = z.object({
  idempotencyKey: id(200),
  instanceId: id(100),
  /** One of the plan's metered units, e.g. `1k_tokens`. */
  unit: id(100),
  quantity: z.number().finite().min(0),
  /** When the usage happened (ISO time). */
  at: z.string().min(1).max(64),
});

/**
 * `POST /v1/provider/usage`: up to 1,000 records at once.
 *
 * @example
 * usageReportRequest.parse({ records: [record] });
 */
export const usageReportRequest = z.object({ records: z.array(usageRecord).min(1).max(1000) });

/**
 * The broker's answer to a usage report (202): records newly accepted, and those it had already.
 *
 * @example
 * const { accepted, duplicates } = usageReportAnswer.parse(await response.json());
 */
export const usageReportAnswer = z.object({ accepted: z.number().int(), duplicates: z.number().int() });

/**
 * `POST /v1/provider/instances/:instance/config`: config vars the provider pushes for an
 * instance (credential rotation, a changed URL), and why.
 *
 * @example
 * providerConfigRequest.parse({ config: { DATABASE_URL: url }, reason: 'credential rotation' });
 */
export const providerConfigRequest = z.object({
  config: z.record(z.string(), z.string().max(65_536)),
  reason: z.string().max(500).default(''),
});

/**
 * The broker's answer to a config push: the release it made in each app the instance is attached to.
 *
 * @example
 * const { releases } = providerConfigAnswer.parse(await response.json());
 */
export const providerConfigAnswer = z.object({
  releases: z.array(z.object({ app: z.string(), version: z.number().int() })),
});

/**
 * `POST /v1/provider/operations/:operation/complete`: an async operation ended, reported
 * before the broker's next poll.
 *
 * @example
 * operationCompletionRequest.parse({ state: 'succeeded' });
 */
export const operationCompletionRequest = z.object({
  state: z.enum(['succeeded', 'failed']),
  description: z.string().max(10_000).default(''),
});

/**
 * The broker's answer to a completion (202): how many of its operations the report touched.
 *
 * @example
 * const { operations } = operationCompletionAnswer.parse(await response.json());
 */
export const operationCompletionAnswer = z.object({ operations: z.number().int() });

/**
 * `GET /v1/provider/instances/:instance/allowance?unit=…`: the query.
 *
 * @example
 * allowanceQuery.parse({ unit: '1k_tokens' });
 */
export const allowanceQuery = z.object({ unit: z.string().min(1) });

/**
 * The broker's answer to an allowance check (spend caps): whether the instance's owner may
 * consume more of the unit, how much remains under a cap, and why not when it may not.
 *
 * @example
 * const { allowed } = allowanceAnswer.parse(await response.json());
 */
export const allowanceAnswer = z.object({
  allowed: z.boolean(),
  remaining: z.number().optional(),
  reason: z.string().optional(),
});

/**
 * The body of a refused callback: the OSB error shape (`error`, `description`).
 *
 * @example
 * const { description } = callbackError.parse(await response.json());
 */
export const callbackError = z.object({
  error: z.string(),
  description: z.string(),
  instance_usable: z.boolean().optional(),
  update_repeatable: z.boolean().optional(),
});

/**
 * The callback API's routes, as the broker mounts them, each with its request body or query,
 * its answer and the statuses of its successful answers; a refusal answers `callbackError`
 * with one of `CALLBACK_ERROR_STATUSES`.
 *
 * @example
 * const { answer } = PROVIDER_CALLBACKS['POST /v1/provider/usage'];
 * const { accepted } = answer.parse(await response.json());
 */
export const PROVIDER_CALLBACKS = {
  'POST /v1/provider/operations/:operation/complete': {
    request: operationCompletionRequest,
    answer: operationCompletionAnswer,
    statuses: [202],
  },
  'POST /v1/provider/instances/:instance/config': {
    request: providerConfigRequest,
    answer: providerConfigAnswer,
    statuses: [200],
  },
  'POST /v1/provider/usage': { request: usageReportRequest, answer: usageReportAnswer, statuses: [202] },
  'GET /v1/provider/instances/:instance/allowance': { query: allowanceQuery, answer: allowanceAnswer, statuses: [200] },
} as const;

/**
 * A route of the provider callback API, e.g. `POST /v1/provider/usage`.
 *
 * @example
 * const route: ProviderCallbackRoute = 'POST /v1/provider/usage';
 */
export type ProviderCallbackRoute = keyof typeof PROVIDER_CALLBACKS;

/**
 * Every status a refused callback may have: the OSB error keys' (400, 404, 409, 410, 422, 502),
 * no or a wrong token (401), a body too large (413) or not UTF-8 JSON (415), an internal error
 * (500) and the broker's database unreachable (503, with `Retry-After`).
 *
 * @example
 * CALLBACK_ERROR_STATUSES.includes(response.status);
 */
export const CALLBACK_ERROR_STATUSES: readonly number[] = [400, 401, 404, 409, 410, 413, 415, 422, 500, 502, 503];

export type UsageRecord = z.infer<typeof usageRecord>;
export type UsageReportRequest = z.infer<typeof usageReportRequest>;
export type UsageReportAnswer = z.infer<typeof usageReportAnswer>;
export type ProviderConfigRequest = z.input<typeof providerConfigRequest>;
export type ProviderConfigAnswer = z.infer<typeof providerConfigAnswer>;
export type OperationCompletionRequest = z.input<typeof operationCompletionRequest>;
export type OperationCompletionAnswer = z.infer<typeof operationCompletionAnswer>;
export type AllowanceAnswer = z.infer<typeof allowanceAnswer>;
export type CallbackError = z.infer<typeof callbackError>;

import { randomBytes, randomUUID } from 'node:crypto';
import { MAX_WEBHOOK_SECRET_OVERLAP_SECONDS } from '@annex/contracts/v1';
import {
  OutboundAbortedError,
  type OutboundPolicy,
  type OutboundResponse,
  OutboundTimeoutError,
  outboundRequest,
  outboundUrlProblem,
  PrivateAddressError,
  retryDelayMs,
  type SecretBox,
} from '@annex/platform';
import type { Executor } from '../../shared/db/executor.js';
import {
  type AttemptRecord,
  type DeliveryLogRow,
  type DeliveryRow,
  type DeliveryVisibility,
  findPlatformWebhook,
  findVisibleDelivery,
  insertDeliveries,
  listVisibleDeliveries,
  listWebhookReceivers,
  recordDeliveryAttempt,
  replacePlatformWebhookSecret,
  setPlatformWebhook,
} from '../db/webhooks.js';
import { signWebhook, WEBHOOK_SECRET_PREFIX } from './webhook-signatures.js';

/**
 * Signed webhooks toward platforms (docs/apps.md, "Webhooks"): the platforms' webhook
 * settings, enqueueing deliveries, recording attempts, the delivery log and one HTTP attempt.
 * Signing and verification are in webhook-signatures.ts, the statements in db/webhooks.ts,
 * the worker loop in webhook-worker.ts, the REST routes in webhooks.router.ts.
 */

// What the routes and the module's index take from here: statements needing no decision, and signing.
export {
  type DeliveryRow,
  type DeliveryVisibility,
  deliveryTargetUrl,
  redeliverWebhook,
  removePlatformWebhook,
} from '../db/webhooks.js';
export {
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  signWebhook,
  verifyWebhookSignature,
  type WebhookHeaders,
  type WebhookMessage,
  WebhookSignatureError,
  type WebhookSignatureProblem,
  webhookSecretKey,
} from './webhook-signatures.js';

/** The only event type so far. */
export const CONFIG_VARS_CHANGED = 'app.config_vars.changed';
/** Backoff never waits longer than this between two attempts. */
export const MAX_WEBHOOK_RETRY_DELAY_MS = 3_600_000;

/**
 * A new webhook secret in the Standard Webhooks form: `whsec_` and 32 random bytes in
 * standard base64. (Secrets issued before were base64url; see webhookSecretKey.)
 */
export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** What is wrong with a webhook URL, or null when it is usable. */
export function webhookUrlProblem(url: unknown, policy: OutboundPolicy): string | null {
  return webhookUrlSyntaxProblem(url) ?? outboundUrlProblem(new URL(url as string), policy);
}

/** What is wrong with `url` as a webhook URL on any network; null when nothing. */
function webhookUrlSyntaxProblem(url: unknown): string | null {
  if (typeof url !== 'string' || url.trim() === '') return 'must be an http(s) URL';
  if (url.length > 2048) return 'must be at most 2048 characters';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url}" is not a URL`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return `must use http or https, not ${parsed.protocol.replace(/:$/, '')}`;
  }
  if (parsed.hash) return 'must not contain a #fragment';
  return null;
}

// ── Platform webhook settings ─────────────────────────────────────────────────────────

/**
 * Sets a platform's webhook URL with a new secret (sealed at rest) and returns the secret:
 * the only time it is shown. Throws when the URL is unusable.
 */
export async function configurePlatformWebhook(
  db: Executor,
  secretBox: SecretBox,
  platformId: string,
  url: string,
): Promise<{ url: string; secret: string }> {
  // Where it may point is the caller's to check (webhookUrlProblem), and again at delivery.
  const problem = webhookUrlSyntaxProblem(url);
  if (problem) throw new Error(`url: ${problem}`);
  const secret = generateWebhookSecret();
  const changed = await setPlatformWebhook(db, platformId, url, secretBox.seal(secret));
  if (!changed) throw new Error(`platform ${platformId} not found`);
  return { url, secret };
}

/** The longest a previous secret may keep signing after a rotation: 7 days. */
export { MAX_WEBHOOK_SECRET_OVERLAP_SECONDS };

/**
 * Gives a platform's webhook a new secret and returns it (the only time it is shown). The
 * current secret keeps signing deliveries beside the new one for `overlapSeconds` (0: it
 * stops at once), so receivers can switch without rejecting anything; a rotation during an
 * overlap drops the oldest secret. Undefined when the platform has no webhook.
 */
export async function rotatePlatformWebhookSecret(
  db: Executor,
  secretBox: SecretBox,
  platformId: string,
  overlapSeconds: number,
): Promise<{ url: string; secret: string; previousSecretExpiresAt: string | null } | undefined> {
  if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > MAX_WEBHOOK_SECRET_OVERLAP_SECONDS) {
    throw new Error(`overlapSeconds: must be a whole number from 0 to ${MAX_WEBHOOK_SECRET_OVERLAP_SECONDS}`);
  }
  const secret = generateWebhookSecret();
  const row = await replacePlatformWebhookSecret(db, platformId, secretBox.seal(secret), overlapSeconds);
  if (!row?.webhook_url) return undefined;
  return {
    url: row.webhook_url,
    secret,
    previousSecretExpiresAt: row.webhook_previous_secret_expires_at?.toISOString() ?? null,
  };
}

/** A platform's webhook as it may be shown: the URL, and until when a previous secret still signs. */
export async function platformWebhook(
  db: Executor,
  platformId: string,
): Promise<{ url: string | null; previousSecretExpiresAt: string | null }> {
  const row = await findPlatformWebhook(db, platformId);
  return { url: row?.webhook_url ?? null, previousSecretExpiresAt: row?.expires_at?.toISOString() ?? null };
}

// ── Enqueueing ───────────────────────────────────────────────────────────────────────

export interface ConfigVarsChangedEvent {
  appId: string;
  appName: string;
  organizationId: string;
  /** The version of the release that changed the vars. */
  release: number;
  /** Names of the vars added, changed or removed (never values). */
  changed: string[];
}

/** The JSON body of an `app.config_vars.changed` delivery. */
export interface ConfigVarsChangedPayload {
  id: string;
  type: typeof CONFIG_VARS_CHANGED;
  app: string;
  release: number;
  changed: string[];
  createdAt: string;
}

/**
 * Enqueues one pending `app.config_vars.changed` delivery per platform that acts for the
 * app's organization and has a webhook URL (never the built-in `annex-apps`). Call it in
 * the transaction that creates the release, so a rolled-back release notifies nobody.
 * Returns how many deliveries were enqueued.
 */
export async function enqueueConfigVarsChanged(db: Executor, event: ConfigVarsChangedEvent): Promise<number> {
  if (!Number.isSafeInteger(event.release) || event.release < 1) {
    throw new Error(`release: must be a positive whole number, got ${String(event.release)}`);
  }
  if (!Array.isArray(event.changed) || event.changed.some((name) => typeof name !== 'string')) {
    throw new Error('changed: must be a list of var names');
  }
  if (typeof event.appName !== 'string' || event.appName === '') throw new Error('appName: must not be empty');
  const platforms = await listWebhookReceivers(db, event.organizationId);
  if (platforms.length === 0) return 0;
  const rows = platforms.map((platform) => {
    const id = randomUUID();
    const payload: ConfigVarsChangedPayload = {
      id,
      type: CONFIG_VARS_CHANGED,
      app: event.appName,
      release: event.release,
      changed: [...event.changed],
      createdAt: new Date(platform.now).toISOString(),
    };
    return {
      id,
      platform_id: platform.id,
      app_id: event.appId,
      release_version: event.release,
      event_type: CONFIG_VARS_CHANGED,
      payload: JSON.stringify(payload),
    };
  });
  await insertDeliveries(db, rows);
  return rows.length;
}

// ── Recording attempts ───────────────────────────────────────────────────────────────

/** The delay before attempt `attempts + 1`: the platform's one retry policy, capped at one hour. */
export function webhookRetryDelayMs(attempts: number, retryBaseMs: number, random: () => number = Math.random): number {
  return retryDelayMs(attempts, { baseMs: retryBaseMs, maxMs: MAX_WEBHOOK_RETRY_DELAY_MS }, 0, random);
}

/** The result of one HTTP attempt. */
export type DeliveryOutcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'failed'; status: number | null; error: string }
  /** The worker stopped mid-request: the attempt does not count. */
  | { kind: 'interrupted' };

/**
 * Records an attempt's outcome, only while `owner` still holds the lease (a retaken row is
 * never overwritten). A failure is retried after {@link webhookRetryDelayMs}, or ends the
 * delivery as `failed` once `maxAttempts` were made. Returns the new state, or undefined
 * when the lease was lost.
 */
export async function recordDeliveryOutcome(
  db: Executor,
  delivery: Pick<DeliveryRow, 'id' | 'attempts'>,
  owner: string,
  outcome: DeliveryOutcome,
  policy: { maxAttempts: number; retryBaseMs: number },
): Promise<DeliveryRow['state'] | undefined> {
  let attempt: AttemptRecord;
  if (outcome.kind === 'failed') {
    const exhausted = delivery.attempts >= policy.maxAttempts;
    const delayMs = webhookRetryDelayMs(delivery.attempts, policy.retryBaseMs);
    attempt = { ...outcome, error: outcome.error.slice(0, 1_000), exhausted, delayMs };
  } else {
    attempt = outcome;
  }
  return recordDeliveryAttempt(db, delivery.id, owner, attempt);
}

// ── One HTTP attempt ─────────────────────────────────────────────────────────────────

/** Where one attempt goes: the URL, the current secret and, during a rotation's overlap, the previous one. */
export interface DeliveryTarget {
  url: string;
  secret: string;
  previousSecret?: string | null;
}

export interface AttemptOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  now?: () => Date;
  /** Where the URL may point (default: anywhere). */
  policy?: OutboundPolicy;
}

/**
 * POSTs a delivery's payload once, signed with `secret` (and a previous one during a
 * rotation) at the current time, with the Standard Webhooks headers. 2xx is
 * delivered; any other status (redirects are not followed), a network error or no answer
 * within `timeoutMs` is a failed attempt. Aborting `signal` gives `interrupted`. A URL that
 * `policy` refuses (a private address, see OutboundPolicy) is a failed attempt that sends
 * nothing. Never throws; never puts the secret in an error.
 */
export async function deliverOnce(
  target: DeliveryTarget,
  delivery: { id: string; payload: unknown },
  options: AttemptOptions,
): Promise<DeliveryOutcome> {
  try {
    return await attemptDelivery(target, delivery, options);
  } catch (error) {
    // Building the request failed (nothing was sent): a failed attempt, counted like any other.
    return { kind: 'failed', status: null, error: `could not send the delivery: ${(error as Error).message}` };
  }
}

async function attemptDelivery(
  target: DeliveryTarget,
  delivery: { id: string; payload: unknown },
  options: AttemptOptions,
): Promise<DeliveryOutcome> {
  const policy = options.policy ?? { allowPrivateNetworks: true };
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    return { kind: 'failed', status: null, error: 'the webhook URL is not a URL' };
  }
  const problem = webhookUrlProblem(target.url, policy);
  if (problem) return { kind: 'failed', status: null, error: `the webhook URL ${problem}` };
  if (options.signal?.aborted) return { kind: 'interrupted' };
  const body = JSON.stringify(delivery.payload);
  const timestamp = Math.floor((options.now?.() ?? new Date()).getTime() / 1000);
  let response: OutboundResponse;
  try {
    response = await outboundRequest(url, {
      method: 'POST',
      body,
      policy,
      timeoutMs: options.timeoutMs,
      // The start of the body is a hint for the delivery log, never more.
      maxBytes: 200,
      overflow: 'truncate',
      ...(options.signal ? { signal: options.signal } : {}),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'annex-webhooks/1',
        // Standard Webhooks: the id is the delivery's, the same on every attempt.
        'webhook-id': delivery.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(
          target.previousSecret ? [target.secret, target.previousSecret] : target.secret,
          { id: delivery.id, timestamp, body },
        ),
      },
    });
  } catch (error) {
    if (error instanceof OutboundAbortedError) return { kind: 'interrupted' };
    if (error instanceof OutboundTimeoutError) return { kind: 'failed', status: null, error: error.message };
    const reason =
      error instanceof PrivateAddressError
        ? error.message
        : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
    return { kind: 'failed', status: null, error: `could not reach the receiver: ${reason}` };
  }
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  const snippet = response.body.replace(/\s+/g, ' ').trim().slice(0, 200);
  return { kind: 'failed', status, error: `the receiver answered HTTP ${status}${snippet ? `: ${snippet}` : ''}` };
}

// ── The delivery log ─────────────────────────────────────────────────────────────────

/** A delivery as the `/v1/webhook-deliveries` API shows it. */
export interface WebhookDelivery {
  id: string;
  app: string;
  platform: string;
  event: string;
  release: number | null;
  state: DeliveryRow['state'];
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  /** When the next attempt is due; null once delivered or failed. */
  nextAttemptAt: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

const iso = (value: Date | string | null): string | null => (value === null ? null : new Date(value).toISOString());
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toDelivery(row: DeliveryLogRow): WebhookDelivery {
  return {
    id: row.id,
    app: row.app,
    platform: row.platform,
    event: row.event_type,
    release: row.release_version,
    state: row.state,
    attempts: row.attempts,
    lastStatus: row.last_status,
    lastError: row.last_error,
    nextAttemptAt: row.state === 'pending' ? iso(row.next_attempt_at) : null,
    createdAt: iso(row.created_at) as string,
    deliveredAt: iso(row.delivered_at),
  };
}

/** The newest deliveries (at most `limit`) the caller may see, optionally of one app (by id) or state. */
export async function listWebhookDeliveries(
  db: Executor,
  visibility: DeliveryVisibility,
  filter: { appId?: string; state?: DeliveryRow['state']; limit?: number } = {},
): Promise<WebhookDelivery[]> {
  const rows = await listVisibleDeliveries(db, visibility, filter);
  return rows.map(toDelivery);
}

export async function findWebhookDelivery(
  db: Executor,
  visibility: DeliveryVisibility,
  id: string,
): Promise<WebhookDelivery | undefined> {
  if (!UUID.test(id)) return undefined;
  const row = await findVisibleDelivery(db, visibility, id);
  return row && toDelivery(row);
}

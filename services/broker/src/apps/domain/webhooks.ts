import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
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
  type WebhookDeliveriesTable,
} from '@annex/platform';
import { type Selectable, sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

/**
 * Signed webhooks toward platforms (docs/apps.md, "Webhooks"): signing and verification,
 * the delivery rows (enqueue, lease, record, list, redeliver) and one HTTP attempt.
 * The worker loop is in webhook-worker.ts, the REST routes in webhooks.router.ts.
 */

/** The only event type so far. */
export const CONFIG_VARS_CHANGED = 'app.config_vars.changed';
/** Receivers reject signatures older (or newer) than this by default. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;
/** The built-in platform of the apps layer: it is not a receiver of anything. */
const BUILT_IN_PLATFORM = 'annex-apps';
/** Backoff never waits longer than this between two attempts. */
export const MAX_WEBHOOK_RETRY_DELAY_MS = 3_600_000;
const SIGNATURE_SCHEME = 'v1';

export type WebhookSignatureProblem = 'missing_header' | 'malformed' | 'timestamp' | 'mismatch' | 'secret';

/** Why a webhook's signature was rejected; `message` says what is wrong. */
export class WebhookSignatureError extends Error {
  constructor(
    readonly problem: WebhookSignatureProblem,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookSignatureError';
  }
}

function hmacHex(secret: string, timestamp: number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/**
 * The `Annex-Signature` header for a body sent at `timestamp` (Unix seconds):
 * `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`, with one `v1=` per secret
 * when given several (during a rotation's overlap: the new secret first).
 *
 * @example
 * const header = signWebhook('whsec_…', Math.floor(Date.now() / 1000), body);
 */
export function signWebhook(secret: string | readonly string[], timestamp: number, body: string): string {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new Error('webhook secret: must be a non-empty string');
  }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new Error(`webhook timestamp: must be a whole number of Unix seconds, got ${String(timestamp)}`);
  }
  const signatures = secrets.map((s) => `${SIGNATURE_SCHEME}=${hmacHex(s, timestamp, body)}`);
  return `t=${timestamp},${signatures.join(',')}`;
}

/**
 * Checks a received webhook: the header parses, its timestamp is within `toleranceSeconds`
 * (default 300) of `now` in either direction, and one of its `v1=` signatures is the
 * HMAC of `"<t>.<body>"` with `secret` (several are accepted, for secret rotation).
 * Compares in constant time. `body` must be the raw bytes received, not re-serialized JSON.
 * Throws a {@link WebhookSignatureError} naming what is wrong.
 *
 * @example
 * verifyWebhookSignature({ secret, header: req.headers['annex-signature'], body: rawBody });
 */
export function verifyWebhookSignature(input: {
  secret: string;
  header: string | readonly string[] | null | undefined;
  body: string | Uint8Array;
  toleranceSeconds?: number;
  now?: Date;
}): void {
  const tolerance = input.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  if (typeof input.secret !== 'string' || input.secret.length === 0) {
    throw new WebhookSignatureError('secret', 'webhook secret: must be a non-empty string');
  }
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new WebhookSignatureError('secret', `toleranceSeconds: must be a non-negative number, got ${tolerance}`);
  }
  const header = Array.isArray(input.header) ? input.header.join(',') : (input.header as string | null | undefined);
  if (header === undefined || header === null || header.trim() === '') {
    throw new WebhookSignatureError('missing_header', 'the Annex-Signature header is missing');
  }
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0)
      throw new WebhookSignatureError('malformed', `Annex-Signature is malformed: "${item}" is not key=value`);
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (key === 't') {
      if (timestamp !== undefined) throw new WebhookSignatureError('malformed', 'Annex-Signature is malformed: two t=');
      if (!/^\d{1,15}$/.test(value)) {
        throw new WebhookSignatureError('malformed', 'Annex-Signature is malformed: t= is not Unix seconds');
      }
      timestamp = Number(value);
    } else if (key === SIGNATURE_SCHEME) {
      if (!/^[0-9a-f]{64}$/i.test(value)) {
        throw new WebhookSignatureError('malformed', 'Annex-Signature is malformed: v1= is not 64 hex digits');
      }
      signatures.push(Buffer.from(value, 'hex'));
    }
    // Other schemes are ignored so that a future v2 can be sent beside v1.
  }
  if (timestamp === undefined) throw new WebhookSignatureError('malformed', 'Annex-Signature is malformed: no t=');
  if (signatures.length === 0) throw new WebhookSignatureError('malformed', 'Annex-Signature is malformed: no v1=');
  const nowSeconds = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const skew = nowSeconds - timestamp;
  if (Math.abs(skew) > tolerance) {
    throw new WebhookSignatureError(
      'timestamp',
      `the Annex-Signature timestamp is outside the tolerance of ${tolerance} s (${
        skew > 0 ? `${skew} s old` : `${-skew} s in the future`
      })`,
    );
  }
  const expected = Buffer.from(hmacHex(input.secret, timestamp, input.body), 'hex');
  // Check every entry (no early exit) so the time taken does not depend on which one matched.
  let matched = false;
  for (const signature of signatures) {
    if (timingSafeEqual(signature, expected)) matched = true;
  }
  if (!matched) {
    throw new WebhookSignatureError('mismatch', 'the Annex-Signature signature does not match the body and secret');
  }
}

/** A new webhook secret: `whsec_` and 32 random bytes, base64url. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
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
  const row = await db
    .updateTable('platforms')
    .set({
      webhook_url: url,
      webhook_secret_sealed: secretBox.seal(secret),
      webhook_previous_secret_sealed: null,
      webhook_previous_secret_expires_at: null,
    })
    .where('id', '=', platformId)
    .where('slug', '<>', BUILT_IN_PLATFORM)
    .returning('id')
    .executeTakeFirst();
  if (!row) throw new Error(`platform ${platformId} not found`);
  return { url, secret };
}

/** The longest a previous secret may keep signing after a rotation: 7 days. */
export const MAX_WEBHOOK_SECRET_OVERLAP_SECONDS = 7 * 86_400;

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
  const keep = overlapSeconds > 0;
  const row = await db
    .updateTable('platforms')
    .set({
      webhook_secret_sealed: secretBox.seal(secret),
      // The right-hand sides read the row as it was: the current secret becomes the previous one.
      webhook_previous_secret_sealed: keep ? sql<string>`webhook_secret_sealed` : null,
      webhook_previous_secret_expires_at: keep ? sql<Date>`now() + ${`${overlapSeconds} seconds`}::interval` : null,
    })
    .where('id', '=', platformId)
    .where('webhook_url', 'is not', null)
    .returning(['webhook_url', 'webhook_previous_secret_expires_at'])
    .executeTakeFirst();
  if (!row?.webhook_url) return undefined;
  return {
    url: row.webhook_url,
    secret,
    previousSecretExpiresAt: row.webhook_previous_secret_expires_at?.toISOString() ?? null,
  };
}

export async function removePlatformWebhook(db: Executor, platformId: string): Promise<void> {
  await db
    .updateTable('platforms')
    .set({
      webhook_url: null,
      webhook_secret_sealed: null,
      webhook_previous_secret_sealed: null,
      webhook_previous_secret_expires_at: null,
    })
    .where('id', '=', platformId)
    .execute();
}

/** A platform's webhook as it may be shown: the URL, and until when a previous secret still signs. */
export async function platformWebhook(
  db: Executor,
  platformId: string,
): Promise<{ url: string | null; previousSecretExpiresAt: string | null }> {
  const row = await db
    .selectFrom('platforms')
    .select([
      'webhook_url',
      sql<Date | null>`case when webhook_previous_secret_expires_at > now()
        then webhook_previous_secret_expires_at end`.as('expires_at'),
    ])
    .where('id', '=', platformId)
    .executeTakeFirst();
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
  const platforms = await db
    .selectFrom('platform_organizations as po')
    .innerJoin('platforms as p', 'p.id', 'po.platform_id')
    .select(['p.id', sql<Date>`now()`.as('now')])
    .where('po.organization_id', '=', event.organizationId)
    .where('p.webhook_url', 'is not', null)
    .where('p.slug', '<>', BUILT_IN_PLATFORM)
    .execute();
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
  await db.insertInto('webhook_deliveries').values(rows).execute();
  return rows.length;
}

// ── Leasing and recording attempts ───────────────────────────────────────────────────

export type DeliveryRow = Selectable<WebhookDeliveriesTable>;

/** A leased delivery with where and how to send it (URL and secrets as they are now). */
export interface LeasedDelivery extends DeliveryRow {
  webhook_url: string | null;
  webhook_secret_sealed: string | null;
  /** The secret before the last rotation while it still signs; null otherwise. */
  webhook_previous_secret_sealed: string | null;
}

/**
 * Leases up to `limit` due pending deliveries for `owner` (rows whose lease, if any, has
 * expired: a crashed replica's rows come back) and counts the attempt. `FOR UPDATE SKIP
 * LOCKED` lets every replica claim at once without two claiming the same row.
 */
export async function claimDueDeliveries(
  db: Executor,
  owner: string,
  leaseMs: number,
  limit: number,
): Promise<LeasedDelivery[]> {
  if (limit <= 0) return [];
  const result = await sql<LeasedDelivery>`
    with claimed as (
      update webhook_deliveries
      set lease_owner = ${owner},
          lease_expires_at = now() + ${`${leaseMs} milliseconds`}::interval,
          attempts = attempts + 1
      where id in (
        select id from webhook_deliveries
        where state = 'pending'
          and next_attempt_at <= now()
          and (lease_expires_at is null or lease_expires_at < now())
        order by next_attempt_at
        limit ${limit}
        for update skip locked
      )
      returning *
    )
    select claimed.*, p.webhook_url, p.webhook_secret_sealed,
      case when p.webhook_previous_secret_expires_at > now() then p.webhook_previous_secret_sealed end
        as webhook_previous_secret_sealed
    from claimed join platforms p on p.id = claimed.platform_id
    order by claimed.next_attempt_at`.execute(db);
  return result.rows;
}

/**
 * When the webhook worker has something to look at next: the earliest pending delivery's
 * attempt, or the end of a lease on one (its holder may have died). Null when none is pending.
 */
export async function nextDeliveryDueAt(db: Executor): Promise<Date | null> {
  const row = await db
    .selectFrom('webhook_deliveries')
    .select(sql<Date | null>`min(greatest(next_attempt_at, coalesce(lease_expires_at, next_attempt_at)))`.as('next'))
    .where('state', '=', 'pending')
    .executeTakeFirst();
  return row?.next ?? null;
}

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
  const leased = db
    .updateTable('webhook_deliveries')
    .where('id', '=', delivery.id)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'pending');
  const released = { lease_owner: null, lease_expires_at: null };
  let query: typeof leased;
  if (outcome.kind === 'delivered') {
    query = leased.set({
      ...released,
      state: 'delivered',
      last_status: outcome.status,
      last_error: null,
      delivered_at: sql<Date>`now()`,
    });
  } else if (outcome.kind === 'interrupted') {
    query = leased.set({
      ...released,
      attempts: sql<number>`greatest(attempts - 1, 0)`,
      next_attempt_at: sql<Date>`now()`,
    });
  } else {
    const exhausted = delivery.attempts >= policy.maxAttempts;
    const delayMs = webhookRetryDelayMs(delivery.attempts, policy.retryBaseMs);
    query = leased.set({
      ...released,
      state: exhausted ? 'failed' : 'pending',
      last_status: outcome.status,
      last_error: outcome.error.slice(0, 1_000),
      next_attempt_at: exhausted ? sql<Date>`now()` : sql<Date>`now() + ${`${delayMs} milliseconds`}::interval`,
    });
  }
  const row = await query.returning('state').executeTakeFirst();
  return row?.state;
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
 * POSTs a delivery's payload once, signed with `secret` at the current time. 2xx is
 * delivered; any other status (redirects are not followed), a network error or no answer
 * within `timeoutMs` is a failed attempt. Aborting `signal` gives `interrupted`. A URL that
 * `policy` refuses (a private address, see OutboundPolicy) is a failed attempt that sends
 * nothing. Never throws; never puts the secret in an error.
 */
export async function deliverOnce(
  target: DeliveryTarget,
  delivery: { id: string; eventType: string; payload: unknown },
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
  delivery: { id: string; eventType: string; payload: unknown },
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
        'annex-signature': signWebhook(
          target.previousSecret ? [target.secret, target.previousSecret] : target.secret,
          timestamp,
          body,
        ),
        'annex-delivery': delivery.id,
        'annex-event': delivery.eventType,
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

/** Whose deliveries a caller may see: a platform its own (for orgs it still acts for), else by organization. */
export interface DeliveryVisibility {
  platformId?: string;
  organizationIds: readonly string[] | 'all';
}

const iso = (value: Date | string | null): string | null => (value === null ? null : new Date(value).toISOString());
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function visibleDeliveries(db: Executor, visibility: DeliveryVisibility) {
  let query = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('apps as a', 'a.id', 'd.app_id')
    .innerJoin('platforms as p', 'p.id', 'd.platform_id')
    .select([
      'd.id',
      'a.name as app',
      'p.slug as platform',
      'd.event_type',
      'd.release_version',
      'd.state',
      'd.attempts',
      'd.last_status',
      'd.last_error',
      'd.next_attempt_at',
      'd.created_at',
      'd.delivered_at',
    ]);
  if (visibility.platformId !== undefined) query = query.where('d.platform_id', '=', visibility.platformId);
  if (visibility.organizationIds !== 'all') {
    const ids = [...visibility.organizationIds];
    // An empty `in ()` is invalid SQL; no organization means nothing visible.
    query = ids.length > 0 ? query.where('a.organization_id', 'in', ids) : query.where(sql<boolean>`false`);
  }
  return query;
}

type VisibleRow = Awaited<ReturnType<ReturnType<typeof visibleDeliveries>['execute']>>[number];

function toDelivery(row: VisibleRow): WebhookDelivery {
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
  let query = visibleDeliveries(db, visibility);
  if (filter.appId !== undefined) query = query.where('d.app_id', '=', filter.appId);
  if (filter.state !== undefined) query = query.where('d.state', '=', filter.state);
  const rows = await query
    .orderBy('d.created_at', 'desc')
    .orderBy('d.id', 'desc')
    .limit(filter.limit ?? 100)
    .execute();
  return rows.map(toDelivery);
}

export async function findWebhookDelivery(
  db: Executor,
  visibility: DeliveryVisibility,
  id: string,
): Promise<WebhookDelivery | undefined> {
  if (!UUID.test(id)) return undefined;
  const row = await visibleDeliveries(db, visibility).where('d.id', '=', id).executeTakeFirst();
  return row && toDelivery(row);
}

/**
 * Makes a delivery pending and due now, keeping its attempt count (the log shows the
 * history). A delivery that had failed gets one more attempt; one still pending keeps its
 * remaining ones. A lease in force is kept, so a delivery being sent is not sent twice at once.
 */
export async function redeliverWebhook(db: Executor, id: string): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({ state: 'pending', next_attempt_at: sql<Date>`now()`, delivered_at: null })
    .where('id', '=', id)
    .execute();
}

/** The webhook URL of the platform a delivery goes to (null when it has none any more). */
export async function deliveryTargetUrl(db: Executor, id: string): Promise<string | null> {
  const row = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('platforms as p', 'p.id', 'd.platform_id')
    .select('p.webhook_url')
    .where('d.id', '=', id)
    .executeTakeFirst();
  return row?.webhook_url ?? null;
}

import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures as the Standard Webhooks specification defines them (docs/apps.md,
 * "Webhooks"): how the broker signs a delivery and how a receiver verifies one. Any
 * Standard Webhooks library (the `standardwebhooks` npm package, its ports) verifies what
 * `signWebhook` produces; `verifyWebhookSignature` is the same check for receivers on Node.
 *
 * A delivery carries three headers: `webhook-id` (the delivery's id, the same on every
 * attempt), `webhook-timestamp` (Unix seconds of the attempt) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, several space-separated during
 * a secret rotation). The HMAC key is the bytes a `whsec_<base64>` secret decodes to.
 */

/** Receivers reject signatures older (or newer) than this by default. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;
export const WEBHOOK_SECRET_PREFIX = 'whsec_';
const SIGNATURE_VERSION = 'v1';
// The specification's bounds on a symmetric key: 24 to 64 bytes.
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;
// Both alphabets: secrets issued before the broker followed Standard Webhooks are base64url.
const SECRET_BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
// A v1 signature: the standard base64 of a 32-byte HMAC-SHA256.
const V1_SIGNATURE = /^[A-Za-z0-9+/]{43}=$/;
// The id is part of the signed content; a `.` in it would make "<id>.<timestamp>" ambiguous.
const WEBHOOK_ID = /^[^\s.]{1,255}$/;

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

/**
 * The HMAC key of a webhook secret: the bytes that the base64 after `whsec_` decodes to.
 * Secrets are issued as `whsec_` + standard base64; those issued earlier are base64url
 * of the same kind of bytes, and decode here to the same key. Throws naming what is wrong.
 */
export function webhookSecretKey(secret: string): Buffer {
  if (typeof secret !== 'string' || !secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
    throw new Error('webhook secret: must start with whsec_');
  }
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  // A length of 4n + 1 base64 characters cannot be produced by any byte string.
  if (!SECRET_BASE64.test(encoded) || encoded.replace(/=+$/, '').length % 4 === 1) {
    throw new Error('webhook secret: what follows whsec_ must be base64');
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
    throw new Error(
      `webhook secret: must decode to ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES} bytes, this one decodes to ${key.length}`,
    );
  }
  return key;
}

function hmac(key: Buffer, id: string, timestamp: number, body: string | Uint8Array): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
}

/** What one delivery attempt signs: its id, the attempt's Unix seconds and the exact body sent. */
export interface WebhookMessage {
  id: string;
  timestamp: number;
  body: string;
}

/**
 * The `webhook-signature` header for a message: `v1,<base64 HMAC-SHA256 of
 * "<id>.<timestamp>.<body>">`, one per secret, space-separated, when given several (during
 * a rotation's overlap: the new secret first).
 *
 * @example
 * const signature = signWebhook('whsec_…', { id, timestamp: Math.floor(Date.now() / 1000), body });
 */
export function signWebhook(secret: string | readonly string[], message: WebhookMessage): string {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0) throw new Error('webhook secret: at least one is needed');
  const keys = secrets.map(webhookSecretKey);
  if (typeof message.id !== 'string' || !WEBHOOK_ID.test(message.id)) {
    throw new Error('webhook id: must be 1 to 255 characters, without spaces or "."');
  }
  if (!Number.isSafeInteger(message.timestamp) || message.timestamp < 0) {
    throw new Error(`webhook timestamp: must be a whole number of Unix seconds, got ${String(message.timestamp)}`);
  }
  return keys
    .map((key) => `${SIGNATURE_VERSION},${hmac(key, message.id, message.timestamp, message.body).toString('base64')}`)
    .join(' ');
}

/** Request headers as Node (`req.headers`) or the Fetch API (`request.headers`) gives them. */
export type WebhookHeaders =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | null | undefined>>;

function header(headers: WebhookHeaders, name: string): string {
  let value: string | readonly string[] | null | undefined;
  if (typeof headers.get === 'function') value = (headers as { get(name: string): string | null }).get(name);
  else {
    const record = headers as Readonly<Record<string, string | readonly string[] | null | undefined>>;
    const key = name in record ? name : Object.keys(record).find((k) => k.toLowerCase() === name);
    value = key === undefined ? undefined : record[key];
  }
  const text = Array.isArray(value) ? value.join(' ') : (value as string | null | undefined);
  if (text === undefined || text === null || text.trim() === '') {
    throw new WebhookSignatureError('missing_header', `the ${name} header is missing`);
  }
  return text.trim();
}

/**
 * Checks a received webhook the way the Standard Webhooks specification says: the
 * `webhook-id`, `webhook-timestamp` and `webhook-signature` headers are there, the
 * timestamp is within `toleranceSeconds` (default 300) of `now` in either direction, and
 * one of the `v1` signatures is the HMAC of `"<id>.<timestamp>.<body>"` with `secret`
 * (several are accepted, for secret rotation; other versions are ignored). Compares in
 * constant time. `body` must be the raw bytes received, not re-serialized JSON. Returns
 * the id (deduplicate on it: delivery is at least once) and the timestamp. Throws a
 * {@link WebhookSignatureError} naming what is wrong.
 *
 * @example
 * const { id } = verifyWebhookSignature({ secret, headers: req.headers, body: rawBody });
 */
export function verifyWebhookSignature(input: {
  secret: string;
  headers: WebhookHeaders;
  body: string | Uint8Array;
  toleranceSeconds?: number;
  now?: Date;
}): { id: string; timestamp: number } {
  const tolerance = input.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  let key: Buffer;
  try {
    key = webhookSecretKey(input.secret);
  } catch (error) {
    throw new WebhookSignatureError('secret', (error as Error).message);
  }
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new WebhookSignatureError('secret', `toleranceSeconds: must be a non-negative number, got ${tolerance}`);
  }
  const id = header(input.headers, 'webhook-id');
  const timestampText = header(input.headers, 'webhook-timestamp');
  const signatureText = header(input.headers, 'webhook-signature');
  if (!WEBHOOK_ID.test(id)) {
    throw new WebhookSignatureError('malformed', 'webhook-id is malformed: it must have no spaces or "."');
  }
  if (!/^\d{1,15}$/.test(timestampText)) {
    throw new WebhookSignatureError('malformed', 'webhook-timestamp is malformed: it is not Unix seconds');
  }
  const timestamp = Number(timestampText);
  const signatures: Buffer[] = [];
  for (const entry of signatureText.split(/\s+/)) {
    const comma = entry.indexOf(',');
    if (comma <= 0) {
      throw new WebhookSignatureError(
        'malformed',
        `webhook-signature is malformed: "${entry.slice(0, 20)}" is not <version>,<signature>`,
      );
    }
    // Other versions (v1a: asymmetric) are ignored, so that they can be sent beside v1.
    if (entry.slice(0, comma) !== SIGNATURE_VERSION) continue;
    const value = entry.slice(comma + 1);
    if (!V1_SIGNATURE.test(value)) {
      throw new WebhookSignatureError(
        'malformed',
        'webhook-signature is malformed: a v1 signature is not 32 bytes of base64',
      );
    }
    signatures.push(Buffer.from(value, 'base64'));
  }
  if (signatures.length === 0) {
    throw new WebhookSignatureError('malformed', 'webhook-signature is malformed: it has no v1 signature');
  }
  const nowSeconds = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const skew = nowSeconds - timestamp;
  if (Math.abs(skew) > tolerance) {
    throw new WebhookSignatureError(
      'timestamp',
      `webhook-timestamp is outside the tolerance of ${tolerance} s (${
        skew > 0 ? `${skew} s old` : `${-skew} s in the future`
      })`,
    );
  }
  const expected = hmac(key, id, timestamp, input.body);
  // Check every entry (no early exit) so the time taken does not depend on which one matched.
  let matched = false;
  for (const signature of signatures) {
    if (timingSafeEqual(signature, expected)) matched = true;
  }
  if (!matched) {
    throw new WebhookSignatureError(
      'mismatch',
      'the webhook-signature does not match the id, timestamp, body and secret',
    );
  }
  return { id, timestamp };
}

import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The `Annex-Signature` of a webhook (docs/apps.md, "Webhooks"): how the broker signs a
 * delivery and how a receiver verifies one.
 */

/** Receivers reject signatures older (or newer) than this by default. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;
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

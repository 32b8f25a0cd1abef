import type { Response } from 'express';

/**
 * An error in OpenAI's shape (`{error: {message, type, param, code}}`), so that OpenAI
 * clients show it as they show OpenAI's own.
 */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  static invalidApiKey() {
    return new GatewayError(
      401,
      // The var's name depends on the attachment's (--as AI gives AI_API_KEY), which the gateway never learns.
      "Incorrect or revoked API key provided. Use the key in the *_API_KEY config var of the add-on's attachment to your app (OPENAI_API_KEY by default; an attachment named AI gives AI_API_KEY).",
      'invalid_request_error',
      'invalid_api_key',
    );
  }

  static badRequest(message: string) {
    return new GatewayError(400, message, 'invalid_request_error', null);
  }

  static rateLimited(limit: number, retryAfterSeconds: number) {
    return new GatewayError(
      429,
      `Rate limit reached for requests: your plan allows ${limit} requests per minute. Try again in ${retryAfterSeconds}s.`,
      'requests',
      'rate_limit_exceeded',
      { 'Retry-After': String(retryAfterSeconds) },
    );
  }

  static quotaExceeded(quota: number, used: number, retryAfterSeconds: number) {
    return new GatewayError(
      429,
      `You exceeded your monthly token quota: ${used} of ${quota} tokens used. Upgrade the plan or wait for the next month (UTC).`,
      'insufficient_quota',
      'insufficient_quota',
      { 'Retry-After': String(retryAfterSeconds) },
    );
  }

  static upstreamUnavailable(detail: string) {
    return new GatewayError(
      502,
      `The upstream model server is unavailable: ${detail}`,
      'api_error',
      'upstream_unavailable',
    );
  }

  send(res: Response) {
    res
      .status(this.status)
      .set(this.headers)
      .json({ error: { message: this.message, type: this.type, param: null, code: this.code } });
  }
}

import type { SecretBox } from '@annex/platform';
import type { ProviderRow } from '../db/catalog.js';
import type { RequestSigner } from './signing.js';

export const PROVIDER_API_VERSION = '2.17';

export interface ProviderRequest {
  method: 'GET' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below the provider's OSB URL, e.g. `/v2/service_instances/…`. */
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** Forwarded unchanged: `X-Broker-API-Originating-Identity`. */
  originatingIdentity?: string | null;
  /** Sent as `X-Broker-API-Request-Identity` so provider logs can be joined to ours. */
  requestIdentity?: string;
}

/** What a provider call gave: an HTTP answer (its body parsed when it is JSON), or no answer in time. */
export type ProviderResponse =
  | {
      kind: 'answer';
      status: number;
      /** The parsed JSON body; `undefined` when the body was empty or not JSON. */
      body: unknown;
      malformed: boolean;
      retryAfterSeconds: number | undefined;
    }
  | { kind: 'timeout'; message: string }
  | { kind: 'unreachable'; message: string };

/**
 * Calls providers' OSB APIs: version header, basic auth or a signed JWT bound to the
 * method and path, a deadline on the whole exchange.
 */
export class ProviderClient {
  readonly #signer: RequestSigner;
  readonly #box: SecretBox;
  readonly #timeoutMs: number;
  readonly #passwords = new Map<string, string>();

  constructor(signer: RequestSigner, box: SecretBox, timeoutMs: number) {
    this.#signer = signer;
    this.#box = box;
    this.#timeoutMs = timeoutMs;
  }

  async call(provider: ProviderRow, request: ProviderRequest): Promise<ProviderResponse> {
    if (!provider.osb_url) return { kind: 'unreachable', message: `provider ${provider.slug} has no OSB URL` };
    const url = new URL(provider.osb_url.replace(/\/+$/, '') + request.path);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const headers: Record<string, string> = {
      'x-broker-api-version': PROVIDER_API_VERSION,
      accept: 'application/json',
    };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    if (request.originatingIdentity) headers['x-broker-api-originating-identity'] = request.originatingIdentity;
    if (request.requestIdentity) headers['x-broker-api-request-identity'] = request.requestIdentity;
    headers.authorization = await this.#authorization(provider, request.method, url.pathname);

    const signal = AbortSignal.timeout(this.#timeoutMs);
    try {
      const response = await fetch(url, {
        method: request.method,
        headers,
        ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
        signal,
        redirect: 'manual',
      });
      const text = await response.text();
      let body: unknown;
      let malformed = false;
      if (text.trim() !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          malformed = true;
        }
      }
      const retryAfter = response.headers.get('retry-after');
      const seconds = retryAfter && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter.trim()) : undefined;
      return { kind: 'answer', status: response.status, body, malformed, retryAfterSeconds: seconds };
    } catch (error) {
      if (signal.aborted) {
        return { kind: 'timeout', message: `provider ${provider.slug} did not answer within ${this.#timeoutMs} ms` };
      }
      return { kind: 'unreachable', message: `provider ${provider.slug} unreachable: ${(error as Error).message}` };
    }
  }

  async #authorization(provider: ProviderRow, method: string, path: string): Promise<string> {
    if (provider.osb_auth_kind === 'basic') {
      const sealed = provider.osb_password_secret ?? '';
      let password = this.#passwords.get(sealed);
      if (password === undefined) {
        password = sealed ? this.#box.open(sealed) : '';
        this.#passwords.set(sealed, password);
      }
      return `Basic ${Buffer.from(`${provider.osb_username ?? ''}:${password}`).toString('base64')}`;
    }
    return `Bearer ${await this.#signer.sign({ audience: provider.slug, method, path })}`;
  }
}

import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import {
  guardedLookup,
  type OutboundPolicy,
  outboundUrlProblem,
  PrivateAddressError,
  type SecretBox,
} from '@annex/platform';
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
  | { kind: 'unreachable'; message: string }
  /** Not sent: the provider's URL points where ANNEX_ALLOW_PRIVATE_NETWORKS forbids. Nothing can exist there. */
  | { kind: 'refused'; message: string };

/**
 * Calls providers' OSB APIs: version header, basic auth or a signed JWT bound to the
 * method and path, a deadline on the whole exchange.
 */
class DeadlineExceeded extends Error {}

export class ProviderClient {
  readonly #signer: RequestSigner;
  readonly #box: SecretBox;
  readonly #timeoutMs: number;
  readonly #passwords = new Map<string, string>();
  readonly #policy: OutboundPolicy;
  readonly #lookup: ReturnType<typeof guardedLookup>;
  // node:http with keep-alive rather than fetch: a provider call is on every request's hot
  // path, and undici's web streams cost several times the CPU for the same exchange.
  readonly #agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
  };

  /** @param policy where providers' OSB URLs may point (default: anywhere) */
  constructor(
    signer: RequestSigner,
    box: SecretBox,
    timeoutMs: number,
    policy: OutboundPolicy = { allowPrivateNetworks: true },
  ) {
    this.#signer = signer;
    this.#box = box;
    this.#timeoutMs = timeoutMs;
    this.#policy = policy;
    this.#lookup = guardedLookup(policy);
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.#agents['http:'].destroy();
    this.#agents['https:'].destroy();
  }

  async call(provider: ProviderRow, request: ProviderRequest): Promise<ProviderResponse> {
    if (!provider.osb_url) return { kind: 'unreachable', message: `provider ${provider.slug} has no OSB URL` };
    const url = new URL(provider.osb_url.replace(/\/+$/, '') + request.path);
    const refused = outboundUrlProblem(url, this.#policy);
    if (refused) return { kind: 'refused', message: `provider ${provider.slug}'s OSB URL ${refused}` };
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

    let answer: { status: number; headers: IncomingHttpHeaders; text: string };
    try {
      answer = await this.#exchange(url, request.method, headers, request.body);
    } catch (error) {
      if (error instanceof DeadlineExceeded) {
        return { kind: 'timeout', message: `provider ${provider.slug} did not answer within ${this.#timeoutMs} ms` };
      }
      if (error instanceof PrivateAddressError) {
        return { kind: 'refused', message: `provider ${provider.slug}'s OSB URL: ${error.message}` };
      }
      return { kind: 'unreachable', message: `provider ${provider.slug} unreachable: ${(error as Error).message}` };
    }
    let body: unknown;
    let malformed = false;
    if (answer.text.trim() !== '') {
      try {
        body = JSON.parse(answer.text);
      } catch {
        malformed = true;
      }
    }
    const retryAfter = answer.headers['retry-after'];
    const seconds = retryAfter && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter.trim()) : undefined;
    return { kind: 'answer', status: answer.status, body, malformed, retryAfterSeconds: seconds };
  }

  /** One HTTP exchange, body read included, within the deadline. Redirects are not followed. */
  #exchange(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: unknown,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') return Promise.reject(new Error(`unsupported protocol ${url.protocol}`));
    return new Promise((resolve, reject) => {
      const request = (secure ? https : http).request(
        url,
        { method, headers, agent: this.#agents[secure ? 'https:' : 'http:'], lookup: this.#lookup },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', fail);
          response.on('end', () => {
            clearTimeout(timer);
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              text: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      const timer = setTimeout(() => request.destroy(new DeadlineExceeded()), this.#timeoutMs);
      function fail(error: Error) {
        clearTimeout(timer);
        reject(error);
      }
      request.on('error', fail);
      request.end(payload);
    });
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

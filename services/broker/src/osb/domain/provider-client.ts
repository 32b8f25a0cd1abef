import http from 'node:http';
import https from 'node:https';
import {
  type OutboundPolicy,
  type OutboundResponse,
  OutboundTimeoutError,
  outboundRequest,
  outboundUrlProblem,
  PrivateAddressError,
  ResponseTooLargeError,
  type SecretBox,
} from '@annex/platform';
import type { ProviderRow } from '../../shared/db/catalog.js';
import type { RequestSigner } from '../../shared/domain/signing.js';
import type { ProviderCallLog } from './provider-calls.js';

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

/** The most of a provider's answer that is read: OSB answers are small; a larger one is not an answer. */
export const PROVIDER_ANSWER_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Calls providers' OSB APIs: version header, basic auth or a signed JWT bound to the
 * method and path, a deadline on the whole exchange, through the outbound guard
 * (`outboundRequest`).
 */
export class ProviderClient {
  readonly #signer: RequestSigner;
  readonly #box: SecretBox;
  readonly #timeoutMs: number;
  readonly #passwords = new Map<string, string>();
  readonly #policy: OutboundPolicy;
  readonly #calls: ProviderCallLog | undefined;
  // node:http with keep-alive rather than fetch: a provider call is on every request's hot
  // path, and undici's web streams cost several times the CPU for the same exchange.
  readonly #agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
  };

  /**
   * @param policy where providers' OSB URLs may point (default: anywhere)
   * @param calls records every call's outcome and latency (the provider's health)
   */
  constructor(
    signer: RequestSigner,
    box: SecretBox,
    timeoutMs: number,
    policy: OutboundPolicy = { allowPrivateNetworks: true },
    calls?: ProviderCallLog,
  ) {
    this.#signer = signer;
    this.#box = box;
    this.#timeoutMs = timeoutMs;
    this.#policy = policy;
    this.#calls = calls;
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.#agents['http:'].destroy();
    this.#agents['https:'].destroy();
  }

  async call(provider: ProviderRow, request: ProviderRequest): Promise<ProviderResponse> {
    if (!this.#calls) return this.#send(provider, request);
    const startedAt = new Date();
    const started = performance.now();
    const response = await this.#send(provider, request);
    this.#calls.record(provider.id, request, response, startedAt, performance.now() - started);
    return response;
  }

  async #send(provider: ProviderRow, request: ProviderRequest): Promise<ProviderResponse> {
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

    let answer: OutboundResponse;
    try {
      answer = await outboundRequest(url, {
        method: request.method,
        headers,
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
        policy: this.#policy,
        timeoutMs: this.#timeoutMs,
        maxBytes: PROVIDER_ANSWER_MAX_BYTES,
        agents: this.#agents,
      });
    } catch (error) {
      if (error instanceof OutboundTimeoutError) {
        return { kind: 'timeout', message: `provider ${provider.slug} did not answer within ${this.#timeoutMs} ms` };
      }
      if (error instanceof PrivateAddressError) {
        return { kind: 'refused', message: `provider ${provider.slug}'s OSB URL: ${error.message}` };
      }
      if (error instanceof ResponseTooLargeError) {
        // What it meant cannot be known: like no answer, so the caller's recovery applies.
        return {
          kind: 'unreachable',
          message: `provider ${provider.slug} answered more than ${PROVIDER_ANSWER_MAX_BYTES} bytes`,
        };
      }
      return { kind: 'unreachable', message: `provider ${provider.slug} unreachable: ${(error as Error).message}` };
    }
    let body: unknown;
    let malformed = false;
    if (answer.body.trim() !== '') {
      try {
        body = JSON.parse(answer.body);
      } catch {
        malformed = true;
      }
    }
    const retryAfter = answer.headers['retry-after'];
    const seconds = retryAfter && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter.trim()) : undefined;
    return { kind: 'answer', status: answer.status, body, malformed, retryAfterSeconds: seconds };
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

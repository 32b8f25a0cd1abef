import { createHash, randomUUID } from 'node:crypto';
import type { ProviderStore } from '@annex/sdk';
import express, { type NextFunction, type Request, type Response } from 'express';
import * as z from 'zod';
import { GatewayError } from './errors.js';
import { type PlanLimits, quantityIn } from './plans.js';
import type { GatewayStore, UsageEntry } from './state/store.js';
import { countTokens } from './upstream/tokens.js';

/** What the gateway knows of each plan, by plan id. */
export interface GatewayPlan {
  slug: string;
  limits: PlanLimits;
  /** The metered unit usage is reported in, if the plan is metered. */
  unit: string | undefined;
}

export interface GatewayOptions {
  store: GatewayStore;
  /** The SDK's protocol store: the instance's current plan and state. */
  protocolStore: ProviderStore;
  plans: ReadonlyMap<string, GatewayPlan>;
  upstream: { baseUrl: string; apiKey: string | undefined; timeoutMs: number };
  now: () => number;
  onError: (error: unknown, requestId: string) => void;
}

interface Caller {
  requestId: string;
  instanceId: string;
  bindingId: string;
  plan: GatewayPlan;
}

const WINDOW_MS = 60_000;

/** SHA-256 of an API key, hex: what the store keeps instead of the key. */
export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

export const monthOf = (ms: number) => new Date(ms).toISOString().slice(0, 7);

const secondsUntilNextMonth = (ms: number) => {
  const d = new Date(ms);
  return Math.max(1, Math.ceil((Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - ms) / 1000));
};

// The gateway checks only what it needs itself; the upstream validates the rest.
const chatBody = z.looseObject({
  model: z.string({ message: 'model is required (a string)' }).min(1),
  messages: z.array(z.unknown(), { message: 'messages is required (an array)' }).min(1),
  stream: z.boolean({ message: 'stream must be a boolean' }).optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
});
const embeddingsBody = z.looseObject({
  model: z.string({ message: 'model is required (a string)' }).min(1),
  input: z.union([z.string(), z.array(z.unknown()).min(1)], { message: 'input is required (a string or an array)' }),
});

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw GatewayError.badRequest('The body must be a JSON object (Content-Type: application/json).');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw GatewayError.badRequest(`${issue?.path.join('.') || 'body'}: ${issue?.message}`);
  }
  return parsed.data;
}

const contentText = (content: unknown): string =>
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map((part) => (typeof part?.text === 'string' ? part.text : '')).join(' ')
      : '';

/**
 * The OpenAI-compatible API: authenticates the binding's key, applies the plan's rate limit
 * and monthly token quota, forwards to the upstream with the gateway's own upstream key, and
 * records the tokens each request consumed.
 */
export function createGatewayRouter(options: GatewayOptions): express.Router {
  const { store } = options;
  const router = express.Router();
  router.use(express.json({ limit: '2mb' }));

  async function authenticate(req: Request): Promise<Caller> {
    const requestId = randomUUID();
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) throw GatewayError.invalidApiKey();
    const key = await store.findKey(hashApiKey(match[1]));
    if (!key || key.revokedAt !== null) throw GatewayError.invalidApiKey();
    const instance = await options.protocolStore.getInstance(key.instanceId);
    const plan = instance && options.plans.get(instance.planId);
    if (!instance || !plan || (instance.state !== 'ready' && instance.state !== 'updating')) {
      throw GatewayError.invalidApiKey();
    }
    return { requestId, instanceId: key.instanceId, bindingId: key.bindingId, plan };
  }

  async function admit(caller: Caller, res: Response, consumesTokens: boolean) {
    const now = options.now();
    const windowStart = now - (now % WINDOW_MS);
    const count = await store.hitRateWindow(caller.instanceId, windowStart);
    const { requestsPerMinute, tokensPerMonth } = caller.plan.limits;
    res.set({
      'x-request-id': caller.requestId,
      'x-ratelimit-limit-requests': String(requestsPerMinute),
      'x-ratelimit-remaining-requests': String(Math.max(0, requestsPerMinute - count)),
    });
    if (count > requestsPerMinute) {
      throw GatewayError.rateLimited(requestsPerMinute, Math.max(1, Math.ceil((windowStart + WINDOW_MS - now) / 1000)));
    }
    if (!consumesTokens) return;
    const used = await store.monthTokens(caller.instanceId, monthOf(now));
    res.set({
      'x-ratelimit-limit-tokens': String(tokensPerMonth),
      'x-ratelimit-remaining-tokens': String(Math.max(0, tokensPerMonth - used)),
    });
    // A request is admitted while the month's tokens are under the quota; the one that
    // crosses it completes (its size is unknown until the upstream answers).
    if (used >= tokensPerMonth) throw GatewayError.quotaExceeded(tokensPerMonth, used, secondsUntilNextMonth(now));
  }

  async function record(
    caller: Caller,
    endpoint: UsageEntry['endpoint'],
    model: string,
    usage: { prompt: number; completion: number },
  ) {
    const now = options.now();
    const total = usage.prompt + usage.completion;
    const unit = caller.plan.unit;
    await store.recordUsage({
      id: caller.requestId,
      instanceId: caller.instanceId,
      bindingId: caller.bindingId,
      endpoint,
      model,
      promptTokens: usage.prompt,
      completionTokens: usage.completion,
      totalTokens: total,
      at: new Date(now).toISOString(),
      month: monthOf(now),
      report: unit && total > 0 ? { unit, quantity: quantityIn(unit, total) } : null,
    });
  }

  async function callUpstream(path: string, init: { method: 'GET' | 'POST'; body?: unknown }, signal: AbortSignal) {
    const headers: Record<string, string> = { accept: 'application/json, text/event-stream' };
    if (options.upstream.apiKey) headers.authorization = `Bearer ${options.upstream.apiKey}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(`${options.upstream.baseUrl}${path}`, {
        method: init.method,
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(options.upstream.timeoutMs)]),
      });
    } catch (error) {
      throw GatewayError.upstreamUnavailable((error as Error).message);
    }
  }

  /** Relays an upstream error answer as it is (OpenAI clients understand OpenAI errors). */
  async function relayError(upstream: globalThis.Response, res: Response) {
    const text = await upstream.text();
    if (upstream.status === 401 || upstream.status === 403) {
      // The upstream refused the gateway's own key: not the caller's fault, and not their key.
      throw GatewayError.upstreamUnavailable(`it refused the gateway's credentials (${upstream.status})`);
    }
    res.status(upstream.status).type(upstream.headers.get('content-type') ?? 'application/json');
    const retryAfter = upstream.headers.get('retry-after');
    if (retryAfter) res.set('Retry-After', retryAfter);
    res.send(text);
  }

  const route =
    (handler: (req: Request, res: Response, signal: AbortSignal) => Promise<void>) =>
    async (req: Request, res: Response, next: NextFunction) => {
      const controller = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) controller.abort();
      });
      try {
        await handler(req, res, controller.signal);
      } catch (error) {
        next(error);
      }
    };

  router.get(
    '/models',
    route(async (req, res, signal) => {
      const caller = await authenticate(req);
      await admit(caller, res, false);
      const upstream = await callUpstream('/models', { method: 'GET' }, signal);
      if (!upstream.ok) return relayError(upstream, res);
      res.status(200).json(await upstream.json());
    }),
  );

  router.post(
    '/chat/completions',
    route(async (req, res, signal) => {
      const caller = await authenticate(req);
      const body = parseBody(chatBody, req.body);
      await admit(caller, res, true);
      const clientWantsUsage = body.stream_options?.include_usage === true;
      // Streams carry usage only when asked for: the gateway always asks, to meter.
      const forwarded = body.stream
        ? { ...body, stream_options: { ...(body.stream_options ?? {}), include_usage: true } }
        : body;
      const upstream = await callUpstream('/chat/completions', { method: 'POST', body: forwarded }, signal);
      if (!upstream.ok) return relayError(upstream, res);
      const promptEstimate = () =>
        body.messages.reduce<number>(
          (sum, m) => sum + countTokens(contentText((m as { content?: unknown })?.content)),
          0,
        );

      if (!body.stream) {
        const answer = (await upstream.json()) as {
          usage?: { prompt_tokens?: number; completion_tokens?: number };
          choices?: { message?: { content?: unknown } }[];
        };
        const usage =
          answer.usage?.prompt_tokens !== undefined
            ? { prompt: answer.usage.prompt_tokens ?? 0, completion: answer.usage.completion_tokens ?? 0 }
            : {
                prompt: promptEstimate(),
                completion: (answer.choices ?? []).reduce(
                  (s, c) => s + countTokens(contentText(c.message?.content)),
                  0,
                ),
              };
        await record(caller, 'chat.completions', body.model, usage);
        res.status(200).json(answer);
        return;
      }

      res
        .status(200)
        .set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
      res.flushHeaders();
      let usage: { prompt: number; completion: number } | undefined;
      let streamedText = '';
      const relayEvent = (event: string) => {
        const data = event
          .split(/\r?\n/)
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n');
        if (!data) return;
        if (data !== '[DONE]') {
          try {
            const chunk = JSON.parse(data) as {
              usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
              choices?: { delta?: { content?: unknown } }[];
            };
            for (const choice of chunk.choices ?? []) streamedText += contentText(choice.delta?.content);
            if (chunk.usage) {
              usage = { prompt: chunk.usage.prompt_tokens ?? 0, completion: chunk.usage.completion_tokens ?? 0 };
              // The usage-only chunk the gateway asked for is not the client's unless it asked too.
              if (!clientWantsUsage && (chunk.choices ?? []).length === 0) return;
            }
          } catch {
            // not JSON: relay it unchanged
          }
        }
        res.write(`data: ${data}\n\n`);
      };
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        const reader = upstream.body?.getReader();
        for (let read = await reader?.read(); read && !read.done; read = await reader?.read()) {
          buffer += decoder.decode(read.value, { stream: true });
          let boundary = /\r?\n\r?\n/.exec(buffer);
          while (boundary) {
            relayEvent(buffer.slice(0, boundary.index));
            buffer = buffer.slice(boundary.index + boundary[0].length);
            boundary = /\r?\n\r?\n/.exec(buffer);
          }
        }
        if (buffer.trim()) relayEvent(buffer);
      } finally {
        // Tokens were consumed even when the client went away mid-stream.
        await record(
          caller,
          'chat.completions',
          body.model,
          usage ?? { prompt: promptEstimate(), completion: countTokens(streamedText) },
        ).catch((error) => options.onError(error, caller.requestId));
      }
      res.end();
    }),
  );

  router.post(
    '/embeddings',
    route(async (req, res, signal) => {
      const caller = await authenticate(req);
      const body = parseBody(embeddingsBody, req.body);
      await admit(caller, res, true);
      const upstream = await callUpstream('/embeddings', { method: 'POST', body }, signal);
      if (!upstream.ok) return relayError(upstream, res);
      const answer = (await upstream.json()) as { usage?: { prompt_tokens?: number } };
      const inputs = typeof body.input === 'string' ? [body.input] : body.input;
      const prompt =
        answer.usage?.prompt_tokens ??
        inputs.reduce<number>((s, i) => s + (typeof i === 'string' ? countTokens(i) : 0), 0);
      await record(caller, 'embeddings', body.model, { prompt, completion: 0 });
      res.status(200).json(answer);
    }),
  );

  router.use((_req: Request, _res: Response, next: NextFunction) =>
    next(
      new GatewayError(
        404,
        'Unknown endpoint: this gateway serves /v1/chat/completions, /v1/embeddings and /v1/models.',
        'invalid_request_error',
        'unknown_url',
      ),
    ),
  );
  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      res.end();
      return;
    }
    if (error instanceof GatewayError) return error.send(res);
    const parseFailure = error as { type?: string; status?: number };
    if (parseFailure.type === 'entity.parse.failed') {
      return GatewayError.badRequest('The body is not valid JSON.').send(res);
    }
    if (parseFailure.type === 'entity.too.large') {
      return new GatewayError(413, 'The body is too large.', 'invalid_request_error', null).send(res);
    }
    const requestId = randomUUID();
    options.onError(error, requestId);
    return new GatewayError(500, `Internal error (request id ${requestId}).`, 'api_error', null).send(res);
  });
  return router;
}

import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import * as z from 'zod';
import { countTokens, promptTokens, tokenize } from './tokens.js';

/**
 * A small OpenAI-compatible server with deterministic output, the gateway's upstream for
 * `npm start` and the tests: the chat model answers `You said: <last user message>`, the
 * embedding model hashes its input into a unit vector, and token counts follow `tokenize`.
 */

export const CHAT_MODEL = 'annex-echo-1';
export const EMBEDDING_MODEL = 'annex-embed-1';
const EMBEDDING_DIMENSIONS = 16;
const CREATED = 1_764_201_600; // 2025-11-27: fixed, so /v1/models is deterministic

/**
 * OpenAI model names the chat model also answers to, so that OpenAI client examples run
 * unchanged against the local upstream (README, "The upstream"); a dated snapshot of one
 * (`gpt-4o-mini-2024-07-18`) too.
 */
export const CHAT_MODEL_ALIASES: readonly string[] = [
  'gpt-4o-mini',
  'gpt-4o',
  'gpt-4.1',
  'gpt-4.1-mini',
  'gpt-4.1-nano',
  'gpt-4-turbo',
  'gpt-4',
  'gpt-3.5-turbo',
  'gpt-5',
  'gpt-5-mini',
  'gpt-5-nano',
  'o1',
  'o1-mini',
  'o3',
  'o3-mini',
  'o4-mini',
];
/** OpenAI embedding model names the embedding model also answers to. */
export const EMBEDDING_MODEL_ALIASES: readonly string[] = [
  'text-embedding-3-small',
  'text-embedding-3-large',
  'text-embedding-ada-002',
];

/** Whether `requested` names `model`: itself, one of its aliases, or an alias's dated snapshot. */
function answersTo(model: string, aliases: readonly string[], requested: string): boolean {
  if (requested === model) return true;
  return aliases.includes(requested.replace(/-\d{4}-\d{2}-\d{2}$/, ''));
}

const chatRequest = z.object({
  model: z.string().min(1),
  messages: z
    .array(z.object({ role: z.enum(['system', 'user', 'assistant', 'developer', 'tool']), content: z.string() }))
    .min(1),
  stream: z.boolean().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
});

const embeddingRequest = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1)]),
  dimensions: z.number().int().min(1).max(1024).optional(),
});

const openAiError = (res: express.Response, status: number, message: string, type: string, code: string | null) =>
  res.status(status).json({ error: { message, type, param: null, code } });

const modelNotFound = (res: express.Response, requested: string) =>
  openAiError(
    res,
    404,
    `The model \`${requested}\` does not exist here. This gateway runs with its local models (no AI_GATEWAY_UPSTREAM_URL): ${CHAT_MODEL} for chat completions, also as ${CHAT_MODEL_ALIASES.join(', ')}; ${EMBEDDING_MODEL} for embeddings, also as ${EMBEDDING_MODEL_ALIASES.join(', ')}. A dated snapshot of an alias (gpt-4o-mini-2024-07-18) works too.`,
    'invalid_request_error',
    'model_not_found',
  );

/** The reply of the chat model to `messages`, cut to `maxTokens` tokens; deterministic. */
export function chatReply(messages: readonly { role: string; content: string }[], maxTokens?: number | null) {
  const lastUser = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const tokens = tokenize(`You said: ${lastUser}`);
  const kept = maxTokens ? tokens.slice(0, maxTokens) : tokens;
  return { text: kept.join(' '), pieces: kept, finishReason: kept.length < tokens.length ? 'length' : 'stop' };
}

/** The embedding of `text`: a unit vector derived from its SHA-256, deterministic. */
export function embed(text: string, dimensions = EMBEDDING_DIMENSIONS): number[] {
  const values: number[] = [];
  for (let block = 0; values.length < dimensions; block++) {
    const digest = createHash('sha256').update(`${block}:${text}`).digest();
    for (let i = 0; i + 1 < digest.length && values.length < dimensions; i += 2) {
      values.push(digest.readUInt16BE(i) / 32_767.5 - 1);
    }
  }
  const norm = Math.hypot(...values) || 1;
  return values.map((v) => Number((v / norm).toFixed(6)));
}

/** The upstream's express app; with `apiKey`, requests must carry `Authorization: Bearer <apiKey>`. */
export function createUpstreamApp(options: { apiKey?: string } = {}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '1mb' }));
  app.use((req, res, next) => {
    if (!options.apiKey) return next();
    const given = Buffer.from(req.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${options.apiKey}`);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return next();
    return openAiError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
  });

  app.get('/v1/models', (_req, res) => {
    res.json({
      object: 'list',
      data: [CHAT_MODEL, EMBEDDING_MODEL].map((id) => ({ id, object: 'model', created: CREATED, owned_by: 'annex' })),
    });
  });

  app.post('/v1/chat/completions', (req, res) => {
    const parsed = chatRequest.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return openAiError(
        res,
        400,
        `${issue?.path.join('.') || 'body'}: ${issue?.message}`,
        'invalid_request_error',
        null,
      );
    }
    const body = parsed.data;
    if (!answersTo(CHAT_MODEL, CHAT_MODEL_ALIASES, body.model)) return modelNotFound(res, body.model);
    const reply = chatReply(body.messages, body.max_completion_tokens ?? body.max_tokens);
    const usage = {
      prompt_tokens: promptTokens(body.messages),
      completion_tokens: reply.pieces.length,
      total_tokens: promptTokens(body.messages) + reply.pieces.length,
    };
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    if (!body.stream) {
      return res.json({
        id,
        object: 'chat.completion',
        created,
        model: CHAT_MODEL,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: reply.text },
            finish_reason: reply.finishReason,
            logprobs: null,
          },
        ],
        usage,
      });
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      res.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: CHAT_MODEL, choices, ...extra })}\n\n`,
      );
    chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
    reply.pieces.forEach((piece, i) => {
      chunk([{ index: 0, delta: { content: i === 0 ? piece : ` ${piece}` }, finish_reason: null }]);
    });
    chunk([{ index: 0, delta: {}, finish_reason: reply.finishReason }]);
    if (body.stream_options?.include_usage) chunk([], { usage });
    res.end('data: [DONE]\n\n');
  });

  app.post('/v1/embeddings', (req, res) => {
    const parsed = embeddingRequest.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return openAiError(
        res,
        400,
        `${issue?.path.join('.') || 'body'}: ${issue?.message}`,
        'invalid_request_error',
        null,
      );
    }
    const body = parsed.data;
    if (!answersTo(EMBEDDING_MODEL, EMBEDDING_MODEL_ALIASES, body.model)) return modelNotFound(res, body.model);
    const inputs = typeof body.input === 'string' ? [body.input] : body.input;
    const tokens = inputs.reduce((sum, text) => sum + countTokens(text), 0);
    res.json({
      object: 'list',
      data: inputs.map((text, index) => ({ object: 'embedding', index, embedding: embed(text, body.dimensions) })),
      model: EMBEDDING_MODEL,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  });

  app.use((_req: express.Request, res: express.Response) =>
    openAiError(res, 404, 'Unknown endpoint.', 'invalid_request_error', 'unknown_url'),
  );
  app.use(
    (
      error: Error & { status?: number; type?: string },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      if (error.type === 'entity.parse.failed')
        return openAiError(res, 400, 'The body is not valid JSON.', 'invalid_request_error', null);
      return openAiError(
        res,
        error.status ?? 500,
        error.message,
        error.status ? 'invalid_request_error' : 'server_error',
        null,
      );
    },
  );
  return app;
}

/** A running local upstream; `baseUrl` ends in `/v1`, like `OPENAI_BASE_URL`. */
export interface RunningUpstream {
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * Serves the deterministic upstream on `host:port` (0 = a free port).
 *
 * @example
 * const upstream = await startUpstream({ port: 0, apiKey: 'sk-upstream' });
 * await fetch(`${upstream.baseUrl}/models`, { headers: { authorization: 'Bearer sk-upstream' } });
 */
export async function startUpstream(options: {
  host?: string;
  port: number;
  apiKey?: string;
}): Promise<RunningUpstream> {
  const host = options.host ?? '127.0.0.1';
  const server: Server = await new Promise((resolve, reject) => {
    const s = createUpstreamApp(options.apiKey ? { apiKey: options.apiKey } : {}).listen(options.port, host);
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  });
  return {
    baseUrl: `http://${host}:${(server.address() as AddressInfo).port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

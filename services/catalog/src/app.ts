import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  ANONYMOUS,
  authenticateToken,
  bearerToken,
  createObservability,
  DATABASE_RETRY_AFTER_SECONDS,
  type Database,
  internalErrorHandler,
  isDatabaseUnavailable,
  type Logger,
  logOf,
  type Principal,
  requestIdOf,
  type SecretBox,
} from '@annex/platform';
import { manifestJsonSchema } from '@annex/sdk';
import { TRACING_OFF, Tracer, traceRequests } from '@annex/tracing';
import express, { type NextFunction, type Request, type Response } from 'express';
import { GraphQLError, NoSchemaIntrospectionCustomRule } from 'graphql';
import { createYoga, isAsyncIterable, maskError, type Plugin } from 'graphql-yoga';
import { BrokerClient } from './broker-client.js';
import type { CatalogConfig } from './config.js';
import { catalogVersion } from './db/catalog-version.repository.js';
import { viewerOf } from './domain/visibility.js';
import { GRAPHIQL_ASSETS_PATH, graphiqlAssets, renderGraphiQL } from './graphiql.js';
import type { CatalogContext } from './graphql/builder.js';
import { compiledExecution } from './graphql/compiled-execution.js';
import { refuseControlCharacters } from './graphql/input-text.js';
import { documentLimits, parserCache } from './graphql/limits.js';
import { createResponseCache } from './graphql/response-cache.js';
import { schema } from './graphql/schema.js';
import { hideSuggestions } from './graphql/suggestions.js';
import { operationSpans } from './graphql/tracing.js';
import { APP_ROOT_FIELDS } from './graphql/types/apps.js';

/**
 * The catalog's own query fields: the same for every caller of a class until a provider
 * publishes. Only queries made of these are cached; anything else (apps, billing, usage)
 * depends on the caller's organization and is answered fresh.
 */
const CATALOG_QUERY_ROOT_FIELDS: ReadonlySet<string> = new Set([
  'categories',
  'plan',
  'provider',
  'providers',
  'service',
  'services',
  '__typename',
  '__schema',
  '__type',
]);

export interface CatalogDeps {
  database: Database;
  logger: Logger;
  /** Seals OSB broker passwords and dashboard client secrets. */
  secretBox: SecretBox;
}

export interface Catalog {
  /**
   * The catalog's request listener: answers a POST to `/graphql` that the response cache
   * holds without express or GraphQL; everything else goes to express.
   */
  app: RequestListener;
  /** No background work yet; present so every service starts the same way. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The request each execution error belongs to, for masking: yoga's maskError gets no
 * context, so `errorScopes` (a plugin before the masking one) records it per error. An
 * `AsyncLocalStorage` around the request did this before; on Node 20 and 22 it turns on
 * promise hooks, paid on every promise of every request.
 */
const errorScopes = new WeakMap<object, { requestId: string; log: Logger }>();

function recordScopes(result: unknown, context: CatalogContext) {
  const errors = (result as { errors?: readonly object[] } | null)?.errors;
  if (!errors) return;
  const scope = { requestId: context.requestId, log: context.log };
  for (const error of errors) errorScopes.set(error, scope);
}

const scopeErrors: Plugin<CatalogContext> = {
  onExecute({ args }) {
    const context = args.contextValue as CatalogContext;
    return {
      onExecuteDone({ result }) {
        if (isAsyncIterable(result)) return { onNext: ({ result: next }) => recordScopes(next, context) };
        recordScopes(result, context);
        return undefined;
      },
    };
  },
  onSubscribe({ args }) {
    const context = args.contextValue as CatalogContext;
    return {
      onSubscribeResult({ result }) {
        if (isAsyncIterable(result)) return { onNext: ({ result: next }) => recordScopes(next, context) };
        recordScopes(result, context);
        return undefined;
      },
    };
  },
};

/** Schema introspection off: a validation rule rejecting `__schema` and `__type`. */
const disableIntrospection: Plugin = {
  onValidate({ addValidationRule }: { addValidationRule: (rule: typeof NoSchemaIntrospectionCustomRule) => void }) {
    addValidationRule(NoSchemaIntrospectionCustomRule);
  },
};

/**
 * The catalog: the GraphQL API at `/graphql` that platforms query and providers publish
 * to, plus `/manifest.schema.json`, `/healthz`, `/readyz` and `/metrics`. It does not
 * listen, migrate or read the environment; `main.ts` does.
 *
 * @example
 * const catalog = createCatalog(loadCatalogConfig(process.env), { database, logger, secretBox });
 * createServer(catalog.app).listen(4000, '127.0.0.1');
 */
export function createCatalog(config: CatalogConfig, deps: CatalogDeps): Catalog {
  const { database, logger, secretBox } = deps;
  const observability = createObservability({ service: 'catalog', logger, ready: () => database.ping() });
  const responseCache = config.responseCache.enabled
    ? createResponseCache({
        version: () => catalogVersion(database.db),
        checkIntervalMs: config.responseCache.checkIntervalMs,
        maxEntries: config.responseCache.maxEntries,
        // Answered by the broker for this caller's token: never shared through the cache.
        uncacheableRootFields: APP_ROOT_FIELDS,
        cacheableQueryRootFields: CATALOG_QUERY_ROOT_FIELDS,
      })
    : undefined;
  const brokerClient = new BrokerClient({ baseUrl: config.brokerUrl });
  const tracer = new Tracer(config.tracing ?? TRACING_OFF);

  const yoga = createYoga<{ req: Request; res: Response }, CatalogContext>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.graphiql ? { title: 'Annex catalog' } : false,
    renderGraphiQL,
    landingPage: false,
    logging: false,
    maskedErrors: {
      maskError(error, message, isDev): Error {
        const masked = maskError(error, message, isDev);
        if (masked === error) return error as Error;
        const scope = errorScopes.get(error as object);
        const original = error as GraphQLError;
        if (isDatabaseUnavailable(original.originalError ?? error)) {
          (scope?.log ?? logger).warn({ err: original.originalError ?? error }, 'database unavailable');
          return new GraphQLError(DATABASE_UNAVAILABLE, {
            ...(original.path ? { path: original.path } : {}),
            extensions: {
              code: 'SERVICE_UNAVAILABLE',
              requestId: scope?.requestId ?? 'unknown',
              http: { status: 503, headers: { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) } },
            },
          });
        }
        (scope?.log ?? logger).error(
          { err: (error as GraphQLError).originalError ?? error },
          'unexpected GraphQL error',
        );
        return new GraphQLError('Unexpected error', {
          ...(original.nodes ? { nodes: original.nodes } : {}),
          ...(original.path ? { path: original.path } : {}),
          extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: scope?.requestId ?? 'unknown' },
        });
      },
    },
    // No file uploads: a multipart body would be buffered whole, outside the body limit.
    multipart: false,
    parserAndValidationCache: parserCache(),
    plugins: [
      ...documentLimits(config.limits),
      // Without introspection, "Did you mean …?" must not map the schema instead.
      ...(config.introspection ? [] : [disableIntrospection, hideSuggestions]),
      refuseControlCharacters,
      scopeErrors,
      ...(responseCache ? [responseCache.plugin] : []),
      // Only with tracing on: an instrumented plugin puts yoga on a slower path for every request.
      ...(tracer.enabled ? [operationSpans(tracer)] : []),
      compiledExecution(),
    ],
    context: ({ req, res, request }): CatalogContext => {
      const principal = res.locals.principal as Principal;
      // authenticate() accepted it; the broker checks it again and decides what it may see.
      const bearer = principal.kind === 'anonymous' ? undefined : bearerToken(req.header('authorization'));
      return {
        principal,
        viewer: viewerOf(principal),
        db: database.db,
        secretBox,
        requestId: requestIdOf(res),
        log: logOf(res),
        outbound: config.outbound,
        ...(bearer ? { bearer } : {}),
        broker: brokerClient.as(bearer, { maxCalls: MAX_BROKER_CALLS }),
        signal: request.signal,
      };
    },
  });

  // Callers already authenticated by the cache's fast path (below), so express need not again.
  const preauthenticated = new WeakMap<IncomingMessage, Principal>();
  const app = express();
  app.disable('x-powered-by');
  app.use(observability.requestContext);
  app.use(observability.routes);
  if (config.graphiql) app.use(GRAPHIQL_ASSETS_PATH, graphiqlAssets());
  // Converted from the manifest's zod schema by the first request for it, then kept.
  let manifestSchema: string | undefined;
  app.get('/manifest.schema.json', (_req, res) => {
    manifestSchema ??= JSON.stringify(manifestJsonSchema(), null, 2);
    res.type('application/schema+json').send(manifestSchema);
  });
  const graphqlMiddleware = [authenticate(database, preauthenticated), limitBody];
  if (responseCache) graphqlMiddleware.push(responseCache.middleware);
  app.all('/graphql', ...graphqlMiddleware, (req: Request, res: Response) => {
    yoga(req, res);
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found: the API is at /graphql' });
  });
  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    // A request express could not read is the caller's mistake, not ours.
    const status = (error as { status?: number; type?: string }).status;
    if (typeof status !== 'number' || status < 400 || status >= 500) return next(error);
    res.status(status).json(graphqlErrors(`unreadable request: ${(error as Error).message}`, 'BAD_REQUEST', res));
  });
  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (!isDatabaseUnavailable(error) || res.headersSent) return next(error);
    logOf(res).warn({ err: error }, 'database unavailable');
    res
      .status(503)
      .set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS))
      .json(graphqlErrors(DATABASE_UNAVAILABLE, 'SERVICE_UNAVAILABLE', res));
  });
  app.use(internalErrorHandler((requestId) => graphqlErrors('internal error', 'INTERNAL_SERVER_ERROR', { requestId })));

  /** Answers here, before express, with what express would have logged and measured. */
  function answer(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    message: string,
    code: string,
    headers: Record<string, string> = {},
  ) {
    const locals: Record<string, unknown> = {};
    observability.track(req, res, locals, () => '/graphql', '/graphql');
    const body = JSON.stringify(graphqlErrors(message, code, { requestId: locals.requestId as string }));
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
  }

  /**
   * Every POST of JSON to `/graphql` is read here, its caller authenticated first (a caller
   * without a token gets a smaller body limit: only publishing needs megabytes), and handed
   * on parsed: yoga handed the text would normalise it with `Object.keys` (a million index
   * strings for a 1 MB body), and handed nothing would read the stream without a limit.
   * With the response cache on, a hit is answered at once: through express and yoga a
   * cached answer cost as much CPU again as writing the bytes (docs/catalog.md, "Response
   * cache in front of express"). Anything else goes on to express with the body already
   * read and the caller already known.
   */
  async function serveJsonPost(req: IncomingMessage, res: ServerResponse) {
    const principal = await principalOf(database, req.headers.authorization);
    // Express answers 401, naming what is wrong with the token, without reading the body.
    if (principal === undefined) {
      app(req, res);
      return;
    }
    preauthenticated.set(req, principal);
    const limit = bodyLimit(principal);
    let text: string;
    try {
      text = await readBody(req, limit);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        answer(req, res, 413, bodyTooLarge(principal), 'PAYLOAD_TOO_LARGE');
      } else {
        res.destroy();
      }
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      answer(req, res, 400, `the request body is invalid JSON: ${(error as Error).message}`, 'BAD_REQUEST');
      return;
    }
    // Yoga reads the stream again for an empty object, and batches are not served.
    if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).length === 0) {
      answer(
        req,
        res,
        400,
        'the request body must be a JSON object such as {"query": "{ categories { id } }"}',
        'BAD_REQUEST',
      );
      return;
    }
    Object.assign(req, { body, rawBody: text });
    if (responseCache && !req.headers.accept?.includes('text/event-stream')) {
      const hit = await responseCache.lookup(principal, req.headers.accept ?? '', text);
      if (hit) {
        observability.track(req, res, {}, () => '/graphql', '/graphql');
        res.writeHead(200, { 'content-type': hit.contentType, 'content-length': hit.body.length });
        res.end(hit.body);
        return;
      }
    }
    app(req, res);
  }

  const listener: RequestListener = (req, res) => {
    if (!jsonPost(req)) {
      app(req, res);
      return;
    }
    serveJsonPost(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.end();
      } else if (isDatabaseUnavailable(error)) {
        logger.warn({ err: error }, 'database unavailable');
        answer(req, res, 503, DATABASE_UNAVAILABLE, 'SERVICE_UNAVAILABLE', {
          'retry-after': String(DATABASE_RETRY_AFTER_SECONDS),
        });
      } else {
        logger.error({ err: error }, 'serving a GraphQL POST failed');
        answer(req, res, 500, 'internal error', 'INTERNAL_SERVER_ERROR');
      }
    });
  };

  return {
    app: traceRequests(tracer, listener),
    async start() {},
    async close() {
      brokerClient.close();
      await yoga.dispose();
      await tracer.shutdown();
    },
  };
}

/**
 * Broker calls one GraphQL request may make: apps, add-ons, config vars and releases are
 * each a REST call (once per request thanks to loaders), so this bounds a query's fan-out
 * where the cost limit, which does not know that, cannot.
 */
export const MAX_BROKER_CALLS = 200;

// A whole manifest with its parameter schemas (64 kB each at most) fits with room to spare.
const MAX_BODY_BYTES = 5 * 1024 * 1024;
// Without a token a caller can only query: the query text and a few variables.
const MAX_ANONYMOUS_BODY_BYTES = 256 * 1024;

function bodyLimit(principal: Principal): number {
  return principal.kind === 'anonymous' ? MAX_ANONYMOUS_BODY_BYTES : MAX_BODY_BYTES;
}

function bodyTooLarge(principal: Principal): string {
  return principal.kind === 'anonymous'
    ? `request body over ${MAX_ANONYMOUS_BODY_BYTES} bytes (${MAX_BODY_BYTES} with an API token)`
    : `request body over ${MAX_BODY_BYTES} bytes`;
}

function limitBody(req: Request, res: Response, next: NextFunction) {
  const principal = res.locals.principal as Principal;
  if (Number(req.header('content-length') ?? 0) > bodyLimit(principal)) {
    res.status(413).json(graphqlErrors(bodyTooLarge(principal), 'PAYLOAD_TOO_LARGE', res));
    return;
  }
  // Other bodies than JSON reach yoga as a stream it reads whole: their length must be known.
  const read = (req as { rawBody?: string }).rawBody !== undefined;
  if (req.method === 'POST' && !read && req.header('content-length') === undefined) {
    res.status(411).json(graphqlErrors('a POST needs a Content-Length (or a JSON body)', 'BAD_REQUEST', res));
    return;
  }
  next();
}

/** A POST of JSON (`application/json`, `application/graphql+json`) to `/graphql`. */
function jsonPost(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  if (url !== '/graphql' && !url.startsWith('/graphql?')) return false;
  return /^\s*application\/(graphql\+)?json\s*(;|$)/i.test(req.headers['content-type'] ?? '');
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      req.resume();
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

const DATABASE_UNAVAILABLE = 'the catalog cannot reach its database; retry shortly';

/** A GraphQL response body carrying one error, with its code and the request id. */
function graphqlErrors(
  message: string,
  code: string,
  request: { requestId: string } | { locals: Record<string, unknown> },
): { errors: { message: string; extensions: { code: string; requestId: string } }[] } {
  const requestId = 'requestId' in request ? request.requestId : requestIdOf(request);
  return { errors: [{ message, extensions: { code, requestId } }] };
}

/**
 * `Authorization: Bearer <token>` → the caller's principal; no header → anonymous;
 * undefined for a header that names no usable token.
 */
async function principalOf(database: Database, header: string | undefined): Promise<Principal | undefined> {
  if (header === undefined || header.trim() === '') return ANONYMOUS;
  const token = bearerToken(header);
  return (token ? await authenticateToken(database.db, token) : null) ?? undefined;
}

/**
 * `Authorization: Bearer <token>` → the caller's principal; no header → anonymous. A
 * present but unusable token is a 401, never silently anonymous: a caller with a revoked
 * token would otherwise see a catalog without its private plans and not know why.
 */
function authenticate(database: Database, known: WeakMap<IncomingMessage, Principal>) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.header('authorization');
    const principal = known.get(req) ?? (await principalOf(database, header));
    if (!principal) {
      const token = bearerToken(header ?? '');
      const message = token
        ? 'invalid, expired or revoked API token'
        : 'the Authorization header must be "Bearer <token>"';
      res
        .status(401)
        .set('WWW-Authenticate', 'Bearer realm="annex"')
        .json({ errors: [{ message, extensions: { code: 'UNAUTHENTICATED', requestId: requestIdOf(res) } }] });
      return;
    }
    res.locals.principal = principal;
    next();
  };
}

import type { Principal } from '@annex/platform';
import type { RequestHandler, Response } from 'express';
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  getOperationAST,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { CatalogContext } from './builder.js';

export interface ResponseCacheOptions {
  /**
   * A fingerprint of everything the catalog shows; it changes with every publish. Read at
   * most once per `checkIntervalMs` per process, never once per request.
   */
  version(): Promise<string>;
  checkIntervalMs: number;
  maxEntries: number;
  /**
   * Root fields (of Query or Mutation) whose answers are not the catalog's but depend on
   * the caller's own token (apps and add-ons, answered by the broker). A query selecting
   * any of them is never cached; a mutation selecting only them leaves the cache alone.
   */
  uncacheableRootFields?: ReadonlySet<string>;
  /**
   * When given, the only root fields a cached query may select (the catalog's own). An
   * allow-list, so a field added later (billing, usage, ...) is never cached by mistake.
   */
  cacheableQueryRootFields?: ReadonlySet<string>;
}

export interface ResponseCache {
  /** Marks successful query results as cacheable; a mutation invalidates. */
  plugin: Plugin<CatalogContext>;
  /**
   * Express middleware in front of the GraphQL handler (after authentication and body
   * parsing, which leaves a POST's JSON text in `req.rawBody`): answers a hit with the
   * stored bytes, without running GraphQL at all, and records the response of a cacheable
   * miss.
   */
  middleware: RequestHandler;
  /**
   * The stored answer to `request` (a POST's JSON text) for this caller and `Accept`
   * header, if there is one for the catalog's current version: what `middleware` would
   * answer, for a server that looks before handing the request to express.
   */
  lookup(
    principal: Principal,
    accept: string,
    request: string,
  ): Promise<{ contentType: string; body: Buffer } | undefined>;
  /** Forgets everything (this process published or changed something). */
  invalidate(): void;
  readonly size: number;
}

/**
 * Longer requests are never cached: the questions platforms repeat are short, and a key
 * of megabytes (a manifest in the variables) costs milliseconds to hash on every lookup.
 */
const MAX_REQUEST_CHARS = 64 * 1024;

interface Entry {
  version: string;
  contentType: string;
  body: Buffer;
  /** When a field reading live data bounded its age (`limitCacheAge`): served until then only. */
  expiresAt?: number;
}

/**
 * Bounds how long the answer of the request `ctx` serves may be answered from the cache: a
 * field whose value is not the catalog's published data (a service's health) calls it as it
 * resolves. 0 keeps the answer out of the cache.
 */
export function limitCacheAge(ctx: { cacheMaxAgeMs?: number }, maxAgeMs: number): void {
  ctx.cacheMaxAgeMs = Math.min(ctx.cacheMaxAgeMs ?? Number.POSITIVE_INFINITY, maxAgeMs);
}

/**
 * Caches GraphQL responses per caller class. The catalog changes only when a provider
 * publishes, and platforms ask the same few questions over and over, so a response stays
 * valid until the catalog's version changes. Mutations in this process invalidate at
 * once; another replica's publish is seen within `checkIntervalMs`. An answer with a field
 * of live data (see `limitCacheAge`) is served only as long as that field allows. Only queries are
 * cached, only when every root field they select is the catalog's own (not one of
 * `uncacheableRootFields`), and never a response with errors. Subscriptions pass through.
 */
export function createResponseCache(options: ResponseCacheOptions): ResponseCache {
  const entries = new Map<string, Entry>();
  let current: string | undefined;
  let checkedAt = 0;
  let checking: Promise<string> | undefined;

  const invalidate = () => {
    entries.clear();
    checkedAt = 0;
  };

  async function freshVersion(): Promise<string> {
    if (current !== undefined && Date.now() - checkedAt < options.checkIntervalMs) return current;
    checking ??= options
      .version()
      .then((version) => {
        if (version !== current) entries.clear();
        current = version;
        checkedAt = Date.now();
        return version;
      })
      .finally(() => {
        checking = undefined;
      });
    return checking;
  }

  const keyOf = (principal: Principal, accept: string, request: string) =>
    [callerClass(principal), accept, request].join('\n');

  /** The entry under `key` if it is current, made the most recently used. */
  function currentEntry(key: string, version: string): Entry | undefined {
    const hit = entries.get(key);
    if (!hit || hit.version !== version) return undefined;
    if (hit.expiresAt !== undefined && hit.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    entries.delete(key);
    entries.set(key, hit); // most recently used last
    return hit;
  }

  const uncacheable = options.uncacheableRootFields ?? new Set<string>();
  const plugin: Plugin<CatalogContext> = {
    onExecute({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      const res = (args.contextValue as { res?: Response }).res;
      if (!operation || !res) return;
      const roots = rootFieldNames(args.document, operation);
      if (operation.operation !== 'query') {
        // Changes of apps and add-ons live at the broker; they change nothing cached here.
        if (roots.size > 0 && [...roots].every((name) => uncacheable.has(name))) return;
        // Whatever a mutation changed, this process's cache must not outlive it.
        return { onExecuteDone: () => invalidate() };
      }
      if ([...roots].some((name) => uncacheable.has(name))) return;
      const allowed = options.cacheableQueryRootFields;
      if (allowed && [...roots].some((name) => !allowed.has(name))) return;
      return {
        onExecuteDone({ result }) {
          if (Symbol.asyncIterator in (result as object)) return;
          if ((result as { errors?: unknown[] }).errors?.length) return;
          const maxAgeMs = (args.contextValue as { cacheMaxAgeMs?: number }).cacheMaxAgeMs;
          if (maxAgeMs !== undefined && maxAgeMs <= 0) return;
          res.locals.responseCacheable = true;
          if (maxAgeMs !== undefined) res.locals.responseMaxAgeMs = maxAgeMs;
        },
      };
    },
  };

  const middleware: RequestHandler = (req, res, next) => {
    // A subscription's event stream is never cached, and must not be buffered here.
    if (req.header('accept')?.includes('text/event-stream')) return next();
    // The request exactly as sent: a GET's URL, a POST's JSON text (`rawBody`, kept by whoever parsed it).
    const text = req.method === 'POST' ? (req as { rawBody?: unknown }).rawBody : undefined;
    const request = req.method === 'GET' ? req.url : typeof text === 'string' && text !== '' ? text : undefined;
    if (request === undefined || request.length > MAX_REQUEST_CHARS) return next();
    freshVersion().then((version) => {
      const key = keyOf(res.locals.principal as Principal, req.header('accept') ?? '', request);
      const hit = currentEntry(key, version);
      if (hit) {
        res.status(200).setHeader('content-type', hit.contentType);
        res.end(hit.body);
        return;
      }
      const chunks: Buffer[] = [];
      const write = res.write.bind(res) as (...args: unknown[]) => boolean;
      const end = res.end.bind(res) as (...args: unknown[]) => Response;
      res.write = ((chunk: unknown, ...rest: unknown[]) => {
        if (isChunk(chunk)) chunks.push(Buffer.from(chunk));
        return write(chunk, ...rest);
      }) as Response['write'];
      res.end = ((chunk?: unknown, ...rest: unknown[]) => {
        if (isChunk(chunk)) chunks.push(Buffer.from(chunk));
        const contentType = res.getHeader('content-type');
        // Computed against `version`; if it moved meanwhile, the response may be stale.
        if (
          res.locals.responseCacheable &&
          res.statusCode === 200 &&
          typeof contentType === 'string' &&
          version === current
        ) {
          const maxAgeMs = res.locals.responseMaxAgeMs as number | undefined;
          entries.set(key, {
            version,
            contentType,
            body: Buffer.concat(chunks),
            ...(maxAgeMs !== undefined ? { expiresAt: Date.now() + maxAgeMs } : {}),
          });
          if (entries.size > options.maxEntries) entries.delete(entries.keys().next().value as string);
        }
        return end(chunk, ...rest);
      }) as Response['end'];
      next();
    }, next);
  };

  return {
    plugin,
    middleware,
    async lookup(principal, accept, request) {
      if (request.length > MAX_REQUEST_CHARS) return undefined;
      return currentEntry(keyOf(principal, accept, request), await freshVersion());
    },
    invalidate,
    get size() {
      return entries.size;
    },
  };
}

/** Names of the fields an operation selects at its root, through fragments too. */
function rootFieldNames(document: DocumentNode, operation: OperationDefinitionNode): Set<string> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const names = new Set<string>();
  const seen = new Set<string>();
  const visit = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) names.add(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) visit(fragment.selectionSet);
      }
    }
  };
  visit(operation.selectionSet);
  return names;
}

function isChunk(chunk: unknown): chunk is string | Uint8Array {
  return typeof chunk === 'string' || chunk instanceof Uint8Array;
}

/** Callers who see the same catalog share cache entries. */
function callerClass(principal: Principal): string {
  switch (principal.kind) {
    case 'anonymous':
      return 'anonymous';
    case 'admin':
      return 'admin';
    case 'platform':
      return `platform:${[...principal.organizations].sort().join(',')}`;
    case 'org':
      return `org:${principal.organization}`;
    case 'provider':
      return `provider:${principal.providerId}`;
  }
}

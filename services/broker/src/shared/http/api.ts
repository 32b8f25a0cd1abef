import { answers } from '@annex/contracts/v1';
import {
  authenticateToken,
  bearerToken,
  DATABASE_RETRY_AFTER_SECONDS,
  internalErrorHandler,
  isDatabaseUnavailable,
  logOf,
  missingScopeMessage,
  OPERATION_SCOPES,
  type RestOperation,
} from '@annex/platform';
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import type { ZodType } from 'zod';
import { findProviderBySlug } from '../db/catalog.js';
import {
  API_ERRORS,
  type ApiCaller,
  type ApiErrorCode,
  ApiFailure,
  hasScope,
  invalidInput,
  type ProviderCaller,
} from '../domain/api-failure.js';
import type { BrokerContext } from '../domain/context.js';
import { BrokerFailure } from '../domain/errors.js';
import { pathFailure, RequestFailure } from './request-input.js';

/** Express middleware: a bearer org, platform or admin token, else 401. Sets `res.locals.caller`. */
export function authenticateApiCaller(ctx: BrokerContext) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const token = bearerToken(req.header('authorization'));
      const principal = token ? await authenticateToken(ctx.db, token) : null;
      if (!principal || principal.kind === 'anonymous' || principal.kind === 'provider') {
        throw new ApiFailure(
          'unauthorized',
          principal
            ? 'a provider token cannot use the apps API; use an org, platform or admin token'
            : token
              ? 'the API token is unknown, revoked or expired'
              : 'an API token is required (Authorization: Bearer annex_…)',
        );
      }
      let organizationIds: readonly string[] | 'all';
      if (principal.kind === 'admin') organizationIds = 'all';
      else if (principal.kind === 'org') organizationIds = [principal.organizationId];
      else organizationIds = principal.organizationIds;
      const caller: ApiCaller = { principal, organizationIds, scopes: principal.scopes };
      res.locals.caller = caller;
      next();
    } catch (error) {
      next(error);
    }
  };
}

/**
 * Express middleware for a provider's own routes (`/v1/providers/:provider/...`): a bearer
 * provider or admin token, else 401. Sets `res.locals.providerCaller`; `providerOf` then
 * resolves the route's provider among those the caller may see.
 */
export function authenticateProviderCaller(ctx: BrokerContext) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const token = bearerToken(req.header('authorization'));
      const principal = token ? await authenticateToken(ctx.db, token) : null;
      if (!principal || (principal.kind !== 'provider' && principal.kind !== 'admin')) {
        throw new ApiFailure(
          'unauthorized',
          principal
            ? "a provider's own data needs that provider's token (or an admin token)"
            : token
              ? 'the API token is unknown, revoked or expired'
              : 'an API token is required (Authorization: Bearer annex_…)',
        );
      }
      const caller: ProviderCaller = {
        principal,
        providerIds: principal.kind === 'admin' ? 'all' : [principal.providerId],
      };
      res.locals.providerCaller = caller;
      next();
    } catch (error) {
      next(error);
    }
  };
}

export function providerCallerOf(res: Response): ProviderCaller {
  const caller = res.locals.providerCaller as ProviderCaller | undefined;
  if (!caller) throw new ApiFailure('unauthorized', 'not authenticated');
  return caller;
}

/**
 * The provider a route's `:provider` slug names, if the caller may see it. Another provider's
 * slug answers the same 404 as an unknown one, so a token learns nothing of other providers.
 */
export async function providerOf(
  ctx: BrokerContext,
  res: Response,
  slug: string,
): Promise<{ id: string; slug: string; name: string }> {
  const caller = providerCallerOf(res);
  const provider = await findProviderBySlug(ctx.db, slug);
  if (!provider || (caller.providerIds !== 'all' && !caller.providerIds.includes(provider.id))) {
    throw new ApiFailure('not_found', `no provider ${slug} you can see`);
  }
  return provider;
}

/**
 * Whether the bearer token `req` was authenticated with is still usable (not revoked, not
 * expired), for requests that last: each answer of a long one must not outlive its token.
 */
export async function tokenStillUsable(ctx: BrokerContext, req: Request): Promise<boolean> {
  const token = bearerToken(req.header('authorization'));
  return token !== undefined && (await authenticateToken(ctx.db, token)) !== null;
}

export function callerOf(res: Response): ApiCaller {
  const caller = res.locals.caller as ApiCaller | undefined;
  if (!caller) throw new ApiFailure('unauthorized', 'not authenticated');
  return caller;
}

/**
 * Registers the routes of the scope table (`OPERATION_SCOPES` of @annex/platform) on a router
 * mounted at `mount`: `route('DELETE /v1/addons/:addon', handler)`, after `authenticateApiCaller`
 * or (a provider's own routes) `authenticateProviderCaller`. A caller whose token lacks
 * the route's scope is answered 403 `forbidden` naming it, before the last handler runs (the
 * handlers before it, such as authentication, run first).
 */
/** A route registrar made by `scopedRoutes`. */
export type ScopedRoute = (operation: RestOperation, ...handlers: [...RequestHandler[], RequestHandler]) => void;

export function scopedRoutes(router: Router, mount: string, options: { checkAnswers?: boolean } = {}): ScopedRoute {
  return (operation: RestOperation, ...handlers: [...RequestHandler[], RequestHandler]): void => {
    const [method, path] = operation.split(' ') as [string, string];
    if (!path.startsWith(`${mount}/`)) throw new Error(`${operation} is not under ${mount}`);
    const scope = OPERATION_SCOPES[operation];
    const needsScope: RequestHandler = (_req, res, next) => {
      const caller = (res.locals.caller ?? res.locals.providerCaller) as ApiCaller | ProviderCaller | undefined;
      if (!caller) throw new ApiFailure('unauthorized', 'not authenticated');
      if (!hasScope(caller, scope)) {
        throw new ApiFailure('forbidden', missingScopeMessage(scope), { scope });
      }
      next();
    };
    const contract = options.checkAnswers ? (answers as Partial<Record<string, ZodType>>)[operation] : undefined;
    const last = handlers[handlers.length - 1] as RequestHandler;
    router[method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete'](
      path.slice(mount.length),
      ...handlers.slice(0, -1),
      needsScope,
      ...(contract ? [answersChecked(operation, contract)] : []),
      last,
    );
  };
}

/**
 * Holds a route's successful answers to its contract (@annex/contracts/v1), as they go out in
 * JSON: an answer outside it throws (a 500), so a test that calls the route fails.
 */
function answersChecked(operation: string, contract: ZodType): RequestHandler {
  return (_req, res, next) => {
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      if (res.statusCode < 300) {
        const checked = contract.safeParse(JSON.parse(JSON.stringify(body)));
        if (!checked.success) {
          const issue = checked.error.issues[0];
          throw new Error(
            `${operation} answered outside its contract: ${issue?.path.join('.') || '(root)'} ${issue?.message}`,
          );
        }
      }
      return json(body);
    };
    next();
  };
}

/** Parses a body with zod; the first problem becomes an `invalid_input` naming its field. */
export function parseBody<T>(schema: ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw invalidInput(issue?.path.join('.') || 'body', issue?.message ?? 'invalid');
}

/**
 * The `/v1` error handler: ApiFailure → its status and body; a body, path or query refused
 * before any handler ran, or a path parameter express could not decode → `invalid_input`
 * naming its field; a database outage → 503
 * `unavailable` with `Retry-After`; anything else → the next handler (500).
 */
export function apiErrorHandler(error: unknown, req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) {
    next(error);
    return;
  }
  if (error instanceof RequestFailure) {
    res.status(error.status).json({ error: 'invalid_input', message: error.message, field: error.field });
    return;
  }
  // Express could not decode a path parameter before `cleanRequestTarget` ran (a route
  // matched first): the same answer that check gives.
  if (error instanceof URIError) {
    const failure =
      pathFailure(req.path) ?? new RequestFailure(400, 'BadRequest', 'path', 'not valid percent-encoding');
    res.status(failure.status).json({ error: 'invalid_input', message: failure.message, field: failure.field });
    return;
  }
  if (error instanceof BrokerFailure) {
    const code: ApiErrorCode =
      error.code === 'BadRequest'
        ? 'invalid_input'
        : error.code === 'NotFound' || error.code === 'Gone'
          ? 'not_found'
          : error.code === 'ProviderFailed' || error.code === 'ProviderRejected'
            ? 'provider_failed'
            : 'conflict';
    res.status(API_ERRORS[code]).json({ error: code, message: error.message });
    return;
  }
  if (error instanceof ApiFailure) {
    res.status(API_ERRORS[error.code]).json({ error: error.code, message: error.message, ...error.extra });
    return;
  }
  // The Stripe webhook reads its raw bytes with express.raw, which has its own size limit.
  if ((error as { type?: string } | undefined)?.type === 'entity.too.large') {
    res.status(413).json({ error: 'invalid_input', message: 'body: too large', field: 'body' });
    return;
  }
  if (isDatabaseUnavailable(error)) {
    logOf(res)?.warn({ err: error }, 'database unavailable');
    res.setHeader('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
    res.status(503).json({ error: 'unavailable', message: 'the broker cannot reach its database; retry later' });
    return;
  }
  next(error);
}

/** The last handler of `/v1`: a 500 in the API's error shape, with the request id only. */
export const apiInternalErrorHandler = internalErrorHandler((requestId) => ({
  error: 'internal',
  message: `internal error; request id ${requestId}`,
}));

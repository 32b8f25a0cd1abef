import { authenticateToken, bearerToken } from '@annex/platform';
import {
  operationCompletionRequest,
  type ProviderCallbackRoute,
  providerConfigRequest,
  usageReportRequest,
} from '@annex/sdk/callbacks';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { ZodType } from 'zod';
import { applyProviderConfig } from '../../apps/index.js';
import { allowance, recordUsage } from '../../billing/index.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import { BrokerFailure } from '../../shared/domain/errors.js';
import { cleanRequestTarget, jsonBody } from '../../shared/http/request-input.js';
import { reportOperationEnded } from '../domain/provider-callbacks.js';
import { osbError, osbErrorHandler } from './errors.js';

/**
 * Provider → broker callbacks (docs/provider-protocol.md §3), mounted at `/v1/provider`,
 * authenticated with the provider's API token. Built so far: early completion of async
 * operations, config pushes (apps), metered usage and the spend-cap allowance (billing).
 * Its routes and bodies are the SDK's callback contract (`PROVIDER_CALLBACKS`, @annex/sdk/callbacks).
 */
export function providerRouter(ctx: BrokerContext, options: { wakeWebhooks(): void }): express.Router {
  const router = express.Router();
  router.use(cleanRequestTarget, authenticateProvider(ctx.db), jsonBody(1024 * 1024));
  const route = (callback: ProviderCallbackRoute, handler: RequestHandler) => {
    const [method, path] = callback.split(' ') as [string, string];
    router[method.toLowerCase() as 'get' | 'post'](path.slice('/v1/provider'.length), handler);
  };
  route('POST /v1/provider/operations/:operation/complete', async (req: Request, res: Response) => {
    const body = parseCallbackBody(operationCompletionRequest, req.body);
    const caller = res.locals.provider as { providerId: string; tokenId: string };
    const result = await reportOperationEnded(ctx, caller, String(req.params.operation), body);
    res.status(202).json(result);
  });
  route('POST /v1/provider/instances/:instance/config', async (req: Request, res: Response) => {
    const body = parseCallbackBody(providerConfigRequest, req.body);
    const caller = res.locals.provider as { providerId: string; tokenId: string };
    const result = await applyProviderConfig(ctx, caller, String(req.params.instance), body);
    options.wakeWebhooks();
    res.status(200).json(result);
  });
  route('POST /v1/provider/usage', async (req: Request, res: Response) => {
    const body = parseCallbackBody(usageReportRequest, req.body);
    const caller = res.locals.provider as { providerId: string; tokenId: string };
    res.status(202).json(await recordUsage(ctx, caller.providerId, body.records));
  });
  route('GET /v1/provider/instances/:instance/allowance', async (req: Request, res: Response) => {
    const unit = typeof req.query.unit === 'string' ? req.query.unit : '';
    if (!unit) throw new BrokerFailure('BadRequest', 'unit: required (?unit=…)');
    const caller = res.locals.provider as { providerId: string; tokenId: string };
    res.json(await allowance(ctx, caller.providerId, String(req.params.instance), unit));
  });
  router.use((_req, res) => {
    osbError(res, 404, 'NotFound', 'no such provider callback');
  });
  router.use(osbErrorHandler);
  return router;
}

/** Parses a callback's body with its contract; the first problem is a 400 naming its field. */
function parseCallbackBody<T>(schema: ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const problem = parsed.error.issues[0];
  throw new BrokerFailure('BadRequest', `${problem?.path.join('.') || 'body'}: ${problem?.message ?? 'invalid'}`);
}

function authenticateProvider(db: BrokerContext['db']) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const token = bearerToken(req.header('authorization'));
    const principal = token ? await authenticateToken(db, token) : null;
    if (!principal || principal.kind !== 'provider') {
      osbError(res, 401, 'Unauthorized', 'a provider API token is required (Authorization: Bearer annex_provider_…)');
      return;
    }
    res.locals.provider = { providerId: principal.providerId, tokenId: principal.tokenId };
    next();
  };
}

import { authenticateToken, bearerToken } from '@annex/platform';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { applyProviderConfig } from '../../apps/index.js';
import { allowance, recordUsage } from '../../billing/index.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import { BrokerFailure } from '../../shared/domain/errors.js';
import { cleanRequestTarget, idString, jsonBody } from '../../shared/http/request-input.js';
import { reportOperationEnded } from '../domain/provider-callbacks.js';
import { osbError, osbErrorHandler } from './errors.js';

const configBody = z.object({
  config: z.record(z.string(), z.string().max(65_536)),
  reason: z.string().max(500).default(''),
});

const usageBody = z.object({
  records: z
    .array(
      z.object({
        idempotencyKey: idString(200),
        instanceId: idString(100),
        unit: idString(100),
        quantity: z.number().finite().min(0),
        at: z.string().min(1).max(64),
      }),
    )
    .min(1)
    .max(1000),
});

const completionBody = z.object({
  state: z.enum(['succeeded', 'failed']),
  description: z.string().max(10_000).default(''),
});

/**
 * Provider → broker callbacks (docs/provider-protocol.md §3), mounted at `/v1/provider`,
 * authenticated with the provider's API token. Built so far: early completion of async
 * operations, config pushes (apps), metered usage and the spend-cap allowance (billing).
 */
export function providerRouter(ctx: BrokerContext, options: { wakeWebhooks(): void }): express.Router {
  const router = express.Router();
  router.use(cleanRequestTarget, authenticateProvider(ctx.db), jsonBody(1024 * 1024));
  router.post('/operations/:operation/complete', async (req: Request, res: Response) => {
    const parsed = completionBody.safeParse(req.body);
    if (!parsed.success) {
      const problem = parsed.error.issues[0];
      throw new BrokerFailure('BadRequest', `${problem?.path.join('.') || 'body'}: ${problem?.message ?? 'invalid'}`);
    }
    const caller = res.locals.provider as { providerId: string; tokenId: string };
    const result = await reportOperationEnded(ctx, caller, String(req.params.operation), parsed.data);
    res.status(202).json(result);
  });
  router.post('/instances/:instance/config', async (req: Request, res: Response) => {
    const parsed = configBody.safeParse(req.body);
    if (!parsed.success) {
      const problem = parsed.error.issues[0];
      throw new BrokerFailure('BadRequest', `${problem?.path.join('.') || 'body'}: ${problem?.message ?? 'invalid'}`);
    }
    const caller = res.locals.provider as { providerId: string; tokenId: string };
    const result = await applyProviderConfig(ctx, caller, String(req.params.instance), parsed.data);
    options.wakeWebhooks();
    res.status(200).json(result);
  });
  router.post('/usage', async (req: Request, res: Response) => {
    const parsed = usageBody.safeParse(req.body);
    if (!parsed.success) {
      const problem = parsed.error.issues[0];
      throw new BrokerFailure('BadRequest', `${problem?.path.join('.') || 'body'}: ${problem?.message ?? 'invalid'}`);
    }
    const caller = res.locals.provider as { providerId: string; tokenId: string };
    res.status(202).json(await recordUsage(ctx, caller.providerId, parsed.data.records));
  });
  router.get('/instances/:instance/allowance', async (req: Request, res: Response) => {
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

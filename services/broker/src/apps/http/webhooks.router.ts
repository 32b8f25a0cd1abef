import { rotateWebhookRequest, webhookDelivery, webhookRequest } from '@annex/contracts/v1';
import express, { type Request, type Response } from 'express';
import { type ApiCaller, ApiFailure, invalidInput, notFoundFailure } from '../../shared/domain/api-failure.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import { callerOf, parseBody, scopedRoutes } from '../../shared/http/api.js';
import { visibleAppId } from '../domain/access.js';
import {
  configurePlatformWebhook,
  type DeliveryVisibility,
  deliveryTargetUrl,
  findWebhookDelivery,
  listWebhookDeliveries,
  platformWebhook,
  redeliverWebhook,
  removePlatformWebhook,
  rotatePlatformWebhookSecret,
  webhookUrlProblem,
} from '../domain/webhooks.js';

const DELIVERY_STATES = webhookDelivery.shape.state.options;

/**
 * Webhook settings of the calling platform and the delivery log (docs/apps.md,
 * "Webhooks"). Mounted at `/v1` after `authenticateApiCaller` and `jsonBody`;
 * failures are thrown as `ApiFailure` for `apiErrorHandler`.
 */
export function webhookRouter(ctx: BrokerContext, options: { wake(): void }): express.Router {
  const router = express.Router();
  const route = scopedRoutes(router, '/v1');

  route('GET /v1/platforms/self/webhook', async (_req: Request, res: Response) => {
    const platformId = platformOf(callerOf(res));
    res.json(await platformWebhook(ctx.db, platformId));
  });

  // A new secret; the current one keeps signing beside it for the overlap (default one day).
  route('POST /v1/platforms/self/webhook/rotate', async (req: Request, res: Response) => {
    const platformId = platformOf(callerOf(res));
    const { previousSecretValidForSeconds } = parseBody(rotateWebhookRequest, req.body ?? {});
    const rotated = await rotatePlatformWebhookSecret(ctx.db, ctx.secretBox, platformId, previousSecretValidForSeconds);
    if (!rotated) {
      throw new ApiFailure(
        'conflict',
        'this platform has no webhook; set one with PUT /v1/platforms/self/webhook first',
      );
    }
    res.json(rotated);
  });

  route('PUT /v1/platforms/self/webhook', async (req: Request, res: Response) => {
    const platformId = platformOf(callerOf(res));
    const { url } = parseBody(webhookRequest, req.body);
    const problem = webhookUrlProblem(url, ctx.outbound);
    if (problem) throw invalidInput('url', problem);
    res.json(await configurePlatformWebhook(ctx.db, ctx.secretBox, platformId, url));
  });

  route('DELETE /v1/platforms/self/webhook', async (_req: Request, res: Response) => {
    await removePlatformWebhook(ctx.db, platformOf(callerOf(res)));
    res.status(204).end();
  });

  route('GET /v1/webhook-deliveries', async (req: Request, res: Response) => {
    const caller = callerOf(res);
    const visibility = visibilityOf(caller);
    const state = singleQuery(req, 'state');
    if (state !== undefined && !(DELIVERY_STATES as readonly string[]).includes(state)) {
      throw invalidInput('state', `must be one of ${DELIVERY_STATES.join(', ')}`);
    }
    const app = singleQuery(req, 'app');
    let appId: string | undefined;
    if (app !== undefined) {
      if (app === '') throw invalidInput('app', 'must be an app name or id');
      appId = await visibleAppId(ctx.db, caller, app);
      if (!appId) throw notFoundFailure(`app "${app}"`);
    }
    const deliveries = await listWebhookDeliveries(ctx.db, visibility, {
      ...(appId !== undefined ? { appId } : {}),
      ...(state !== undefined ? { state: state as (typeof DELIVERY_STATES)[number] } : {}),
      limit: 100,
    });
    res.json({ deliveries });
  });

  route('POST /v1/webhook-deliveries/:id/redeliver', async (req: Request, res: Response) => {
    const visibility = visibilityOf(callerOf(res));
    const id = String(req.params.id);
    const delivery = await findWebhookDelivery(ctx.db, visibility, id);
    if (!delivery) throw notFoundFailure('webhook delivery');
    if (!(await deliveryTargetUrl(ctx.db, id))) {
      throw new ApiFailure(
        'conflict',
        `platform "${delivery.platform}" has no webhook URL; set one with PUT /v1/platforms/self/webhook first`,
      );
    }
    await redeliverWebhook(ctx.db, id);
    options.wake();
    res.status(202).json(await findWebhookDelivery(ctx.db, visibility, id));
  });

  return router;
}

/** The calling platform's id; webhook settings belong to platforms only. */
function platformOf(caller: ApiCaller): string {
  if (caller.principal.kind !== 'platform') {
    throw new ApiFailure('forbidden', 'only a platform token can manage its webhook');
  }
  return caller.principal.platformId;
}

function visibilityOf(caller: ApiCaller): DeliveryVisibility {
  return caller.principal.kind === 'platform'
    ? { platformId: caller.principal.platformId, organizationIds: caller.organizationIds }
    : { organizationIds: caller.organizationIds };
}

function singleQuery(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidInput(name, 'must be given once, as text');
  return value;
}

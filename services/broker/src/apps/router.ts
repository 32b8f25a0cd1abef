import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { BrokerContext } from '../domain/context.js';
import { cleanRequestTarget, idString, jsonBody } from '../http/request-input.js';
import {
  ApiFailure,
  apiErrorHandler,
  apiInternalErrorHandler,
  authenticateApiCaller,
  callerOf,
  invalidInput,
  parseBody,
  tokenStillUsable,
} from './http.js';
import { listReleases } from './releases.js';
import * as service from './service.js';
import { findAddon, findApp, findVisibleAddon, listAddons, listApps } from './store.js';
import { addonViews, appView, appViews, attachmentViews } from './views.js';
import { webhookRouter } from './webhooks.router.js';

// The apps API (docs/apps.md), mounted at `/v1` after the provider callbacks.

const attachFields = {
  as: z.string().max(40).optional(),
  replace: z.boolean().optional(),
};
const parameters = z.record(z.string(), z.unknown()).optional();
const createAddonBody = z.object({ plan: idString(200), parameters, ...attachFields });
const attachBody = z.object({ addon: idString(200), ...attachFields });
const preflightBody = z.object({
  plan: idString(200).optional(),
  addon: idString(200).optional(),
  parameters,
  ...attachFields,
});
const createAppBody = z.object({ name: z.string().max(64), organization: idString(64).optional() });
const changePlanBody = z.object({ plan: idString(200) });
const rotateBody = z.object({
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .optional(),
});
const setVarsBody = z.object({
  vars: z.record(z.string(), z.string().max(65_536).nullable()),
  reason: z.string().max(500).optional(),
  secret: z.boolean().optional(),
});
/** Release numbers are PostgreSQL `integer`s: a larger one is refused here, not by a query. */
const releaseNumber = z.number().int().min(1).max(2_147_483_647);
const versionBody = z.object({ version: releaseNumber });
const confirmBody = z.object({ release: releaseNumber });

const MAX_EVENT_WAIT_MS = 25_000;
/** How often a waiting events poll checks again that its token is still usable. */
const TOKEN_RECHECK_MS = 1_000;

export function appsRouter(ctx: BrokerContext, options: { wakeWebhooks(): void }): express.Router {
  const router = express.Router();
  router.use(cleanRequestTarget, jsonBody(256 * 1024));
  router.use(authenticateApiCaller(ctx));
  const db = ctx.db;

  router.get('/apps', async (_req, res) => {
    res.json({ apps: await appViews(db, await listApps(db, callerOf(res))) });
  });
  router.post('/apps', async (req, res) => {
    const app = await service.createApp(ctx, callerOf(res), parseBody(createAppBody, req.body));
    res.status(201).json(await appView(db, callerOf(res), app, false));
  });
  router.get('/apps/:app', async (req, res) => {
    res.json(await appView(db, callerOf(res), await findApp(db, callerOf(res), param(req, 'app')), true));
  });

  router.get('/addons', async (req, res) => {
    const caller = callerOf(res);
    const appRef = typeof req.query.app === 'string' ? req.query.app : undefined;
    const app = appRef ? await findApp(db, caller, appRef) : undefined;
    res.json({ addons: await addonViews(db, caller, await listAddons(db, caller, app?.id)) });
  });
  router.get('/addons/:addon', async (req, res) => {
    const caller = callerOf(res);
    const [view] = await addonViews(db, caller, [await findVisibleAddon(db, caller, param(req, 'addon'))]);
    res.json(view);
  });

  const answerAddon = async (res: Response, addonId: string, status?: number) => {
    const [view] = await addonViews(db, callerOf(res), [await findAddon(db, callerOf(res), addonId)]);
    res
      .status(status ?? (view?.state === 'provisioned' || view?.state === 'destroyed' ? 200 : 202))
      .json({ addon: view });
  };
  const attachmentById = async (res: Response, id: string) => {
    const row = await db.selectFrom('attachments').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const [view] = await attachmentViews(db, callerOf(res), [row]);
    return view;
  };

  router.post('/apps/:app/addons/preflight', async (req, res) => {
    const body = parseBody(preflightBody, req.body);
    res.json(await service.preflight(ctx, callerOf(res), param(req, 'app'), body));
  });
  router.post('/apps/:app/addons', async (req, res) => {
    const body = parseBody(createAddonBody, req.body);
    const created = await service.createAddon(ctx, callerOf(res), param(req, 'app'), body);
    const [addon] = await addonViews(db, callerOf(res), [await findAddon(db, callerOf(res), created.addonId)]);
    const attachment = await attachmentById(res, created.attachmentId);
    res.status(attachment?.state === 'attached' ? 201 : 202).json({ addon, attachment });
  });
  router.post('/apps/:app/attachments/preflight', async (req, res) => {
    const body = parseBody(attachBody, req.body);
    res.json(await service.preflight(ctx, callerOf(res), param(req, 'app'), body));
  });
  router.post('/apps/:app/attachments', async (req, res) => {
    const body = parseBody(attachBody, req.body);
    const { attachmentId } = await service.attachAddon(ctx, callerOf(res), param(req, 'app'), body);
    const attachment = await attachmentById(res, attachmentId);
    res.status(attachment?.state === 'attached' ? 201 : 202).json({ attachment });
  });
  router.delete('/apps/:app/attachments/:name', async (req, res) => {
    const { attachmentId } = await service.detachAddon(ctx, callerOf(res), param(req, 'app'), param(req, 'name'));
    const attachment = await attachmentById(res, attachmentId);
    res.status(attachment?.state === 'detached' ? 200 : 202).json({ attachment });
  });

  router.delete('/addons/:addon', async (req, res) => {
    const { addonId } = await service.destroyAddon(ctx, callerOf(res), param(req, 'addon'));
    await answerAddon(res, addonId);
  });
  router.patch('/addons/:addon', async (req, res) => {
    const body = parseBody(changePlanBody, req.body);
    const { addonId } = await service.changeAddonPlan(ctx, callerOf(res), param(req, 'addon'), body.plan);
    await answerAddon(res, addonId);
  });
  router.post('/addons/:addon/rotate', async (req, res) => {
    const body = parseBody(rotateBody, req.body);
    const { addonId } = await service.rotateAddonCredentials(
      ctx,
      callerOf(res),
      param(req, 'addon'),
      body.graceSeconds,
    );
    await answerAddon(res, addonId, 202);
  });

  const shareBody = z.object({ organization: idString(64) });
  router.get('/addons/:addon/shares', async (req, res) => {
    res.json(await service.listShares(ctx, callerOf(res), param(req, 'addon')));
  });
  router.post('/addons/:addon/shares', async (req, res) => {
    const body = parseBody(shareBody, req.body);
    res.status(201).json(await service.shareAddon(ctx, callerOf(res), param(req, 'addon'), body.organization));
  });
  router.delete('/addons/:addon/shares/:organization', async (req, res) => {
    res.json(await service.unshareAddon(ctx, callerOf(res), param(req, 'addon'), param(req, 'organization')));
  });

  router.get('/apps/:app/config-vars', async (req, res) => {
    const pulled = await service.pullConfigVars(ctx, callerOf(res), param(req, 'app'));
    const etag = `"release-${pulled.release}"`;
    res.setHeader('etag', etag);
    res.setHeader('cache-control', 'private, no-store');
    if (req.header('if-none-match') === etag) {
      res.status(304).end();
      return;
    }
    res.json(pulled);
  });
  router.get('/apps/:app/config-var-names', async (req, res) => {
    res.json(await service.configVarNames(ctx, callerOf(res), param(req, 'app')));
  });
  router.patch('/apps/:app/config-vars', async (req, res) => {
    const body = parseBody(setVarsBody, req.body);
    const release = await service.setConfigVars(ctx, callerOf(res), param(req, 'app'), body);
    options.wakeWebhooks();
    res.json(release ?? { unchanged: true });
  });
  router.post('/apps/:app/config-vars/confirm', async (req, res) => {
    const body = parseBody(confirmBody, req.body);
    await service.confirmRelease(ctx, callerOf(res), param(req, 'app'), body.release);
    res.status(204).end();
  });

  router.get('/apps/:app/releases', async (req, res) => {
    const app = await findApp(db, callerOf(res), param(req, 'app'));
    res.json({ releases: await listReleases(db, app.id) });
  });
  router.post('/apps/:app/releases/rollback', async (req, res) => {
    const body = parseBody(versionBody, req.body);
    const release = await service.rollbackConfig(ctx, callerOf(res), param(req, 'app'), body.version);
    options.wakeWebhooks();
    res.status(201).json(release);
  });

  router.get('/apps/:app/events', async (req, res) => {
    const app = await findApp(db, callerOf(res), param(req, 'app'));
    const after = typeof req.query.after === 'string' && req.query.after !== '' ? req.query.after : '0';
    if (!/^\d{1,18}$/.test(after)) throw invalidInput('after', 'must be an event id');
    const waitMs = Math.min(Number(req.query.waitMs ?? 0) || 0, MAX_EVENT_WAIT_MS);
    const until = Date.now() + waitMs;
    let closed = false;
    req.on('close', () => {
      closed = true;
    });
    let tokenCheckedAt = Date.now();
    for (;;) {
      const rows = await db
        .selectFrom('app_events as e')
        .leftJoin('addons as a', 'a.id', 'e.addon_id')
        .select(['e.id', 'e.kind', 'e.detail', 'e.created_at', 'a.name as addon'])
        .where('e.app_id', '=', app.id)
        .where('e.id', '>', after)
        .orderBy('e.id')
        .limit(100)
        .execute();
      // A poll outlives its token's revocation or expiry by at most a second, and answers
      // events only after the token was found good again, so no event written after the
      // token ended reaches its holder.
      if (!closed && (rows.length > 0 || Date.now() - tokenCheckedAt >= TOKEN_RECHECK_MS)) {
        if (!(await tokenStillUsable(ctx, req))) {
          throw new ApiFailure('unauthorized', 'the API token was revoked or has expired; the event stream ended');
        }
        tokenCheckedAt = Date.now();
      }
      if (rows.length > 0 || Date.now() >= until || closed) {
        res.json({
          events: rows.map((r) => ({
            id: String(r.id),
            app: app.name,
            addon: r.addon,
            kind: r.kind,
            detail: r.detail,
            createdAt: r.created_at,
          })),
        });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  router.use(webhookRouter(ctx, { wake: options.wakeWebhooks }));
  router.use((_req, _res) => {
    throw new ApiFailure('not_found', 'no such endpoint of the apps API (see docs/apps.md)');
  });
  router.use(apiErrorHandler);
  router.use(apiInternalErrorHandler);
  return router;
}

function param(req: Request, name: string): string {
  const value = req.params[name];
  if (typeof value !== 'string' || value === '') throw invalidInput(name, 'missing');
  return value;
}

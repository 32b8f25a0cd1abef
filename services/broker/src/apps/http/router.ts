import {
  type AppInclude,
  appInclude,
  attachRequest,
  changePlanRequest,
  confirmReleaseRequest,
  createAddonRequest,
  createAppRequest,
  preflightRequest,
  rollbackRequest,
  rotateRequest,
  setConfigVarsRequest,
  shareRequest,
} from '@annex/contracts/v1';
import express, { type Request, type Response } from 'express';
import { ApiFailure, invalidInput } from '../../shared/domain/api-failure.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import {
  apiErrorHandler,
  apiInternalErrorHandler,
  authenticateApiCaller,
  callerOf,
  parseBody,
  scopedRoutes,
  tokenStillUsable,
} from '../../shared/http/api.js';
import { cleanRequestTarget, jsonBody } from '../../shared/http/request-input.js';
import { listAppEventsAfter } from '../db/apps.js';
import { getAttachment } from '../db/attachments.js';
import { findAddon, findApp, findVisibleAddon, listAddons, listApps } from '../domain/access.js';
import { listReleases, releaseSeenBy } from '../domain/releases.js';
import * as service from '../domain/service.js';
import { type AppIncludes, addonViews, appDetailView, appViews, attachmentViews } from './views.js';
import { webhookRouter } from './webhooks.router.js';

// The apps API (docs/apps.md), mounted at `/v1` after the provider callbacks.

const MAX_EVENT_WAIT_MS = 25_000;
/**
 * How often a waiting events poll reads again with no notification (one lost, or a token
 * that simply expired); without a listening connection, how often it reads at all.
 */
const EVENTS_FALLBACK_MS = 10_000;
const EVENTS_UNLISTENED_MS = 1_000;

export function appsRouter(
  ctx: BrokerContext,
  options: {
    wakeWebhooks(): void;
    /** Check every answer against its contract (@annex/contracts/v1); tests turn it on. */
    checkAnswers?: boolean;
  },
): express.Router {
  const router = express.Router();
  router.use(cleanRequestTarget, jsonBody(256 * 1024));
  router.use(authenticateApiCaller(ctx));
  const route = scopedRoutes(router, '/v1', { checkAnswers: options.checkAnswers ?? false });
  const db = ctx.db;

  route('GET /v1/apps', async (req, res) => {
    const include = appIncludes(req.query.include);
    const caller = callerOf(res);
    res.json({ apps: await appViews(db, caller, await listApps(db, caller), include) });
  });
  route('POST /v1/apps', async (req, res) => {
    const caller = callerOf(res);
    const app = await service.createApp(ctx, caller, parseBody(createAppRequest, req.body));
    const [view] = await appViews(db, caller, [app]);
    res.status(201).json(view);
  });
  route('GET /v1/apps/:app', async (req, res) => {
    res.json(await appDetailView(db, callerOf(res), await findApp(db, callerOf(res), param(req, 'app'))));
  });

  route('GET /v1/addons', async (req, res) => {
    const caller = callerOf(res);
    const appRef = typeof req.query.app === 'string' ? req.query.app : undefined;
    const app = appRef ? await findApp(db, caller, appRef) : undefined;
    res.json({ addons: await addonViews(db, caller, await listAddons(db, caller, app?.id)) });
  });
  route('GET /v1/addons/:addon', async (req, res) => {
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
    const row = await getAttachment(db, id);
    const [view] = await attachmentViews(db, callerOf(res), [row]);
    return view;
  };

  route('POST /v1/apps/:app/addons/preflight', async (req, res) => {
    const body = parseBody(preflightRequest, req.body);
    res.json(await service.preflight(ctx, callerOf(res), param(req, 'app'), body));
  });
  route('POST /v1/apps/:app/addons', async (req, res) => {
    const body = parseBody(createAddonRequest, req.body);
    const created = await service.createAddon(ctx, callerOf(res), param(req, 'app'), body);
    const row = created.addon ?? (await findAddon(db, callerOf(res), created.addonId));
    const [addon] = await addonViews(db, callerOf(res), [row]);
    // The add-on's view holds its live attachments; one that failed (and so ended) is read on its own.
    const attachment =
      addon?.attachments.find((a) => a.id === created.attachmentId) ??
      (await attachmentById(res, created.attachmentId));
    res.status(attachment?.state === 'attached' ? 201 : 202).json({ addon, attachment });
  });
  route('POST /v1/apps/:app/attachments/preflight', async (req, res) => {
    const body = parseBody(attachRequest, req.body);
    res.json(await service.preflight(ctx, callerOf(res), param(req, 'app'), body));
  });
  route('POST /v1/apps/:app/attachments', async (req, res) => {
    const body = parseBody(attachRequest, req.body);
    const { attachmentId } = await service.attachAddon(ctx, callerOf(res), param(req, 'app'), body);
    const attachment = await attachmentById(res, attachmentId);
    res.status(attachment?.state === 'attached' ? 201 : 202).json({ attachment });
  });
  route('DELETE /v1/apps/:app/attachments/:name', async (req, res) => {
    const { attachmentId } = await service.detachAddon(ctx, callerOf(res), param(req, 'app'), param(req, 'name'));
    const attachment = await attachmentById(res, attachmentId);
    res.status(attachment?.state === 'detached' ? 200 : 202).json({ attachment });
  });

  route('DELETE /v1/addons/:addon', async (req, res) => {
    const { addonId } = await service.destroyAddon(ctx, callerOf(res), param(req, 'addon'));
    await answerAddon(res, addonId);
  });
  route('PATCH /v1/addons/:addon', async (req, res) => {
    const body = parseBody(changePlanRequest, req.body);
    const { addonId } = await service.changeAddonPlan(ctx, callerOf(res), param(req, 'addon'), body.plan);
    await answerAddon(res, addonId);
  });
  route('POST /v1/addons/:addon/rotate', async (req, res) => {
    const body = parseBody(rotateRequest, req.body);
    const { addonId } = await service.rotateAddonCredentials(
      ctx,
      callerOf(res),
      param(req, 'addon'),
      body.graceSeconds,
    );
    await answerAddon(res, addonId, 202);
  });

  route('GET /v1/addons/:addon/shares', async (req, res) => {
    res.json(await service.listShares(ctx, callerOf(res), param(req, 'addon')));
  });
  route('POST /v1/addons/:addon/shares', async (req, res) => {
    const body = parseBody(shareRequest, req.body);
    res.status(201).json(await service.shareAddon(ctx, callerOf(res), param(req, 'addon'), body.organization));
  });
  route('DELETE /v1/addons/:addon/shares/:organization', async (req, res) => {
    res.json(await service.unshareAddon(ctx, callerOf(res), param(req, 'addon'), param(req, 'organization')));
  });

  route('GET /v1/apps/:app/config-vars', async (req, res) => {
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
  route('GET /v1/apps/:app/config-var-names', async (req, res) => {
    res.json(await service.configVarNames(ctx, callerOf(res), param(req, 'app')));
  });
  route('PATCH /v1/apps/:app/config-vars', async (req, res) => {
    const body = parseBody(setConfigVarsRequest, req.body);
    const release = await service.setConfigVars(ctx, callerOf(res), param(req, 'app'), body);
    options.wakeWebhooks();
    res.json(release ? releaseSeenBy(callerOf(res), release) : { unchanged: true });
  });
  route('POST /v1/apps/:app/config-vars/confirm', async (req, res) => {
    const body = parseBody(confirmReleaseRequest, req.body);
    await service.confirmRelease(ctx, callerOf(res), param(req, 'app'), body.release);
    res.status(204).end();
  });

  route('GET /v1/apps/:app/releases', async (req, res) => {
    const app = await findApp(db, callerOf(res), param(req, 'app'));
    const releases = await listReleases(db, app.id);
    res.json({ releases: releases.map((release) => releaseSeenBy(callerOf(res), release)) });
  });
  route('POST /v1/apps/:app/releases/rollback', async (req, res) => {
    const body = parseBody(rollbackRequest, req.body);
    const release = await service.rollbackConfig(ctx, callerOf(res), param(req, 'app'), body.version);
    options.wakeWebhooks();
    res.status(201).json(releaseSeenBy(callerOf(res), release));
  });

  route('GET /v1/apps/:app/events', async (req, res) => {
    const app = await findApp(db, callerOf(res), param(req, 'app'));
    const after = typeof req.query.after === 'string' && req.query.after !== '' ? req.query.after : '0';
    if (!/^\d{1,18}$/.test(after)) throw invalidInput('after', 'must be an event id');
    const waitMs = Math.min(Number(req.query.waitMs ?? 0) || 0, MAX_EVENT_WAIT_MS);
    const until = Date.now() + waitMs;
    let closed = false;
    const gone = new AbortController();
    req.on('close', () => {
      closed = true;
      gone.abort();
    });
    // Subscribed before the first read, so an event written in between still wakes the poll.
    const subscription = waitMs > 0 ? ctx.liveEvents.subscribe(app.id) : undefined;
    try {
      const listening = subscription ? await ctx.liveEvents.listening() : false;
      let tokenDue = false;
      for (;;) {
        const rows = await listAppEventsAfter(db, app.id, after, 100);
        // A poll answers events only after its token was found good again, so no event
        // written after the token ended reaches its holder; a token revoked or re-dated
        // wakes every poll to check at once (a notification), one that merely expired is
        // found at the next fallback read.
        if (!closed && (rows.length > 0 || tokenDue)) {
          if (!(await tokenStillUsable(ctx, req))) {
            throw new ApiFailure('unauthorized', 'the API token was revoked or has expired; the event stream ended');
          }
          tokenDue = false;
        }
        if (rows.length > 0 || Date.now() >= until || closed || !subscription) {
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
        const wakeAt = Math.min(until, Date.now() + (listening ? EVENTS_FALLBACK_MS : EVENTS_UNLISTENED_MS));
        const why = await subscription.next(wakeAt, gone.signal);
        if (why !== 'event') tokenDue = true;
      }
    } finally {
      subscription?.close();
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

/** `?include=addons,attachments` (comma-separated, or the parameter repeated); anything else is `invalid_input`. */
function appIncludes(value: unknown): AppIncludes {
  if (value === undefined) return new Set();
  const parts = (Array.isArray(value) ? value : [value]).flatMap((part) =>
    typeof part === 'string' ? part.split(',') : [null],
  );
  const include = new Set<AppInclude>();
  for (const part of parts) {
    if (part === '') continue;
    const parsed = appInclude.safeParse(part);
    if (!parsed.success) {
      throw invalidInput('include', `must name some of ${appInclude.options.join(', ')}, separated by commas`);
    }
    include.add(parsed.data);
  }
  return include;
}

function param(req: Request, name: string): string {
  const value = req.params[name];
  if (typeof value !== 'string' || value === '') throw invalidInput(name, 'missing');
  return value;
}

import express, { type NextFunction, type Request, type Response } from 'express';
import { UpstreamError } from '../catalog-client.js';
import type { ConsoleContext } from '../context.js';
import {
  AppPageQuery,
  AppsListQuery,
  ChangeAddonPlanMutation,
  CreateAppMutation,
  DestroyAddonMutation,
  DetachAddonMutation,
  RollbackConfigMutation,
  RotateAddonCredentialsMutation,
  SetConfigVarsMutation,
} from '../documents.js';
import { missing, Refusal } from '../graphql.js';
import { isAdmin, requireAdmin, requireSession, signedInSession, tokenOf } from '../middleware/session.js';
import {
  APP_NOTICES,
  type AppDetail,
  type AppNotice,
  type AppPageOptions,
  addCardLink,
  appPage,
  appsPage,
  errorPage,
} from '../views/pages.js';
import { formField } from './form-field.js';

/** The organization's apps, an app's page, the forms that change an app, and its live events. */
export function appsRoutes(c: ConsoleContext): express.Router {
  const { ask, mutate, page, pageContext: ctx } = c;
  const router = express.Router();
  const signedIn = requireSession(c);

  const listApps = async (res: Response) => (await ask(res, AppsListQuery)).data.apps;

  router.get('/apps', signedIn, async (req, res, next) => {
    try {
      page(res, 200, appsPage(ctx(req, res), { apps: await listApps(res) }));
    } catch (error) {
      next(error);
    }
  });

  router.post('/apps', signedIn, async (req, res, next) => {
    try {
      const name = formField(req.body as Record<string, unknown>, 'name').trim();
      try {
        await mutate(res, CreateAppMutation, 'createApp', { name });
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        // The apps page again, with the reason and the name to fix rather than retype.
        const apps = await listApps(res);
        return page(res, error.status, appsPage(ctx(req, res), { apps, error: error.message, name }));
      }
      res.redirect(303, `/apps/${encodeURIComponent(name)}`);
    } catch (error) {
      next(error);
    }
  });

  /** An app as its page shows it; values only with `values` (the session's token has `config:read` only for admins). */
  const loadApp = async (res: Response, name: string, values: boolean): Promise<AppDetail> => {
    const { data, errors } = await ask(res, AppPageQuery, { name, values });
    if (!data.app) {
      const org = signedInSession(res).organization?.slug;
      throw missing(errors, 'app', `There is no app "${name}" in ${org}.`);
    }
    return { ...data.app, configVars: data.app.configVars.map((v) => ({ ...v, value: v.value ?? null })) };
  };
  const showApp = async (
    req: Request,
    res: Response,
    status: number,
    name: string,
    options: Omit<AppPageOptions, 'admin'>,
  ) => {
    const admin = isAdmin(res);
    const reveal = admin && options.reveal;
    const app = await loadApp(res, name, reveal);
    page(res, status, appPage(ctx(req, res), app, { ...options, admin, reveal }));
  };

  router.get('/apps/:app', signedIn, async (req, res, next) => {
    try {
      const done = String(req.query.done ?? '');
      await showApp(req, res, 200, String(req.params.app), {
        reveal: req.query.reveal === '1',
        ...(Object.hasOwn(APP_NOTICES, done) ? { notice: done as AppNotice } : {}),
      });
    } catch (error) {
      next(error);
    }
  });

  // ----- changing an app: attachments, add-ons, config vars, releases -----

  /**
   * A form of the app page. `act` changes something and names what it did (a notice); then
   * back to the app page. A refusal shows the app page again with the message, the
   * refusal's status and what `kept` keeps of the form; without an app to show, an error page.
   */
  const appForm =
    (
      appOf: (req: Request) => string,
      act: (req: Request, res: Response, body: Record<string, unknown>) => Promise<AppNotice>,
      kept?: (body: Record<string, unknown>) => AppPageOptions['configForm'],
    ) =>
    async (req: Request, res: Response, next: NextFunction) => {
      const body = req.body as Record<string, unknown>;
      const appName = appOf(req);
      try {
        const notice = await act(req, res, body);
        res.redirect(303, appName ? `/apps/${encodeURIComponent(appName)}?done=${notice}` : '/apps');
      } catch (error) {
        if (!(error instanceof Refusal)) return next(error);
        const refusalAlone = () =>
          page(
            res,
            error.status,
            errorPage(
              ctx(req, res),
              'Refused',
              error.message,
              error.kind === 'PaymentRequired' ? addCardLink : undefined,
            ),
          );
        if (!appName) return refusalAlone();
        try {
          const configForm = kept?.(body);
          await showApp(req, res, error.status, appName, {
            reveal: false,
            error: error.message,
            paymentRequired: error.kind === 'PaymentRequired',
            ...(configForm ? { configForm } : {}),
          });
        } catch (failure) {
          // The app cannot be shown (gone, or the catalog failed): the refusal alone says what happened.
          if (!(failure instanceof UpstreamError) || failure.status === 401) return next(failure);
          res.locals.partialErrors = [];
          refusalAlone();
        }
      }
    };
  const appParam = (req: Request) => String(req.params.app);
  /** The add-on forms name the app page they were on, to come back to. */
  const appField = (req: Request) => formField(req.body as Record<string, unknown>, 'app');

  router.post(
    '/apps/:app/attachments/:name/detach',
    signedIn,
    requireAdmin(c, 'Detaching an add-on'),
    appForm(appParam, async (req, res) => {
      await mutate(res, DetachAddonMutation, 'detachAddon', {
        app: String(req.params.app),
        name: String(req.params.name),
      });
      return 'detached';
    }),
  );

  router.post(
    '/addons/:addon/plan',
    signedIn,
    requireAdmin(c, "Changing an add-on's plan"),
    appForm(appField, async (req, res, body) => {
      const plan = formField(body, 'plan');
      if (!plan) throw new Refusal('Choose the plan to change to.', 400);
      await mutate(res, ChangeAddonPlanMutation, 'changeAddonPlan', { addon: String(req.params.addon), plan });
      return 'plan';
    }),
  );

  router.post(
    '/addons/:addon/rotate',
    signedIn,
    requireAdmin(c, "Rotating an add-on's credentials"),
    appForm(appField, async (req, res) => {
      await mutate(res, RotateAddonCredentialsMutation, 'rotateAddonCredentials', { addon: String(req.params.addon) });
      return 'rotated';
    }),
  );

  router.post(
    '/addons/:addon/destroy',
    signedIn,
    requireAdmin(c, 'Destroying an add-on'),
    appForm(appField, async (req, res, body) => {
      // As Heroku does: the add-on's name, typed, so a destroy is never one stray click.
      const addon = String(req.params.addon);
      const typed = formField(body, 'confirm').trim();
      if (typed !== addon) {
        throw new Refusal(
          `To destroy ${addon}, type its name in the confirmation box${typed ? ` ("${typed}" does not match)` : ''}; nothing was destroyed.`,
          400,
        );
      }
      await mutate(res, DestroyAddonMutation, 'destroyAddon', { addon });
      return 'destroyed';
    }),
  );

  // A refused var comes back in the form, to fix rather than retype (an unset has nothing to keep).
  const keepVarForm = (body: Record<string, unknown>) =>
    body.unset === '1' ? undefined : { name: formField(body, 'name'), value: formField(body, 'value') };

  router.post(
    '/apps/:app/config',
    signedIn,
    requireAdmin(c, 'Changing config vars'),
    appForm(
      appParam,
      async (req, res, body) => {
        // The catalog (the broker) checks the name and says what is wrong with it.
        const name = formField(body, 'name').trim();
        if (!name) throw new Refusal("Give the config var's name.", 400);
        const unset = body.unset === '1';
        if (!unset && typeof body.value !== 'string')
          throw new Refusal(`Give a value for ${name} (it may be empty).`, 400);
        const result = await mutate(res, SetConfigVarsMutation, 'setConfigVars', {
          app: String(req.params.app),
          vars: { [name]: unset ? null : body.value },
        });
        return result.unchanged ? 'unchanged' : 'config';
      },
      keepVarForm,
    ),
  );

  router.post(
    '/apps/:app/rollback',
    signedIn,
    requireAdmin(c, 'Rolling back config vars'),
    appForm(appParam, async (req, res, body) => {
      const text = formField(body, 'version');
      const version = /^[1-9]\d{0,8}$/.test(text) ? Number(text) : null;
      if (version === null) throw new Refusal('Choose a release to roll back to (a version such as 3).', 400);
      await mutate(res, RollbackConfigMutation, 'rollbackConfig', { app: String(req.params.app), version });
      return 'rollback';
    }),
  );

  // Live progress: the catalog's addonEvents subscription, relayed as server-sent events
  // (a browser's EventSource cannot send the bearer token itself).
  router.get('/apps/:app/events', signedIn, async (req, res) => {
    // A reconnecting EventSource says where it stopped; a fresh one starts where its page did.
    const lastId = req.get('last-event-id') || (typeof req.query.after === 'string' ? req.query.after : '');
    if (lastId && !/^\d{1,18}$/.test(lastId)) {
      res.status(400).type('text/plain').send('after: must be an event id (digits)');
      return;
    }
    const abort = new AbortController();
    req.on('close', () => abort.abort());
    res.status(200).set({ 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.flushHeaders();
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    try {
      for await (const event of c.catalog.events(
        tokenOf(res),
        String(req.params.app),
        lastId || undefined,
        abort.signal,
      )) {
        res.write(`id: ${event.id}\nevent: addon\ndata: ${JSON.stringify(event)}\n\n`);
      }
    } catch (error) {
      if (!abort.signal.aborted) {
        const message = error instanceof UpstreamError ? error.message : 'the event stream failed';
        res.write(`event: failure\ndata: ${message.replace(/\n/g, ' ')}\n\n`);
      }
    } finally {
      clearInterval(heartbeat);
      res.end();
    }
  });

  return router;
}

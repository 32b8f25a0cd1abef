import { CONFIG_VALUES_SCOPE, principalHasScope } from '@annex/platform';
import { createContextCache } from '@pothos/core';
import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { ForbiddenError } from '../../apps/errors.js';
import type { AddonState, ApiAddon, ApiApp, ApiAttachment, ApiRelease, AttachmentState } from '../../broker-client.js';
import { findVisibleServicesBySlugs } from '../../db/services.repository.js';
import type { Plan, Service } from '../../domain/model.js';
import { builder, type CatalogContext, needsScope } from '../builder.js';
import { PlanRef, plansOfService, ServiceRef } from '../refs.js';
import { asGraphQLError, orGraphQLError } from './app-errors.js';
import { decodeGlobal } from './plan.js';

// Apps, add-ons, attachments, config vars and releases. None of it is in the catalog's
// database: every field asks the broker's `/v1` API with the caller's own token (see
// broker-client.ts), so what a caller sees is exactly what the broker lets that token see.
// Another org's app or add-on reads as null, as a missing one does. A shared add-on is seen
// from both sides (docs/apps.md, "Shared add-ons"): the organization it is shared with sees
// the add-on (`Addon.app` null), its owner sees which organization's app attaches it
// (`Attachment.app` null, `Attachment.appOrganization`).

/** A per-request loader's result for one key: the value, null when hidden, or the error as a GraphQL error. */
const settle = <T>(promise: Promise<T | null>): Promise<T | null | Error> =>
  promise.catch((error: unknown) => asGraphQLError(error) as Error);

/** Caches a loaded thing under its other key too (name ↔ id), so neither loads it again. */
function primeBoth<T extends { id: string; name: string }>(
  loader: { prime(key: string, value: T): unknown },
  results: readonly (T | null | Error)[],
): void {
  for (const result of results) {
    if (!result || result instanceof Error) continue;
    loader.prime(result.id, result);
    loader.prime(result.name, result);
  }
}

export const AppRef = builder.loadableNodeRef<ApiApp, string>('App', {
  id: { resolve: (app) => app.id },
  // Keys are names or ids (the broker accepts both); one GET per app not already known
  // from the list of apps (`Query.apps`), once per request.
  load: async (keys: string[], ctx: CatalogContext) => {
    const apps = await Promise.all(keys.map((key) => settle(ctx.broker.getApp(key))));
    primeApps(ctx, apps);
    return apps as ApiApp[];
  },
});

/**
 * Caches apps the broker answered, under their id and name, and the add-ons they carry as
 * `GET /addons/:addon` answers them: the apps and add-ons their attachments name need no
 * call of their own, nor do their add-ons and attachments when they carry them.
 */
function primeApps(ctx: CatalogContext, apps: readonly (ApiApp | null | Error)[]): void {
  primeBoth(AppRef.getDataloader(ctx) as never, apps);
  primeBoth(
    AddonRef.getDataloader(ctx) as never,
    apps.flatMap((app) => (app && !(app instanceof Error) ? (app.addons ?? []) : [])),
  );
}

export const AddonRef = builder.loadableNodeRef<ApiAddon, string>('Addon', {
  id: { resolve: (addon) => addon.id },
  load: async (keys: string[], ctx: CatalogContext) => {
    const addons = await Promise.all(keys.map((key) => settle(ctx.broker.getAddon(key))));
    primeBoth(AddonRef.getDataloader(ctx) as never, addons);
    return addons as ApiAddon[];
  },
});

export const AddonStateEnum = builder.enumType('AddonState', {
  values: {
    PROVISIONING: { value: 'provisioning' },
    PROVISIONED: { value: 'provisioned' },
    CHANGING_PLAN: { value: 'changing_plan' },
    FAILED: { value: 'failed' },
    DESTROYING: { value: 'destroying' },
    DESTROYED: { value: 'destroyed' },
    SUSPENDED: { value: 'suspended' },
  } as const satisfies Record<string, { value: AddonState }>,
});

export const AttachmentStateEnum = builder.enumType('AttachmentState', {
  values: {
    ATTACHING: { value: 'attaching' },
    ATTACHED: { value: 'attached' },
    ROTATING: { value: 'rotating' },
    DETACHING: { value: 'detaching' },
    DETACHED: { value: 'detached' },
    FAILED: { value: 'failed' },
  } as const satisfies Record<string, { value: AttachmentState }>,
});

export const AttachmentRef = builder.objectRef<ApiAttachment>('Attachment').implement({
  description: 'One add-on attached to one app under a name; its credentials are config vars of that app.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name', { description: 'e.g. `DATABASE`: the vars are `DATABASE_URL`, ….' }),
    app: t.field({
      type: AppRef,
      nullable: true,
      description:
        "The app it is attached to; null when that app is another organization's (see `appOrganization`): an app attaching an add-on its organization shares with it.",
      resolve: (attachment) => attachment.app,
    }),
    appOrganization: t.exposeString('appOrganization', {
      description: "The slug of the app's organization, also when the app itself is hidden.",
    }),
    addon: t.field({ type: AddonRef, resolve: (attachment) => attachment.addon }),
    state: t.field({ type: AttachmentStateEnum, resolve: (attachment) => attachment.state }),
    configVarNames: t.stringList({ resolve: (attachment) => attachment.configVarNames ?? [] }),
    lastError: t.string({ nullable: true, resolve: (attachment) => attachment.lastError ?? null }),
  }),
});

interface ConfigVar {
  name: string;
  value: string | null;
  owner: string;
}

const ConfigVarRef = builder.objectRef<ConfigVar>('ConfigVar').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    value: t.exposeString('value', {
      nullable: true,
      description: 'The value; null unless the token has the `config:read` scope.',
    }),
    owner: t.exposeString('owner', { description: '`user` or `attachment:<name>`.' }),
  }),
});

interface ReleaseChange {
  name: string;
  change: string;
  value: string | null;
}

const ReleaseChangeRef = builder.objectRef<ReleaseChange>('ReleaseChange').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    change: t.exposeString('change', { description: '`added`, `changed` or `removed`.' }),
    value: t.exposeString('value', {
      nullable: true,
      description:
        'The new value of a var that is not secret, for a token with the `config:read` scope; null for secrets, removals and other tokens.',
    }),
  }),
});

const KeptConfigVarRef = builder.objectRef<{ name: string; attachment: string }>('KeptConfigVar').implement({
  description: 'A config var of an attachment that a rollback left as it is: rollbacks never change add-on state.',
  fields: (t) => ({
    name: t.exposeString('name'),
    attachment: t.exposeString('attachment', { description: 'The name of the attachment that owns the var.' }),
  }),
});

/** Whoever made a release, in words (the broker records kind, id and name). */
function actorOf(actor: ApiRelease['actor']): string {
  if (typeof actor === 'string') return actor;
  if (!actor) return 'unknown';
  return actor.name ?? (actor.id ? `${actor.kind}:${actor.id}` : actor.kind);
}

export const ReleaseRef = builder.objectRef<ApiRelease>('Release').implement({
  description: "A version of an app's config vars: every change makes one.",
  fields: (t) => ({
    version: t.exposeInt('version'),
    diff: t.field({
      type: [ReleaseChangeRef],
      resolve: (release) =>
        (release.diff ?? []).map((d) => ({ name: d.name, change: d.change, value: d.value ?? null })),
    }),
    kept: t.field({
      type: [KeptConfigVarRef],
      description: 'The attachment-owned vars a rollback left as they are; empty for other releases.',
      resolve: (release) => release.kept ?? [],
    }),
    actor: t.string({
      description: 'Who made it, e.g. `org token of acme`.',
      resolve: (release) => actorOf(release.actor),
    }),
    reason: t.string({ resolve: (release) => release.reason ?? '' }),
    createdAt: t.field({ type: 'DateTime', resolve: (release) => new Date(release.createdAt) }),
  }),
});

/** The app with its add-ons and attachments (an app created or listed without them reads them). */
async function detailOf(app: ApiApp, ctx: CatalogContext): Promise<ApiApp> {
  if (app.addons && app.attachments && app.lastEventId !== undefined) return app;
  const detail = await AppRef.getDataloader(ctx).load(app.id);
  if (!detail) throw new GraphQLError(`app "${app.name}" is no longer visible`, { extensions: { code: 'NOT_FOUND' } });
  return detail;
}

/**
 * Visible services by slug (what add-ons name them by), one statement per batch; shared by
 * `Addon.service` and `Addon.plan`. Each is cached by id too, for its plans' inherited flags,
 * and its plans (read in the same statement) in `plansOfService`.
 */
const servicesBySlug = createContextCache(
  (ctx: CatalogContext) =>
    new DataLoader<string, Service | null>(async (slugs) => {
      const found = await findVisibleServicesBySlugs(ctx.db, ctx.viewer, slugs);
      const byId = ServiceRef.getDataloader(ctx);
      const plans = plansOfService(ctx);
      for (const { service, plans: ofService } of found) {
        byId.prime(service.id, service);
        plans.prime(service.id, ofService);
      }
      const bySlug = new Map(found.map(({ service }) => [service.slug, service]));
      return slugs.map((slug) => bySlug.get(slug) ?? null);
    }),
);

/** Keys `Addon.plan` loads by: the service's slug and the plan's (plan slugs are unique per service). */
const planKey = (service: string, plan: string) => JSON.stringify([service, plan]);

const hasConfigRead = (ctx: CatalogContext) => principalHasScope(ctx.principal, CONFIG_VALUES_SCOPE);

const MAX_RELEASES = 100;

AppRef.implement({
  description: 'An application of an organization; add-ons attach to it and set its config vars.',
  fields: (t) => ({
    name: t.exposeString('name'),
    organization: t.exposeString('organization', { description: "The organization's slug." }),
    releaseVersion: t.exposeInt('releaseVersion', {
      description: 'The current release of its config vars (0: none yet).',
    }),
    addons: t.field({
      type: [AddonRef],
      description: 'Add-ons the app owns (it created them).',
      resolve: async (app, _args, ctx) => (await detailOf(app, ctx)).addons ?? [],
    }),
    attachments: t.field({
      type: [AttachmentRef],
      description: 'Attachments to this app: of its own add-ons and of add-ons shared with it.',
      resolve: async (app, _args, ctx) => (await detailOf(app, ctx)).attachments ?? [],
    }),
    configVars: t.field({
      type: [ConfigVarRef],
      description: 'The current config vars; values only for a token with the `config:read` scope.',
      resolve: (app, _args, ctx) =>
        orGraphQLError(async () => {
          const [names, values] = await Promise.all([
            ctx.broker.configVarNames(app.name),
            hasConfigRead(ctx)
              ? ctx.broker.configVars(app.name).catch((error: unknown) => {
                  if (error instanceof ForbiddenError) return null;
                  throw error;
                })
              : null,
          ]);
          return names.vars.map((v) => ({ name: v.name, owner: v.owner, value: values?.vars[v.name] ?? null }));
        }),
    }),
    releases: t.field({
      type: [ReleaseRef],
      description: `Releases, newest first (at most ${MAX_RELEASES}).`,
      args: { first: t.arg.int({ defaultValue: 20 }) },
      resolve: (app, args, ctx) => {
        const first = args.first ?? 20;
        if (first < 1 || first > MAX_RELEASES) {
          throw new GraphQLError(`first: must be between 1 and ${MAX_RELEASES}`, {
            extensions: { code: 'BAD_USER_INPUT' },
          });
        }
        return orGraphQLError(async () => (await ctx.broker.releases(app.name)).slice(0, first));
      },
    }),
    lastEventId: t.id({
      description:
        "The id of the app's latest event (`0`: none yet). Subscribe to `addonEvents(after:)` with it to get only what happens from now on.",
      resolve: async (app, _args, ctx) => (await detailOf(app, ctx)).lastEventId ?? '0',
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (app) => new Date(app.createdAt) }),
  }),
});

AddonRef.implement({
  description: 'An instance of a service, owned by the app that created it, attached to one or more apps.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Generated, e.g. `postgres-amber-4172`; unique.' }),
    app: t.field({
      type: AppRef,
      nullable: true,
      description:
        "The app that owns it; null for an add-on another organization shares with the caller's (see `organization`).",
      resolve: (addon) => addon.app,
    }),
    organization: t.exposeString('organization', {
      description: 'The slug of the organization that owns it (and pays for it).',
    }),
    service: t.field({
      type: ServiceRef,
      nullable: true,
      description: 'The service, when the caller can see it in the catalog.',
      resolve: (addon, _args, ctx) => servicesBySlug(ctx).load(addon.service),
    }),
    plan: t.loadable({
      type: PlanRef,
      nullable: true,
      description: 'The plan, when the caller can see it in the catalog.',
      // Every add-on's plan at once: their services with their plans, in one batch.
      load: async (keys: string[], ctx: CatalogContext) => {
        const wanted = keys.map((key) => JSON.parse(key) as [string, string]);
        const loader = servicesBySlug(ctx);
        const slugs = [...new Set(wanted.map(([service]) => service))];
        const services = (await Promise.all(slugs.map((slug) => loader.load(slug)))).filter(
          (service): service is Service => service !== null,
        );
        const plansLoader = plansOfService(ctx);
        const plans = await Promise.all(services.map((service) => plansLoader.load(service.id)));
        const byKey = new Map<string, Plan>();
        services.forEach((service, i) => {
          for (const plan of plans[i] ?? []) byKey.set(planKey(service.slug, plan.slug), plan);
        });
        return wanted.map(([service, plan]) => byKey.get(planKey(service, plan)) ?? null) as Plan[];
      },
      resolve: (addon) => planKey(addon.service, addon.plan),
    }),
    serviceSlug: t.string({ resolve: (addon) => addon.service }),
    planSlug: t.string({ resolve: (addon) => addon.plan }),
    providerSlug: t.string({ resolve: (addon) => addon.provider }),
    state: t.field({ type: AddonStateEnum, resolve: (addon) => addon.state }),
    lastError: t.string({ nullable: true, resolve: (addon) => addon.lastError ?? null }),
    attachments: t.field({
      type: [AttachmentRef],
      description:
        "For its owner, every attachment (another organization's apps as `app: null`); for an organization it is shared with, only the attachments to that organization's apps.",
      resolve: (addon) => addon.attachments ?? [],
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (addon) => new Date(addon.createdAt) }),
  }),
});

/** What the broker knows a thing by: its name or raw id, also when given as a GraphQL id. */
function brokerKey(nameOrId: string, typename: 'App' | 'Addon'): string {
  const global = decodeGlobal(nameOrId);
  return global?.typename === typename ? global.id : nameOrId;
}

builder.queryFields((t) => ({
  apps: t.field({
    ...needsScope('Query.apps'),
    type: [AppRef],
    description: "The apps of the caller's organizations (an org or platform token; admins see all).",
    // One call answers every app with its add-ons and attachments; their fields read from it.
    resolve: (_root, _args, ctx) =>
      orGraphQLError(async () => {
        const apps = await ctx.broker.listApps();
        primeApps(ctx, apps);
        return apps;
      }),
  }),
  app: t.field({
    ...needsScope('Query.app'),
    type: AppRef,
    nullable: true,
    description:
      'An app by name or id (its GraphQL id or the raw one); null when it does not exist or belongs to an organization the caller cannot see.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => AppRef.getDataloader(ctx).load(brokerKey(args.name, 'App')),
  }),
  addon: t.field({
    ...needsScope('Query.addon'),
    type: AddonRef,
    nullable: true,
    description:
      'An add-on by name or id (its GraphQL id or the raw one); null when it does not exist or the caller cannot see it.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => AddonRef.getDataloader(ctx).load(brokerKey(args.name, 'Addon')),
  }),
}));

/**
 * Root fields answered by the broker for the caller's own token: queries selecting one are
 * never answered from the response cache, and these mutations do not invalidate it.
 * `node` is here because an id may name an App or an Addon.
 */
export const APP_ROOT_FIELDS: ReadonlySet<string> = new Set([
  'apps',
  'app',
  'addon',
  'attachPreflight',
  'node',
  'nodes',
  'createApp',
  'createAddon',
  'attachAddon',
  'detachAddon',
  'destroyAddon',
  'changeAddonPlan',
  'rotateAddonCredentials',
  'rollbackConfig',
  'setConfigVars',
  'shareAddon',
  'unshareAddon',
  'openAddonDashboard',
]);

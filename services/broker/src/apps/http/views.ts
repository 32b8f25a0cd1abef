import type { Addon, AppDetail, AppInclude, Attachment, ListedApp } from '@annex/contracts/v1';
import type { Executor } from '../../shared/db/executor.js';
import { type ApiCaller, mayAccess } from '../../shared/domain/api-failure.js';
import { type AddonWithPlan, addonNamesByIds, listLiveAddonsOfApps } from '../db/addons.js';
import { appsByIds, type ListedAppRow, lastAppEventIds } from '../db/apps.js';
import {
  type AttachmentWithVarNames,
  liveAttachmentsOfAddons,
  liveAttachmentsOfAppsOrAddons,
} from '../db/attachments.js';
import { listVarNamesOfAttachments } from '../db/config-vars.js';
import { organizationSlugsByIds } from '../db/organizations.js';
import { planSlugsByIds } from '../db/plans.js';
import type { AddonViewRow, AppViewRow, AttachmentViewRow } from '../db/store.js';

// The JSON the `/v1` API answers (docs/apps.md), built with a fixed number of queries
// whatever the number of rows. A shared add-on is seen from both sides (docs/apps.md,
// "Shared add-ons"): the organization it is shared with sees the add-on but not the app
// that owns it; the owner sees which organization's app attaches it but not that app.

/** The answers' shapes are the contract's (@annex/contracts/v1). */
export type AttachmentView = Attachment;
export type AddonView = Addon;

/** An app as the views name it. */
interface AppRef {
  name: string;
  organizationId: string;
  organization: string;
}

/**
 * What the parts of one view have read, for the others: each lookup reads only the ids not
 * known yet (none when an organization's own apps and add-ons were read already), so a view
 * reads each row once whatever the number of parts that name it.
 */
class ViewReads {
  readonly #apps = new Map<string, AppRef>();
  readonly #orgs = new Map<string, string>();
  readonly #addonNames = new Map<string, string>();
  readonly #plans = new Map<string, PlanSlugs>();
  readonly #varNames = new Map<string, string[]>();
  readonly #lastEventIds = new Map<string, string>();

  constructor(readonly db: Executor) {}

  async apps(ids: readonly string[]): Promise<ReadonlyMap<string, AppRef>> {
    const missing = unknown(this.#apps, ids);
    if (missing.length > 0) {
      for (const [id, app] of await appsByIds(this.db, missing)) {
        this.#apps.set(id, app);
        this.#orgs.set(app.organizationId, app.organization);
      }
    }
    return this.#apps;
  }

  async organizations(ids: readonly string[]): Promise<ReadonlyMap<string, string>> {
    const missing = unknown(this.#orgs, ids);
    if (missing.length > 0) {
      for (const [id, slug] of await organizationSlugsByIds(this.db, missing)) this.#orgs.set(id, slug);
    }
    return this.#orgs;
  }

  async addonNames(ids: readonly string[]): Promise<ReadonlyMap<string, string>> {
    const missing = unknown(this.#addonNames, ids);
    if (missing.length > 0) {
      for (const [id, name] of await addonNamesByIds(this.db, missing)) this.#addonNames.set(id, name);
    }
    return this.#addonNames;
  }

  async plans(ids: readonly string[]): Promise<ReadonlyMap<string, PlanSlugs>> {
    const missing = unknown(this.#plans, ids);
    if (missing.length > 0) {
      for (const [id, plan] of await planSlugsByIds(this.db, missing)) this.#plans.set(id, plan);
    }
    return this.#plans;
  }

  /** Config var names by attachment id. */
  async varNames(ids: readonly string[]): Promise<ReadonlyMap<string, string[]>> {
    const missing = unknown(this.#varNames, ids);
    if (missing.length > 0) {
      for (const id of missing) this.#varNames.set(id, []);
      for (const v of await listVarNamesOfAttachments(this.db, missing)) {
        if (v.attachment_id) this.#varNames.get(v.attachment_id)?.push(v.name);
      }
    }
    return this.#varNames;
  }

  /** The id of each app's latest event ('0': none yet). */
  async lastEventIds(appIds: readonly string[]): Promise<ReadonlyMap<string, string>> {
    const missing = unknown(this.#lastEventIds, appIds);
    if (missing.length > 0) {
      const read = await lastAppEventIds(this.db, missing);
      for (const id of missing) this.#lastEventIds.set(id, read.get(id) ?? '0');
    }
    return this.#lastEventIds;
  }

  /**
   * Apps and add-ons the view read whole: their names need no further read, nor do a listed
   * app's organization and latest event, nor an add-on's plan read with it.
   */
  know(apps: readonly (AppViewRow | ListedAppRow)[], addons: readonly (AddonViewRow | AddonWithPlan)[]): void {
    for (const app of apps) {
      if ('organization_slug' in app) {
        this.#orgs.set(app.organization_id, app.organization_slug);
        this.#lastEventIds.set(app.id, app.last_event_id);
      }
      const organization = this.#orgs.get(app.organization_id);
      if (organization !== undefined) {
        this.#apps.set(app.id, { name: app.name, organizationId: app.organization_id, organization });
      }
    }
    for (const addon of addons) {
      this.#addonNames.set(addon.id, addon.name);
      if ('plan_slug' in addon) {
        this.#plans.set(addon.plan_id, {
          plan: addon.plan_slug,
          service: addon.service_slug,
          provider: addon.provider_slug,
        });
      }
    }
  }

  /** Attachments read with their config var names. */
  knowAttachments(rows: readonly AttachmentWithVarNames[]): void {
    for (const row of rows) this.#varNames.set(row.id, row.config_var_names);
  }
}

interface PlanSlugs {
  plan: string;
  service: string;
  provider: string;
}

/** The distinct ids of `ids` that `known` lacks. */
function unknown(known: ReadonlyMap<string, unknown>, ids: readonly string[]): string[] {
  return [...new Set(ids)].filter((id) => !known.has(id));
}

export async function attachmentViews(
  db: Executor,
  caller: ApiCaller,
  rows: readonly AttachmentViewRow[],
): Promise<AttachmentView[]> {
  return attachmentViewsWith(new ViewReads(db), caller, rows);
}

async function attachmentViewsWith(
  reads: ViewReads,
  caller: ApiCaller,
  rows: readonly AttachmentViewRow[],
): Promise<AttachmentView[]> {
  if (rows.length === 0) return [];
  const apps = await reads.apps(rows.map((r) => r.app_id));
  const addonNames = await reads.addonNames(rows.map((r) => r.addon_id));
  const varNames = await reads.varNames(rows.map((r) => r.id));
  return rows.map((r) => {
    const app = apps.get(r.app_id);
    return {
      id: r.id,
      name: r.name,
      app: app && mayAccess(caller, app.organizationId) ? app.name : null,
      appOrganization: app?.organization ?? '',
      addon: addonNames.get(r.addon_id) ?? r.addon_id,
      state: r.state,
      configVarNames: [...(varNames.get(r.id) ?? [])],
      lastError: r.last_error,
      createdAt: r.created_at.toISOString(),
    };
  });
}

export async function addonViews(db: Executor, caller: ApiCaller, rows: readonly AddonViewRow[]): Promise<AddonView[]> {
  if (rows.length === 0) return [];
  const reads = new ViewReads(db);
  reads.know([], rows);
  const attachments = await liveAttachmentsOfAddons(
    db,
    rows.map((r) => r.id),
  );
  reads.knowAttachments(attachments);
  return addonViewsWith(reads, caller, rows, await viewedAttachments(reads, caller, attachments));
}

/** An attachment's row with its view. */
interface ViewedAttachment {
  row: AttachmentViewRow;
  view: AttachmentView;
}

async function viewedAttachments(
  reads: ViewReads,
  caller: ApiCaller,
  rows: readonly AttachmentViewRow[],
): Promise<ViewedAttachment[]> {
  const views = await attachmentViewsWith(reads, caller, rows);
  return rows.map((row, i) => ({ row, view: views[i] as AttachmentView }));
}

/** Views of these add-ons, given (at least) all their live attachments already viewed. */
async function addonViewsWith(
  reads: ViewReads,
  caller: ApiCaller,
  rows: readonly AddonViewRow[],
  attached: readonly ViewedAttachment[],
): Promise<AddonView[]> {
  if (rows.length === 0) return [];
  const plans = await reads.plans(rows.map((r) => r.plan_id));
  const apps = await reads.apps(rows.map((r) => r.app_id));
  const orgs = await reads.organizations(rows.map((r) => r.organization_id));
  const attachments = groupedBy(attached, (a) => a.row.addon_id);
  return rows.map((r) => {
    const plan = plans.get(r.plan_id);
    const owner = mayAccess(caller, r.organization_id);
    return {
      id: r.id,
      name: r.name,
      app: owner ? (apps.get(r.app_id)?.name ?? r.app_id) : null,
      organization: orgs.get(r.organization_id) ?? r.organization_id,
      service: plan?.service ?? '',
      plan: plan?.plan ?? '',
      provider: plan?.provider ?? '',
      state: r.state,
      lastError: r.last_error,
      createdAt: r.created_at.toISOString(),
      // The borrower's own attachments only: the owner's other apps are not its business.
      attachments: (attachments.get(r.id) ?? []).map((a) => a.view).filter((view) => owner || view.app !== null),
    };
  });
}

/** What a view of apps carries besides each app itself (`GET /v1/apps?include=`). */
export type AppIncludes = ReadonlySet<AppInclude>;
const NOTHING: AppIncludes = new Set();
const EVERYTHING: AppIncludes = new Set(['addons', 'attachments']);

/**
 * Views of these apps, in their order, with what `include` names: their add-ons (owned) and
 * the attachments to them (shared add-ons too), and then where their events stand. One
 * statement per table whatever the number of apps, add-ons and attachments: the rows of all
 * the apps are read at once and grouped here. The single-app detail is this with everything.
 */
export async function appViews(
  db: Executor,
  caller: ApiCaller,
  apps: readonly (AppViewRow | ListedAppRow)[],
  include: AppIncludes = NOTHING,
): Promise<ListedApp[]> {
  if (apps.length === 0) return [];
  const ids = apps.map((a) => a.id);
  const reads = new ViewReads(db);
  reads.know(apps, []);
  const orgs = await reads.organizations(apps.map((a) => a.organization_id));
  const addonRows = include.has('addons') ? await listLiveAddonsOfApps(db, ids) : [];
  reads.know(apps, addonRows);
  // The attachments to these apps and those of their add-ons (mostly the same rows), read
  // and viewed once for both.
  const attachedRows = await liveAttachmentsOfAppsOrAddons(
    db,
    include.has('attachments') ? ids : [],
    addonRows.map((r) => r.id),
  );
  reads.knowAttachments(attachedRows);
  const attached = await viewedAttachments(reads, caller, attachedRows);
  const addons = include.has('addons')
    ? viewsByApp(addonRows, await addonViewsWith(reads, caller, addonRows, attached))
    : undefined;
  const listed = new Set(ids);
  const toListed = attached.filter((a) => listed.has(a.row.app_id));
  const attachments = include.has('attachments')
    ? viewsByApp(
        toListed.map((a) => a.row),
        toListed.map((a) => a.view),
      )
    : undefined;
  // Where a page rendered now should start following GET /apps/:app/events, so it neither
  // replays what it shows nor misses what happens meanwhile.
  const lastEventIds = include.size > 0 ? await reads.lastEventIds(ids) : undefined;
  return apps.map((app) => ({
    id: app.id,
    name: app.name,
    organization: orgs.get(app.organization_id) ?? app.organization_id,
    releaseVersion: app.release_version,
    createdAt: app.created_at.toISOString(),
    ...(lastEventIds ? { lastEventId: lastEventIds.get(app.id) ?? '0' } : {}),
    ...(addons ? { addons: addons.get(app.id) ?? [] } : {}),
    ...(attachments ? { attachments: attachments.get(app.id) ?? [] } : {}),
  }));
}

/** `GET /v1/apps/:app`: the app with its add-ons, its attachments and where its events stand. */
export async function appDetailView(db: Executor, caller: ApiCaller, app: AppViewRow): Promise<AppDetail> {
  const [view] = await appViews(db, caller, [app], EVERYTHING);
  if (!view?.addons || !view.attachments || view.lastEventId === undefined) {
    throw new Error(`the view of app ${app.id} lacks its details`);
  }
  return { ...view, lastEventId: view.lastEventId, addons: view.addons, attachments: view.attachments };
}

/** Views (made in the order of their rows) by their row's app, in that order. */
function viewsByApp<V>(rows: readonly { app_id: string }[], views: readonly V[]): Map<string, V[]> {
  const byApp = groupedBy(
    rows.map((row, i) => ({ appId: row.app_id, view: views[i] as V })),
    (r) => r.appId,
  );
  return new Map([...byApp].map(([appId, list]) => [appId, list.map((r) => r.view)]));
}

/** Items grouped by a key, each group in the items' order: one pass, whatever their number. */
function groupedBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

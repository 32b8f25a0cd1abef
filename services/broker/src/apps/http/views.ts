import type { Addon, App, AppDetail, Attachment } from '@annex/contracts/v1';
import type { Executor } from '../../shared/db/executor.js';
import { type ApiCaller, mayAccess } from '../../shared/domain/api-failure.js';
import { addonNamesByIds, listLiveAddonsOfApp } from '../db/addons.js';
import { appsByIds, lastAppEventId } from '../db/apps.js';
import { liveAttachments, liveAttachmentsOfAddons } from '../db/attachments.js';
import { listVarNamesOfAttachments } from '../db/config-vars.js';
import { organizationSlugById, organizationSlugsByIds } from '../db/organizations.js';
import { planSlugsByIds } from '../db/plans.js';
import type { AddonRow, AppRow, AttachmentRow } from '../db/store.js';

// The JSON the `/v1` API answers (docs/apps.md), built with a fixed number of queries
// whatever the number of rows. A shared add-on is seen from both sides (docs/apps.md,
// "Shared add-ons"): the organization it is shared with sees the add-on but not the app
// that owns it; the owner sees which organization's app attaches it but not that app.

/** The answers' shapes are the contract's (@annex/contracts/v1). */
export type AttachmentView = Attachment;
export type AddonView = Addon;

export async function attachmentViews(
  db: Executor,
  caller: ApiCaller,
  rows: readonly AttachmentRow[],
): Promise<AttachmentView[]> {
  if (rows.length === 0) return [];
  const apps = await appsByIds(
    db,
    rows.map((r) => r.app_id),
  );
  const addonNames = await addonNamesByIds(
    db,
    rows.map((r) => r.addon_id),
  );
  const vars = await listVarNamesOfAttachments(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => {
    const app = apps.get(r.app_id);
    return {
      id: r.id,
      name: r.name,
      app: app && mayAccess(caller, app.organizationId) ? app.name : null,
      appOrganization: app?.organization ?? '',
      addon: addonNames.get(r.addon_id) ?? r.addon_id,
      state: r.state,
      configVarNames: vars.filter((v) => v.attachment_id === r.id).map((v) => v.name),
      lastError: r.last_error,
      createdAt: r.created_at.toISOString(),
    };
  });
}

export async function addonViews(db: Executor, caller: ApiCaller, rows: readonly AddonRow[]): Promise<AddonView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const plans = await planSlugsByIds(
    db,
    rows.map((r) => r.plan_id),
  );
  const orgs = await organizationSlugsByIds(
    db,
    rows.map((r) => r.organization_id),
  );
  const apps = await appsByIds(
    db,
    rows.map((r) => r.app_id),
  );
  const attachmentRows = await liveAttachmentsOfAddons(db, ids);
  const attachments = await attachmentViews(db, caller, attachmentRows);
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
      attachments: attachments.filter(
        (view, i) => attachmentRows[i]?.addon_id === r.id && (owner || view.app !== null),
      ),
    };
  });
}

export async function appView(db: Executor, caller: ApiCaller, app: AppRow, detail: false): Promise<App>;
export async function appView(db: Executor, caller: ApiCaller, app: AppRow, detail: true): Promise<AppDetail>;
export async function appView(db: Executor, caller: ApiCaller, app: AppRow, detail: boolean): Promise<App | AppDetail> {
  const organization = await organizationSlugById(db, app.organization_id);
  const base: App = {
    id: app.id,
    name: app.name,
    organization,
    releaseVersion: app.release_version,
    createdAt: app.created_at.toISOString(),
  };
  if (!detail) return base;
  const addons = await listLiveAddonsOfApp(db, app.id);
  const attached = await liveAttachments(db, { appId: app.id });
  // Where a page rendered now should start following GET /apps/:app/events, so it neither
  // replays what it shows nor misses what happens meanwhile.
  const lastEventId = await lastAppEventId(db, app.id);
  return {
    ...base,
    lastEventId: String(lastEventId ?? 0),
    addons: await addonViews(db, caller, addons),
    attachments: await attachmentViews(db, caller, attached),
  };
}

export async function appViews(db: Executor, apps: readonly AppRow[]): Promise<App[]> {
  const orgs = apps.length
    ? await organizationSlugsByIds(
        db,
        apps.map((a) => a.organization_id),
      )
    : new Map<string, string>();
  return apps.map((app) => ({
    id: app.id,
    name: app.name,
    organization: orgs.get(app.organization_id) ?? app.organization_id,
    releaseVersion: app.release_version,
    createdAt: app.created_at.toISOString(),
  }));
}

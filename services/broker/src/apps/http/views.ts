import type { Addon, App, AppDetail, Attachment } from '@annex/contracts/v1';
import type { Executor } from '../../shared/db/executor.js';
import { type ApiCaller, mayAccess } from '../../shared/domain/api-failure.js';
import { type AddonRow, type AppRow, type AttachmentRow, appsByIds } from '../db/store.js';

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
  const addons = await db
    .selectFrom('addons')
    .select(['id', 'name'])
    .where('id', 'in', [...new Set(rows.map((r) => r.addon_id))])
    .execute();
  const addonNames = new Map(addons.map((a) => [a.id, a.name]));
  const vars = await db
    .selectFrom('config_vars')
    .select(['attachment_id', 'name'])
    .where(
      'attachment_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('name')
    .execute();
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
  const plans = await db
    .selectFrom('plans as p')
    .innerJoin('services as s', 's.id', 'p.service_id')
    .innerJoin('providers as pr', 'pr.id', 's.provider_id')
    .select(['p.id', 'p.slug as plan', 's.slug as service', 'pr.slug as provider'])
    .where('p.id', 'in', [...new Set(rows.map((r) => r.plan_id))])
    .execute();
  const orgs = await db
    .selectFrom('organizations')
    .select(['id', 'slug'])
    .where('id', 'in', [...new Set(rows.map((r) => r.organization_id))])
    .execute();
  const apps = await appsByIds(
    db,
    rows.map((r) => r.app_id),
  );
  const attachmentRows = await db
    .selectFrom('attachments')
    .selectAll()
    .where('addon_id', 'in', ids)
    .where('detached_at', 'is', null)
    .orderBy('created_at')
    .execute();
  const attachments = await attachmentViews(db, caller, attachmentRows);
  return rows.map((r) => {
    const plan = plans.find((p) => p.id === r.plan_id);
    const owner = mayAccess(caller, r.organization_id);
    return {
      id: r.id,
      name: r.name,
      app: owner ? (apps.get(r.app_id)?.name ?? r.app_id) : null,
      organization: orgs.find((o) => o.id === r.organization_id)?.slug ?? r.organization_id,
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
  const org = await db
    .selectFrom('organizations')
    .select('slug')
    .where('id', '=', app.organization_id)
    .executeTakeFirstOrThrow();
  const base: App = {
    id: app.id,
    name: app.name,
    organization: org.slug,
    releaseVersion: app.release_version,
    createdAt: app.created_at.toISOString(),
  };
  if (!detail) return base;
  const addons = await db
    .selectFrom('addons')
    .selectAll()
    .where('app_id', '=', app.id)
    .where('state', '!=', 'destroyed')
    .orderBy('created_at')
    .execute();
  const attached = await db
    .selectFrom('attachments')
    .selectAll()
    .where('app_id', '=', app.id)
    .where('detached_at', 'is', null)
    .orderBy('created_at')
    .execute();
  // Where a page rendered now should start following GET /apps/:app/events, so it neither
  // replays what it shows nor misses what happens meanwhile.
  const last = await db
    .selectFrom('app_events')
    .select((eb) => eb.fn.max('id').as('id'))
    .where('app_id', '=', app.id)
    .executeTakeFirst();
  return {
    ...base,
    lastEventId: String(last?.id ?? 0),
    addons: await addonViews(db, caller, addons),
    attachments: await attachmentViews(db, caller, attached),
  };
}

export async function appViews(db: Executor, apps: readonly AppRow[]): Promise<App[]> {
  const orgs = apps.length
    ? await db
        .selectFrom('organizations')
        .select(['id', 'slug'])
        .where('id', 'in', [...new Set(apps.map((a) => a.organization_id))])
        .execute()
    : [];
  return apps.map((app) => ({
    id: app.id,
    name: app.name,
    organization: orgs.find((o) => o.id === app.organization_id)?.slug ?? app.organization_id,
    releaseVersion: app.release_version,
    createdAt: app.created_at.toISOString(),
  }));
}

import type { SsoTokensTable } from '@annex/platform';
import { type Insertable, sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// Reads and writes of the SSO hand-off: what a token names, where it goes, and its record.

/** Everything an add-on's SSO token names, in one read. */
export interface SsoTarget {
  addonId: string;
  addonName: string;
  addonState: string;
  appId: string;
  organizationId: string;
  organizationSlug: string;
  /** The instance id the provider knows (the one in OSB calls). */
  providerInstanceId: string;
  serviceOsbId: string;
  planOsbId: string;
  providerId: string;
  providerSlug: string;
  providerOsbUrl: string | null;
  providerAuthKind: 'jwt' | 'basic';
  /** The current published manifest, when the provider was published with one. */
  manifest: Record<string, unknown> | null;
}

export async function findSsoTarget(db: Executor, addonId: string): Promise<SsoTarget | undefined> {
  const row = await db
    .selectFrom('addons as a')
    .innerJoin('organizations as o', 'o.id', 'a.organization_id')
    .innerJoin('services as s', 's.id', 'a.service_id')
    .innerJoin('plans as p', 'p.id', 'a.plan_id')
    .innerJoin('providers as pr', 'pr.id', 's.provider_id')
    // Instance ids are text (OSB ids); an add-on's id is the uuid of its instance.
    .leftJoin('service_instances as si', (join) => join.on(sql<boolean>`si.id = a.id::text`))
    .leftJoin('provider_revisions as rev', (join) =>
      join.onRef('rev.provider_id', '=', 'pr.id').onRef('rev.revision', '=', 'pr.current_revision'),
    )
    .select([
      'a.id as addonId',
      'a.name as addonName',
      'a.state as addonState',
      'a.app_id as appId',
      'o.id as organizationId',
      'o.slug as organizationSlug',
      'si.provider_instance_id as providerInstanceId',
      's.osb_id as serviceOsbId',
      'p.osb_id as planOsbId',
      'pr.id as providerId',
      'pr.slug as providerSlug',
      'pr.osb_url as providerOsbUrl',
      'pr.osb_auth_kind as providerAuthKind',
      'rev.manifest as manifest',
    ])
    .where('a.id', '=', addonId)
    .executeTakeFirst();
  if (!row) return undefined;
  return { ...row, providerInstanceId: row.providerInstanceId ?? row.addonId, manifest: row.manifest ?? null };
}

/** The app an add-on belongs to (it exists: add-ons reference their app). */
export async function findAppById(db: Executor, appId: string) {
  return db.selectFrom('apps').selectAll().where('id', '=', appId).executeTakeFirstOrThrow();
}

/** Whether the add-on is attached (now) to the app, or belongs to it. */
export async function addonServesApp(db: Executor, addon: { id: string; appId: string }, appId: string) {
  if (addon.appId === appId) return true;
  const attachment = await db
    .selectFrom('attachments')
    .select('id')
    .where('addon_id', '=', addon.id)
    .where('app_id', '=', appId)
    .where('detached_at', 'is', null)
    .executeTakeFirst();
  return attachment !== undefined;
}

/** An API token's name, and the person it acts for (a console session's user), if any. */
export async function findTokenIdentity(db: Executor, tokenId: string) {
  return db
    .selectFrom('api_tokens as t')
    .leftJoin('users as u', 'u.id', 't.user_id')
    .select([
      't.name as tokenName',
      'u.id as userId',
      'u.name as userName',
      'u.email as userEmail',
      'u.oidc_subject as subject',
    ])
    .where('t.id', '=', tokenId)
    .executeTakeFirst();
}

export async function insertSsoToken(db: Executor, row: Insertable<SsoTokensTable>): Promise<void> {
  await db.insertInto('sso_tokens').values(row).execute();
}

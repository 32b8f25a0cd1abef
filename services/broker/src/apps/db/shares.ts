import type { Executor } from '../../shared/db/executor.js';

// Add-ons shared with other organizations, whose apps may then attach them.

/** Whether the add-on is shared with the organization; the share row is locked when `forUpdate`. */
export async function isAddonSharedWith(
  db: Executor,
  addonId: string,
  organizationId: string,
  forUpdate = false,
): Promise<boolean> {
  let query = db
    .selectFrom('addon_shares')
    .select('addon_id')
    .where('addon_id', '=', addonId)
    .where('organization_id', '=', organizationId);
  if (forUpdate) query = query.forUpdate();
  const shared = await query.executeTakeFirst();
  return shared !== undefined;
}

/** Shares the add-on with the organization; nothing happens when it is already. */
export async function insertAddonShare(db: Executor, addonId: string, organizationId: string): Promise<void> {
  await db
    .insertInto('addon_shares')
    .values({ addon_id: addonId, organization_id: organizationId })
    .onConflict((oc) => oc.columns(['addon_id', 'organization_id']).doNothing())
    .execute();
}

export async function deleteAddonShare(db: Executor, addonId: string, organizationId: string): Promise<void> {
  await db
    .deleteFrom('addon_shares')
    .where('addon_id', '=', addonId)
    .where('organization_id', '=', organizationId)
    .execute();
}

/** The slugs of the organizations the add-on is shared with, in order. */
export async function listShareOrganizationSlugs(db: Executor, addonId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('addon_shares as s')
    .innerJoin('organizations as o', 'o.id', 's.organization_id')
    .select('o.slug')
    .where('s.addon_id', '=', addonId)
    .orderBy('o.slug')
    .execute();
  return rows.map((r) => r.slug);
}

import type { InstallationActivity, InstallationsPage } from '@annex/contracts/v1';
import type { AddonState } from '@annex/platform';
import type { Executor } from '../../shared/db/executor.js';
import { invalidInput } from '../../shared/domain/api-failure.js';
import {
  countActiveInstallationsByDay,
  type InstallationPosition,
  listProviderInstallations,
} from '../db/provider-installations.js';
import { isUuid } from '../db/store.js';

// A provider's installations (docs/provider-portal.md, "Installations"): its add-ons with only
// the organization's name and apps count, never config, parameters or app names.

export const MAX_INSTALLATIONS_PAGE = 100;

/** A cursor names the last row of a page: its creation time and id, opaque to the caller. */
export function installationCursor(position: InstallationPosition): string {
  return Buffer.from(`${position.createdAt.toISOString()}|${position.id}`).toString('base64url');
}

export function parseInstallationCursor(cursor: string): InstallationPosition {
  const [at, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (rest.length > 0 || !id || !isUuid(id) || Number.isNaN(createdAt.getTime())) {
    throw invalidInput('after', 'not a cursor of this listing (pass nextCursor as it was answered)');
  }
  return { createdAt, id };
}

export async function providerInstallations(
  db: Executor,
  providerId: string,
  query: { plan?: string | undefined; state?: AddonState | undefined; after?: string | undefined; first: number },
): Promise<InstallationsPage> {
  const after = query.after === undefined ? null : parseInstallationCursor(query.after);
  // One row more than the page says whether another page follows.
  const rows = await listProviderInstallations(
    db,
    { providerId, plan: query.plan, state: query.state },
    after,
    query.first + 1,
  );
  const page = rows.slice(0, query.first);
  const last = page[page.length - 1];
  return {
    installations: page.map((row) => ({
      id: row.id,
      name: row.name,
      service: row.service,
      plan: row.plan,
      state: row.state,
      region: row.regions.length === 1 ? (row.regions[0] as string) : null,
      organization: { name: row.organization, apps: Number(row.apps ?? 0) },
      lastError: row.last_error,
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
      destroyedAt: row.destroyed_at?.toISOString() ?? null,
      cursor: installationCursor({ createdAt: row.created_at, id: row.id }),
    })),
    nextCursor:
      rows.length > query.first && last ? installationCursor({ createdAt: last.created_at, id: last.id }) : null,
    totalCount: Number(rows[0]?.total ?? (after ? await countAll(db, providerId, query) : 0)),
  };
}

/** The total when a page past the end has no row to carry it. */
async function countAll(
  db: Executor,
  providerId: string,
  query: { plan?: string | undefined; state?: AddonState | undefined },
): Promise<number> {
  const rows = await listProviderInstallations(db, { providerId, plan: query.plan, state: query.state }, null, 1);
  return Number(rows[0]?.total ?? 0);
}

export async function providerInstallationActivity(
  db: Executor,
  providerId: string,
  days: number,
): Promise<InstallationActivity> {
  return { days: await countActiveInstallationsByDay(db, providerId, days) };
}

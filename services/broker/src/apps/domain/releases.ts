import { CONFIG_VALUES_SCOPE, type ReleaseDiffEntry, type ReleaseKeptVar } from '@annex/platform';
import type { Executor } from '../../shared/db/executor.js';
import { type ApiCaller, hasScope } from '../../shared/domain/api-failure.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import {
  deleteConfigVars,
  findReleaseVarsSealed,
  insertAppEvents,
  insertRelease,
  listReleaseRows,
  listSealedConfigVars,
  lockAppForRelease,
  setAppReleaseVersion,
  upsertConfigVars,
} from '../db/releases.js';
import { enqueueConfigVarsChanged } from './webhooks.js';

/** Who changed an app's vars, as a release records it. */
export interface ReleaseActor {
  kind: 'org' | 'platform' | 'admin' | 'provider' | 'annex';
  id: string | null;
  name: string;
}

/** One var to set (`value`) or remove (`value: null`). */
export interface VarChange {
  name: string;
  value: string | null;
  /** The owning attachment; null for a user's var. */
  attachmentId: string | null;
  secret?: boolean;
}

interface StoredVar {
  value: string;
  attachmentId: string | null;
  secret: boolean;
}

export interface Release {
  version: number;
  diff: ReleaseDiffEntry[];
  /** Attachment-owned vars a rollback left as they were (empty for every other release). */
  kept: ReleaseKeptVar[];
  actor: ReleaseActor;
  reason: string;
  createdAt: Date;
}

/** The app's vars now, opened. */
export async function currentVars(ctx: BrokerContext, db: Executor, appId: string): Promise<Map<string, StoredVar>> {
  const rows = await listSealedConfigVars(db, appId);
  return new Map(
    rows.map((r) => [
      r.name,
      { value: ctx.secretBox.open(r.value_sealed), attachmentId: r.attachment_id, secret: r.secret },
    ]),
  );
}

/** An event of an app's stream (`addonEvents`, `GET /v1/apps/:app/events`). */
export interface AppEvent {
  appId: string;
  addonId: string | null;
  kind: string;
  detail?: Record<string, unknown>;
}

/** Appends an event to the app's stream (`addonEvents`, `GET /v1/apps/:app/events`). */
export async function recordEvent(
  db: Executor,
  appId: string,
  addonId: string | null,
  kind: string,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await recordEvents(db, [{ appId, addonId, kind, detail }]);
}

/** Appends events to their apps' streams in this order, in one statement. */
export async function recordEvents(db: Executor, events: readonly AppEvent[]): Promise<void> {
  await insertAppEvents(
    db,
    events.map((e) => ({ appId: e.appId, addonId: e.addonId, kind: e.kind, detail: JSON.stringify(e.detail ?? {}) })),
  );
}

/**
 * Changes an app's vars as one release, inside the caller's transaction: locks the app, writes the
 * vars, records the release (diff with names only for secret values, a sealed snapshot of every
 * var for rollbacks), an event and the platforms' webhook deliveries. Returns undefined when
 * nothing would change (no empty releases).
 */
export async function applyConfigChange(
  ctx: BrokerContext,
  trx: Executor,
  input: {
    appId: string;
    changes: readonly VarChange[];
    actor: ReleaseActor;
    reason: string;
    kept?: readonly ReleaseKeptVar[];
    /** Events the change goes with, recorded after the release's own when there is a release. */
    events?: readonly AppEvent[];
    /**
     * Checks the vars as they are, under the app's lock, before anything is written: what it
     * throws leaves the transaction as it was.
     */
    check?: (before: ReadonlyMap<string, StoredVar>) => void;
  },
): Promise<Release | undefined> {
  const app = await lockAppForRelease(trx, input.appId);
  const before = await currentVars(ctx, trx, app.id);
  input.check?.(before);
  const after = new Map(before);
  for (const change of input.changes) {
    if (change.value === null) after.delete(change.name);
    else {
      after.set(change.name, {
        value: change.value,
        attachmentId: change.attachmentId,
        secret: change.secret ?? before.get(change.name)?.secret ?? true,
      });
    }
  }
  const diff: ReleaseDiffEntry[] = [];
  for (const [name, next] of after) {
    const prev = before.get(name);
    if (!prev) diff.push(withValue({ name, change: 'added' }, next));
    else if (prev.value !== next.value || prev.secret !== next.secret)
      diff.push(withValue({ name, change: 'changed' }, next));
  }
  for (const name of before.keys()) if (!after.has(name)) diff.push({ name, change: 'removed' });
  const ownersChanged = [...after].some(([name, v]) => before.get(name)?.attachmentId !== v.attachmentId);
  if (diff.length === 0 && !ownersChanged) return undefined;
  diff.sort((a, b) => a.name.localeCompare(b.name));

  const removed = [...before.keys()].filter((name) => !after.has(name));
  if (removed.length > 0) {
    await deleteConfigVars(trx, app.id, removed);
  }
  const upserts = [...after].filter(([name, v]) => {
    const prev = before.get(name);
    return !prev || prev.value !== v.value || prev.attachmentId !== v.attachmentId || prev.secret !== v.secret;
  });
  if (upserts.length > 0) {
    await upsertConfigVars(
      trx,
      upserts.map(([name, v]) => ({
        app_id: app.id,
        name,
        value_sealed: ctx.secretBox.seal(v.value),
        secret: v.secret,
        attachment_id: v.attachmentId,
      })),
    );
  }
  const version = app.release_version + 1;
  const snapshot = Object.fromEntries(after);
  const kept = [...(input.kept ?? [])];
  const createdAt = await insertRelease(trx, {
    app_id: app.id,
    version,
    diff: JSON.stringify(diff),
    kept: JSON.stringify(kept),
    vars_sealed: ctx.secretBox.seal(JSON.stringify(snapshot)),
    actor: JSON.stringify(input.actor),
    reason: input.reason,
  });
  await setAppReleaseVersion(trx, app.id, version);
  const changed = diff.map((d) => d.name);
  await recordEvents(trx, [
    { appId: app.id, addonId: null, kind: 'release.created', detail: { version, reason: input.reason, changed } },
    ...(input.events ?? []),
  ]);
  await enqueueConfigVarsChanged(trx, {
    appId: app.id,
    appName: app.name,
    organizationId: app.organization_id,
    release: version,
    changed,
  });
  return { version, diff, kept, actor: input.actor, reason: input.reason, createdAt };
}

function withValue(entry: ReleaseDiffEntry, v: StoredVar): ReleaseDiffEntry {
  return v.secret ? entry : { ...entry, value: v.value };
}

/**
 * A release as `caller` may see it: the values of non-secret vars in its diff only with the
 * `config:read` scope, like every other value (a `config:write` token sets, it does not read).
 */
export function releaseSeenBy(caller: ApiCaller, release: Release): Release {
  if (hasScope(caller, CONFIG_VALUES_SCOPE)) return release;
  return { ...release, diff: release.diff.map(({ value: _value, ...entry }) => entry) };
}

/** The vars an earlier release left, with their owners, opened. */
export async function releaseSnapshot(
  ctx: BrokerContext,
  db: Executor,
  appId: string,
  version: number,
): Promise<Map<string, StoredVar> | undefined> {
  const varsSealed = await findReleaseVarsSealed(db, appId, version);
  if (varsSealed === undefined) return undefined;
  return new Map(Object.entries(JSON.parse(ctx.secretBox.open(varsSealed)) as Record<string, StoredVar>));
}

export async function listReleases(db: Executor, appId: string, limit = 50): Promise<Release[]> {
  const rows = await listReleaseRows(db, appId, limit);
  return rows.map((r) => ({
    version: r.version,
    diff: r.diff,
    kept: r.kept,
    actor: r.actor as unknown as ReleaseActor,
    reason: r.reason,
    createdAt: r.created_at,
  }));
}

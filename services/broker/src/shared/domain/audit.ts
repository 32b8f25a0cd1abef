import { type AuditFilter, type AuditRow, insertAuditEntry, listAuditEntries } from '../db/audit.js';
import type { Executor } from '../db/executor.js';
import type { Caller } from './context.js';

export interface AuditEntry {
  id: number;
  at: Date;
  actor: { kind: string; id: string | null; platformId: string | null; tokenId: string | null };
  originatingIdentity: Record<string, unknown> | null;
  action: string;
  instanceId: string | null;
  bindingId: string | null;
  operationId: string | null;
  result: string;
  detail: Record<string, unknown>;
}

/** Who acted: the platform (and token and end user) behind a request or an operation. */
export interface Actor {
  kind: 'platform' | 'broker' | 'provider';
  platformId: string | null;
  tokenId: string | null;
  originatingIdentity: Record<string, unknown> | null;
}

export function actorOf(caller: Caller): Actor {
  return {
    kind: 'platform',
    platformId: caller.platformId,
    tokenId: caller.tokenId,
    originatingIdentity: caller.originatingIdentity
      ? { platform: caller.originatingIdentity.platform, value: caller.originatingIdentity.value }
      : null,
  };
}

/** Records one state change. Never pass credentials in `detail`. */
export async function recordAudit(
  db: Executor,
  actor: Actor,
  entry: {
    action: string;
    result: string;
    instanceId?: string | null;
    bindingId?: string | null;
    operationId?: string | null;
    detail?: Record<string, unknown>;
  },
): Promise<void> {
  await insertAuditEntry(db, {
    actor_kind: actor.kind,
    actor_id: actor.tokenId ?? actor.platformId,
    platform_id: actor.platformId,
    token_id: actor.tokenId,
    originating_identity: actor.originatingIdentity ? JSON.stringify(actor.originatingIdentity) : null,
    action: entry.action,
    instance_id: entry.instanceId ?? null,
    binding_id: entry.bindingId ?? null,
    operation_id: entry.operationId ?? null,
    result: entry.result,
    detail: JSON.stringify(entry.detail ?? {}),
  });
}

/**
 * The audit log: who did what to which instance or binding, when, and how it ended.
 *
 * @example
 * const entries = await listAudit(db, { instanceId: 'my-instance' });
 */
export async function listAudit(db: Executor, filter: AuditFilter = {}): Promise<AuditEntry[]> {
  return (await listAuditEntries(db, filter)).map(toEntry);
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    actor: { kind: row.actor_kind, id: row.actor_id, platformId: row.platform_id, tokenId: row.token_id },
    originatingIdentity: row.originating_identity,
    action: row.action,
    instanceId: row.instance_id,
    bindingId: row.binding_id,
    operationId: row.operation_id,
    result: row.result,
    detail: row.detail,
  };
}

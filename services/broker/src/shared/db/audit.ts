import type { BrokerAuditLogTable } from '@annex/platform';
import type { Insertable, Selectable } from 'kysely';
import type { Executor } from './executor.js';

export type AuditRow = Selectable<BrokerAuditLogTable>;

export async function insertAuditEntry(db: Executor, entry: Insertable<BrokerAuditLogTable>): Promise<void> {
  await db.insertInto('broker_audit_log').values(entry).execute();
}

export interface AuditFilter {
  instanceId?: string;
  bindingId?: string;
  operationId?: string;
  platformId?: string;
  since?: Date;
  limit?: number;
}

export async function listAuditEntries(db: Executor, filter: AuditFilter): Promise<AuditRow[]> {
  let query = db.selectFrom('broker_audit_log').selectAll();
  if (filter.instanceId) query = query.where('instance_id', '=', filter.instanceId);
  if (filter.bindingId) query = query.where('binding_id', '=', filter.bindingId);
  if (filter.operationId) query = query.where('operation_id', '=', filter.operationId);
  if (filter.platformId) query = query.where('platform_id', '=', filter.platformId);
  if (filter.since) query = query.where('at', '>=', filter.since);
  return query
    .orderBy('id')
    .limit(filter.limit ?? 1000)
    .execute();
}

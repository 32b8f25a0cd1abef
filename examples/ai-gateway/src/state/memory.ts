import type { ApiKeyRecord, GatewayStore, PendingReport, UsageEntry } from './store.js';

interface StoredUsage {
  entry: UsageEntry;
  reportedAt: string | null;
  rejected: string | null;
}

/**
 * The gateway's state in this process: the embedded default. It keeps usage that the broker
 * has not taken yet and retries it, but loses everything on restart; use
 * {@link PostgresGatewayStore} (EXAMPLE_AI_DATABASE_URL) to keep it.
 */
export class MemoryGatewayStore implements GatewayStore {
  readonly #keys = new Map<string, ApiKeyRecord>();
  readonly #windows = new Map<string, number>();
  readonly #months = new Map<string, number>();
  readonly #usage = new Map<string, StoredUsage>();

  async init() {}
  async insertKey(record: ApiKeyRecord) {
    if (this.#keys.has(record.hash)) throw new Error('API key hash collision');
    this.#keys.set(record.hash, { ...record });
  }
  async findKey(hash: string) {
    const found = this.#keys.get(hash);
    return found && { ...found };
  }
  async revokeBindingKeys(instanceId: string, bindingId: string, at: string) {
    return this.#revoke((k) => k.instanceId === instanceId && k.bindingId === bindingId, at);
  }
  async revokeInstanceKeys(instanceId: string, at: string) {
    return this.#revoke((k) => k.instanceId === instanceId, at);
  }
  #revoke(match: (key: ApiKeyRecord) => boolean, at: string) {
    let count = 0;
    for (const key of this.#keys.values()) {
      if (match(key) && key.revokedAt === null) {
        key.revokedAt = at;
        count++;
      }
    }
    return count;
  }
  async countActiveKeys(instanceId: string) {
    let count = 0;
    for (const key of this.#keys.values()) if (key.instanceId === instanceId && key.revokedAt === null) count++;
    return count;
  }
  async hitRateWindow(instanceId: string, windowStart: number) {
    const key = `${instanceId}/${windowStart}`;
    const count = (this.#windows.get(key) ?? 0) + 1;
    this.#windows.set(key, count);
    return count;
  }
  async monthTokens(instanceId: string, month: string) {
    return this.#months.get(`${instanceId}/${month}`) ?? 0;
  }
  async tokensByBinding(instanceId: string, month: string) {
    const totals: Record<string, number> = {};
    for (const { entry } of this.#usage.values()) {
      if (entry.instanceId === instanceId && entry.month === month) {
        totals[entry.bindingId] = (totals[entry.bindingId] ?? 0) + entry.totalTokens;
      }
    }
    return totals;
  }
  async recordUsage(entry: UsageEntry) {
    if (this.#usage.has(entry.id)) return;
    this.#usage.set(entry.id, { entry: structuredClone(entry), reportedAt: null, rejected: null });
    const key = `${entry.instanceId}/${entry.month}`;
    this.#months.set(key, (this.#months.get(key) ?? 0) + entry.totalTokens);
  }
  async pendingReports(limit: number) {
    const pending: PendingReport[] = [];
    for (const stored of this.#usage.values()) {
      if (pending.length >= limit) break;
      const { entry } = stored;
      if (entry.report && stored.reportedAt === null && stored.rejected === null) {
        pending.push(structuredClone({ ...entry, report: entry.report }));
      }
    }
    return pending;
  }
  async markReported(ids: readonly string[], at: string) {
    for (const id of ids) {
      const stored = this.#usage.get(id);
      if (stored) stored.reportedAt = at;
    }
  }
  async markRejected(ids: readonly string[], reason: string) {
    for (const id of ids) {
      const stored = this.#usage.get(id);
      if (stored) stored.rejected = reason;
    }
  }
  async pruneRateWindows(before: number) {
    for (const key of this.#windows.keys()) {
      if (Number(key.slice(key.lastIndexOf('/') + 1)) < before) this.#windows.delete(key);
    }
  }
  async close() {}
}

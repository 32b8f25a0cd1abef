/**
 * The gateway's own state, beside the SDK's protocol state: API keys (only their SHA-256
 * hashes), rate-limit windows, monthly token counters, and every request's usage, which is
 * also the outbox of usage reports to the broker (a row stays pending until the broker took it).
 */

/** An API key issued to one binding. */
export interface ApiKeyRecord {
  /** SHA-256 of the key, hex; the key itself is never stored here. */
  hash: string;
  instanceId: string;
  bindingId: string;
  createdAt: string;
  revokedAt: string | null;
}

/** The tokens one request consumed, and its usage report to the broker. */
export interface UsageEntry {
  /** The request id; the report's idempotency key derives from it. */
  id: string;
  instanceId: string;
  bindingId: string;
  endpoint: 'chat.completions' | 'embeddings';
  model: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  at: string;
  /** `YYYY-MM` (UTC), the quota period. */
  month: string;
  /** What to report to the broker, or null when the plan is not metered. */
  report: { unit: string; quantity: number } | null;
}

/** A usage entry still to be reported. */
export type PendingReport = UsageEntry & { report: { unit: string; quantity: number } };

export interface GatewayStore {
  init(): Promise<void>;
  insertKey(record: ApiKeyRecord): Promise<void>;
  findKey(hash: string): Promise<ApiKeyRecord | undefined>;
  /** Revokes the keys of one binding; returns how many were active. */
  revokeBindingKeys(instanceId: string, bindingId: string, at: string): Promise<number>;
  /** Revokes every key of an instance; returns how many were active. */
  revokeInstanceKeys(instanceId: string, at: string): Promise<number>;
  /** How many of the instance's keys are not revoked (the dashboard shows it). */
  countActiveKeys(instanceId: string): Promise<number>;
  /** Counts one request in the instance's window starting at `windowStart` (ms); returns the count so far. */
  hitRateWindow(instanceId: string, windowStart: number): Promise<number>;
  /** Tokens the instance consumed in `month`. */
  monthTokens(instanceId: string, month: string): Promise<number>;
  /** Tokens per binding (API key) of the instance in `month`. */
  tokensByBinding(instanceId: string, month: string): Promise<Record<string, number>>;
  /** Stores a request's usage and adds it to the month's counter, atomically. */
  recordUsage(entry: UsageEntry): Promise<void>;
  /** The oldest usage entries not yet reported (nor rejected). */
  pendingReports(limit: number): Promise<PendingReport[]>;
  markReported(ids: readonly string[], at: string): Promise<void>;
  /** The broker refused these for good (a 4xx): kept for inspection, not sent again. */
  markRejected(ids: readonly string[], reason: string): Promise<void>;
  /** Forgets rate windows that ended before `before` (ms). */
  pruneRateWindows(before: number): Promise<void>;
  close(): Promise<void>;
}

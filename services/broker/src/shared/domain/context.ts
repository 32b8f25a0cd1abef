import type { Database, Logger, OutboundPolicy, SecretBox } from '@annex/platform';
import type { Tracer } from '@annex/tracing';
import type { LiveEvents } from '../../apps/index.js';
import type { Billing } from '../../billing/index.js';
import type { ProviderClient } from '../../osb/index.js';
import type { PlanContext, ProviderRow } from '../db/catalog.js';
import type { BrokerDb } from '../db/executor.js';
import type { TtlCache } from './cache.js';
import type { RequestSigner } from './signing.js';

/** What the domain needs; built once by `createBroker`. */
export interface BrokerContext {
  db: BrokerDb;
  /** What `db` belongs to: its notifications wake the job runner and live events. */
  database: Database;
  secretBox: SecretBox;
  logger: Logger;
  signer: RequestSigner;
  providers: ProviderClient;
  /** How billing runs: with Stripe, or ledger-only (docs/billing.md). */
  billing: Billing;
  /** Where webhook URLs and providers' OSB URLs may point (ANNEX_ALLOW_PRIVATE_NETWORKS). */
  outbound: OutboundPolicy;
  settings: {
    syncWaitMs: number;
    /** See BROKER_SYNC_RECORD_AFTER_MS; 0 or absent: the start record is always written first. */
    syncRecordAfterMs?: number;
    leaseMs: number;
    maxPollingSeconds: number;
    /** Apps: how long an old binding stays valid after a rotation (APPS_ROTATION_GRACE_SECONDS). */
    rotationGraceSeconds?: number;
  };
  /** Wakes the process's open event polls when an app's event is written (one listener). */
  liveEvents: LiveEvents;
  /** Names this process in operation leases. */
  replicaId: string;
  /** Plans (by OSB id) and providers (by id), kept a few seconds. */
  caches: { plans: TtlCache<PlanContext>; providers: TtlCache<ProviderRow> };
  /** Provider calls still running after their request answered 202; `close()` waits for them. */
  background: Set<Promise<unknown>>;
  /** Spans of this broker (requests, jobs); off unless `OTEL_*` configures an exporter. */
  tracer?: Tracer;
}

/** `X-Broker-API-Originating-Identity`, parsed. */
export interface OriginatingIdentity {
  platform: string;
  value: Record<string, unknown>;
  /** The header as received, forwarded to providers unchanged. */
  header: string;
}

/** Who is calling: an authenticated platform (by OSB basic auth or a platform token). */
export interface Caller {
  platformId: string;
  tokenId: string | null;
  /** Organization slugs whose private plans the platform may use. */
  organizations: readonly string[];
  originatingIdentity: OriginatingIdentity | null;
  requestIdentity: string | null;
}

/** A platform sees only the instances and bindings it created. */
export function ownedBy<T extends { platform_id: string | null }>(row: T | undefined, caller: Caller): T | undefined {
  return row && (row.platform_id === null || row.platform_id === caller.platformId) ? row : undefined;
}

import { createHash } from 'node:crypto';
import { type DB, executePrepared } from '@annex/platform';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';
import { StatementBatcher } from './batcher.js';
import type { OperationRow } from './operations.js';

export interface NewProvisioning {
  instance: {
    id: string;
    serviceId: string;
    planId: string;
    platformId: string;
    organizationGuid: string;
    spaceGuid: string;
    context: string;
    /** Sealed (domain/parameters.ts); null when there are none. */
    parametersSealed: string | null;
    providerId: string;
    providerInstanceId: string;
    maintenanceInfo: string | null;
    originatingIdentity: string | null;
    tokenId: string | null;
  };
  operation: {
    id: string;
    request: string;
    acceptsIncomplete: boolean;
    originatingIdentity: string | null;
    leaseOwner: string;
    leaseMs: number;
  };
  audit: { actorId: string | null; originatingIdentity: string | null; detail: string };
  /**
   * `deferred`: commit with `synchronous_commit = off` (PostgreSQL only). Allowed only when
   * nothing is answered to the platform before a later synchronous commit, which flushes
   * the WAL up to and including this one (see docs/broker.md, "Durability of the start record").
   */
  commit?: 'durable' | 'deferred';
}

const servers = new WeakMap<object, Promise<boolean>>();

/**
 * Whether `db` is a PostgreSQL server (true) rather than PGlite in process (false).
 * Asked once per database handle.
 */
export function isPostgresServer(db: Kysely<DB>): Promise<boolean> {
  let known = servers.get(db);
  if (!known) {
    known = sql<{ version: string }>`select version() as version`
      .execute(db)
      .then((result) => !String(result.rows[0]?.version ?? '').includes('PGlite'));
    servers.set(db, known);
    known.catch(() => servers.delete(db));
  }
  return known;
}

/** A name-based UUID (version 5, SHA-1; RFC 9562 section 5.5) of `name` in `namespace`. */
export function uuidV5(namespace: string, name: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The fixed namespace of provider-side instance ids. Never change it: live instances depend on it. */
export const PROVIDER_INSTANCE_NAMESPACE = '4b0f3a4e-8e6d-4f1c-9a57-c2d1b0e3f6a8';

/**
 * The provider-side id of a platform's instance, the same on every attempt: a UUID v5 of
 * `${platformId}:${instanceId}`. A platform's retried PUT reaches the same provider
 * instance, and a DELETE the broker has no record of can still reach it.
 */
export function deterministicProviderInstanceId(platformId: string, instanceId: string): string {
  return uuidV5(PROVIDER_INSTANCE_NAMESPACE, `${platformId}:${instanceId}`);
}

/**
 * A provision's start record in one statement (one round trip, one commit): the instance
 * row, its leased provision operation and the audit entry. Every provision starts here.
 * Inserts nothing and returns undefined when the instance id exists already (the caller then
 * takes the locking path). Any unique conflict counts: two requests for one new instance
 * carry the same deterministic provider-side id, and the second must wait and find the
 * first's row, not fail on that id's unique index.
 *
 * Concurrent calls share statements (see StatementBatcher): under load one statement and
 * one commit record many provisions, each row deciding its own conflict.
 */
export async function insertNewProvisioning(db: Executor, values: NewProvisioning): Promise<OperationRow | undefined> {
  const commit = values.commit ?? 'durable';
  if (db.isTransaction) return (await startProvisionings(db, commit, [values], false))[0];
  return batchersOf(db)[commit].submit(values);
}

/**
 * The start record of a provision over a deleted or failed instance with the same id, in the
 * locking path's transaction (which holds the row's lock and decided that it is provisioned
 * afresh): the row is taken over, with the new provider-side id of `values`. Undefined
 * when the row is neither deleted nor failed.
 */
export async function renewProvisioning(
  trx: Transaction<DB>,
  values: Omit<NewProvisioning, 'commit'>,
): Promise<OperationRow | undefined> {
  return (await startProvisionings(trx, 'durable', [values], true))[0];
}

/**
 * Many provision start records in one statement (the `broker_start_provisionings` function,
 * one single-row insert per row inside); the answer holds each row's operation, or undefined
 * where its id was taken. Rows go in id order, so that two batches waiting on each other's
 * ids always wait in the same direction.
 */
async function startProvisionings(
  db: Executor,
  commit: 'durable' | 'deferred',
  given: readonly NewProvisioning[],
  renew: boolean,
): Promise<(OperationRow | undefined)[]> {
  const inserted = await startProvisioningsCall(db, inIdOrder(given), [commit === 'deferred', renew]);
  return matchOperations(given, inserted);
}

/** A synchronous provision the provider finished before its start record was written. */
export interface FinishedProvisioning extends Omit<NewProvisioning, 'commit'> {
  outcome: { description: string | null; result: string; dashboardUrl: string | null };
}

/**
 * Records a provision the provider has already finished, whole, in one statement and one
 * durable commit: the instance (provisioned), its operation (succeeded) and both audit
 * entries. Answers the operation's id, or undefined when the instance id (or its
 * provider-side id) is taken: nothing is written and the caller takes the locking path.
 * Only the id comes back: the caller knows what it wrote, and reading the whole operation
 * row back (its request, timestamps and all) cost more than the rest of the call.
 * Concurrent calls share statements.
 */
export async function recordProvisioned(db: Executor, values: FinishedProvisioning): Promise<string | undefined> {
  if (db.isTransaction) return (await recordProvisionings(db, [values]))[0];
  return batchersOf(db).record.submit(values);
}

async function recordProvisionings(
  db: Executor,
  given: readonly FinishedProvisioning[],
): Promise<(string | undefined)[]> {
  return matchOperations(given, await recordProvisions(db, inIdOrder(given))).map((row) => row?.id);
}

export interface ProvisioningSuccess {
  operationId: string;
  instanceId: string;
  providerInstanceId: string;
  leaseOwner: string;
  description: string | null;
  result: string;
  dashboardUrl: string | null;
  audit: {
    actorKind: string;
    actorId: string | null;
    platformId: string | null;
    tokenId: string | null;
    originatingIdentity: string | null;
  };
}

/**
 * A provision's success in one statement, and so one durable commit: the operation
 * (only if this owner still leases it and it is not terminal yet), the instance (only if
 * it is still the provisioning of this provider-side id) and the audit entry. Returns
 * undefined when the operation was not ours to finish. Concurrent calls share statements.
 */
export async function completeProvisioning(db: Executor, v: ProvisioningSuccess): Promise<OperationRow | undefined> {
  if (db.isTransaction) return (await completeProvisionings(db, [v]))[0];
  return batchersOf(db).complete.submit(v);
}

async function completeProvisionings(
  db: Executor,
  rows: readonly ProvisioningSuccess[],
): Promise<(OperationRow | undefined)[]> {
  const completed = await completeProvisionsCall(db, rows);
  const byOperation = new Map(completed.map((row) => [row.id, row]));
  return rows.map((row) => byOperation.get(row.operationId));
}

/** One array parameter of a batch function: its element type and each row's element. */
type Column<R> = readonly [type: string, pick: (row: R) => unknown];

/**
 * A call of the plpgsql function `fn` with one array parameter per column (each row one
 * element of each) and then `scalars`, selecting `returning` (a list of the operation row's
 * columns, all by default): the text is built once, so every call is a named prepared
 * statement with nothing to compile.
 */
function arrayCall<R, T extends Partial<OperationRow> = OperationRow>(
  fn: string,
  columns: readonly Column<R>[],
  scalars: readonly string[] = [],
  returning = '*',
) {
  const placeholders = [
    ...columns.map(([type], index) => `$${index + 1}::${type}[]`),
    ...scalars.map((type, index) => `$${columns.length + index + 1}::${type}`),
  ];
  const text = `select ${returning} from ${fn}(${placeholders.join(', ')})`;
  return (db: Executor, rows: readonly R[], scalarValues: readonly unknown[] = []) =>
    executePrepared<T>(db, fn, text, [...columns.map(([, pick]) => rows.map(pick)), ...scalarValues]);
}

/** The columns a new instance and its operation share in the start and the whole record. */
const instanceColumns: readonly Column<NewProvisioning | FinishedProvisioning>[] = [
  ['text', (r) => r.instance.id],
  ['uuid', (r) => r.instance.serviceId],
  ['uuid', (r) => r.instance.planId],
  ['uuid', (r) => r.instance.platformId],
  ['text', (r) => r.instance.organizationGuid],
  ['text', (r) => r.instance.spaceGuid],
  ['jsonb', (r) => r.instance.context],
  ['text', (r) => r.instance.parametersSealed],
  ['uuid', (r) => r.instance.providerId],
  ['text', (r) => r.instance.providerInstanceId],
  ['jsonb', (r) => r.instance.maintenanceInfo],
  ['jsonb', (r) => r.instance.originatingIdentity],
  ['uuid', (r) => r.instance.tokenId],
  ['uuid', (r) => r.operation.id],
  ['jsonb', (r) => r.operation.request],
];

const auditColumns: readonly Column<NewProvisioning | FinishedProvisioning>[] = [
  ['text', (r) => r.audit.actorId],
  ['jsonb', (r) => r.audit.originatingIdentity],
  ['jsonb', (r) => r.audit.detail],
];

const startProvisioningsCall = arrayCall<NewProvisioning>(
  'broker_start_provisionings',
  [
    ...instanceColumns,
    ['boolean', (r) => r.operation.acceptsIncomplete],
    ['jsonb', (r) => r.operation.originatingIdentity],
    ['text', (r) => r.operation.leaseOwner],
    ['integer', (r) => r.operation.leaseMs],
    ...auditColumns,
  ],
  ['boolean', 'boolean'],
);

const recordProvisions = arrayCall<FinishedProvisioning, Pick<OperationRow, 'id'>>(
  'broker_record_provisions',
  [
    ...instanceColumns,
    ['jsonb', (r) => r.operation.originatingIdentity],
    ...auditColumns,
    ['text', (r) => r.outcome.description],
    ['jsonb', (r) => r.outcome.result],
    ['text', (r) => r.outcome.dashboardUrl],
  ],
  [],
  'id',
);

const completeProvisionsCall = arrayCall<ProvisioningSuccess>('broker_complete_provisionings', [
  ['uuid', (r) => r.operationId],
  ['text', (r) => r.leaseOwner],
  ['text', (r) => r.description],
  ['jsonb', (r) => r.result],
  ['text', (r) => r.providerInstanceId],
  ['text', (r) => r.dashboardUrl],
  ['text', (r) => r.audit.actorKind],
  ['text', (r) => r.audit.actorId],
  ['uuid', (r) => r.audit.platformId],
  ['uuid', (r) => r.audit.tokenId],
  ['jsonb', (r) => r.audit.originatingIdentity],
]);

/** Rows in instance-id order: two batches waiting on each other's ids wait in the same direction. */
function inIdOrder<R extends { instance: { id: string } }>(rows: readonly R[]): R[] {
  return [...rows].sort((x, y) => (x.instance.id < y.instance.id ? -1 : x.instance.id > y.instance.id ? 1 : 0));
}

/** Each request's operation from a batch's answer, or undefined where its id was taken. */
function matchOperations<T extends { id: string }>(given: readonly { operation: { id: string } }[], rows: T[]) {
  const byOperation = new Map(rows.map((row) => [row.id, row]));
  return given.map((row) => byOperation.get(row.operation.id));
}

interface ProvisioningBatchers {
  record: StatementBatcher<FinishedProvisioning, string>;
  durable: StatementBatcher<NewProvisioning, OperationRow>;
  deferred: StatementBatcher<NewProvisioning, OperationRow>;
  complete: StatementBatcher<ProvisioningSuccess, OperationRow>;
}

const batchers = new WeakMap<object, ProvisioningBatchers>();

function batchersOf(db: Executor): ProvisioningBatchers {
  let found = batchers.get(db);
  if (!found) {
    found = {
      record: new StatementBatcher((rows) => recordProvisionings(db, rows)),
      durable: new StatementBatcher((rows) => startProvisionings(db, 'durable', rows, false)),
      deferred: new StatementBatcher((rows) => startProvisionings(db, 'deferred', rows, false)),
      complete: new StatementBatcher((rows) => completeProvisionings(db, rows)),
    };
    batchers.set(db, found);
  }
  return found;
}

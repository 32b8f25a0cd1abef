import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { NO_TRACING, parseTraceparent, type Tracer, withRemoteContext } from '@annex/tracing';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import { retryDelayMs } from './backoff.js';
import {
  type ClaimedJobRow,
  claimJobs,
  completeJob,
  enqueueScheduledJob,
  extendLeases,
  failJob,
  failStaleJobs,
  initSchedule,
  insertJob,
  type JobsExecutor,
  nextJobAt,
  postponeJob,
  releaseJobs,
} from './db.js';
import { periodStart, type Recurrence } from './schedule.js';

/** The channel `jobs` rows notify on (see the migration's trigger). */
export const JOBS_CHANNEL = 'annex_jobs';

/** Job kinds by name, each with its payload type: `{ 'billing.invoicing': { period?: string } }`. */
export type JobKinds = Record<string, unknown>;

/** One job as its handler sees it. */
export interface Job<P> {
  id: number;
  kind: string;
  payload: P;
  /** Which attempt this is, from 1. */
  attempt: number;
  maxAttempts: number;
  /** When it was due; for a recurring job, the start of its period. */
  runAt: Date;
  /** The key it was enqueued with, if any. */
  key: string | null;
  /** Aborted when the runner stops and will not wait any longer; the job is then run again elsewhere. */
  signal: AbortSignal;
}

/** What a handler may return: nothing (done), or when to run again without counting an attempt. */
export type JobOutcome = undefined | { runAgainAt: Date };

export type JobHandler<P> = (job: Job<P>) => Promise<JobOutcome | undefined> | Promise<void>;

export interface JobKindOptions<P> {
  run: JobHandler<P>;
  /** Attempts before the job is kept as failed (default 25). */
  maxAttempts?: number;
  /** First retry delay (default 1 s); doubles per attempt up to `maxMs` (default 1 h); see retryDelayMs. */
  backoff?: { baseMs?: number; maxMs?: number };
}

/**
 * A failure that says when to try again (an upstream's `Retry-After`). Any error with a
 * numeric `retryAfterMs` property is read the same way.
 */
export class RetryLaterError extends Error {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number) {
    super(message);
    this.name = 'RetryLaterError';
    this.retryAfterMs = retryAfterMs;
  }
}

/** A recurring job: `kind` enqueued once per period of `recurrence` across every runner. */
export interface JobSchedule<Kind extends string = string> {
  /** Unique per schedule; defaults to the kind. */
  name?: string;
  kind: Kind;
  recurrence: Recurrence;
  /** The payload of each job it enqueues (default `{}`). */
  payload?: unknown;
  /**
   * The key of each job it enqueues (see `enqueue`); default one per period. A schedule that
   * shares its key with jobs enqueued otherwise only makes sure one runs each period.
   */
  key?: string;
  /**
   * On a database where this schedule never ran: run the period under way at once
   * (`'now'`, the default) or wait for the next period to begin (`'next-period'`). Either
   * way a period missed while no runner was up runs once when one starts.
   */
  firstRun?: 'now' | 'next-period';
}

export interface JobRunnerOptions<K extends JobKinds> {
  kinds: { [N in keyof K & string]: JobHandler<K[N]> | JobKindOptions<K[N]> };
  schedules?: readonly JobSchedule<keyof K & string>[];
  logger: Logger;
  /** Jobs running at once in this runner (default 10). */
  concurrency?: number;
  /** How long a claim lasts without renewal; renewed every third of it while a job runs (default 60 s). */
  leaseMs?: number;
  /**
   * The longest an idle runner sleeps without being woken (default 60 s): then it fails
   * jobs whose runner died on their last attempt and looks for work it was not told of.
   */
  fallbackMs?: number;
  /** Names this runner in leases (default host:pid:random). */
  owner?: string;
  /** Milliseconds since the epoch; tests move it by hand (default `Date.now`). */
  clock?: () => number;
  /**
   * Runs each job in a span `job <kind>` that continues the trace of the request that
   * enqueued it (a keyed job: linked to it); default off.
   */
  tracer?: Tracer;
}

export interface EnqueueOptions {
  runAt?: Date;
  key?: string;
  maxAttempts?: number;
}

export interface JobRunner<K extends JobKinds> {
  /** Listens for new jobs, enqueues due schedules and starts claiming. */
  start(): Promise<void>;
  /**
   * Stops claiming, waits up to `graceMs` (default 10 s) for running jobs to finish,
   * then aborts the rest and gives their leases back so another runner retakes them now.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
  /** Adds a job through this runner's database (or `db`, a transaction). */
  enqueue<N extends keyof K & string>(
    kind: N,
    payload: K[N],
    options?: EnqueueOptions,
    db?: JobsExecutor,
  ): Promise<number>;
  /**
   * Runs everything due now by the runner's clock (schedules included) and waits for it;
   * resolves with how many jobs ran. Tests use it with a hand-moved clock, without `start()`.
   */
  runDue(): Promise<number>;
  /** Looks for work now instead of at the next timer (in-process callers that just wrote some). */
  wake(): void;
  /** Resolves once the runner is asleep: no pass under way, no job running, its next wake-up armed. */
  settled(): Promise<void>;
}

const DEFAULT_BACKOFF = { baseMs: 1_000, maxMs: 3_600_000 };
// A failing database is retried sooner than the fallback, later than a busy loop.
const ERROR_RETRY_MS = 2_000;

/**
 * The job runner: claims due jobs of its kinds with `FOR UPDATE SKIP LOCKED` under a lease
 * it renews while they run, retries failures with one backoff policy, enqueues recurring
 * jobs once per period across replicas, and sleeps until the earliest due job, a
 * notification (`LISTEN annex_jobs`; PGlite in process) or the fallback timer.
 *
 * @example
 * const runner = createJobRunner<{ 'mail.send': { to: string } }>(database, {
 *   logger,
 *   kinds: { 'mail.send': async (job) => sendMail(job.payload.to) },
 *   schedules: [],
 * });
 * await runner.start();
 * await runner.enqueue('mail.send', { to: 'a@example.com' });
 * await runner.stop();
 */
export function createJobRunner<K extends JobKinds>(database: Database, options: JobRunnerOptions<K>): JobRunner<K> {
  const db = database.db;
  const logger = options.logger;
  const clock = options.clock ?? Date.now;
  const tracer = options.tracer ?? NO_TRACING;
  const concurrency = options.concurrency ?? 10;
  const leaseMs = options.leaseMs ?? 60_000;
  const fallbackMs = options.fallbackMs ?? 60_000;
  const owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error('job runner: concurrency must be a positive integer');
  if (!Number.isInteger(leaseMs) || leaseMs < 100)
    throw new Error('job runner: leaseMs must be an integer of at least 100');
  if (!Number.isInteger(fallbackMs) || fallbackMs < 100) {
    throw new Error('job runner: fallbackMs must be an integer of at least 100');
  }

  const kinds = new Map<
    string,
    Required<Pick<JobKindOptions<unknown>, 'run' | 'maxAttempts'>> & typeof DEFAULT_BACKOFF
  >();
  for (const [kind, spec] of Object.entries(options.kinds) as [
    string,
    JobHandler<unknown> | JobKindOptions<unknown>,
  ][]) {
    const full = typeof spec === 'function' ? { run: spec } : spec;
    const maxAttempts = full.maxAttempts ?? 25;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new Error(`job runner: ${kind}.maxAttempts must be a positive integer`);
    }
    kinds.set(kind, { run: full.run, maxAttempts, ...DEFAULT_BACKOFF, ...full.backoff });
  }
  const kindNames = [...kinds.keys()];
  const schedules = (options.schedules ?? []).map((schedule) => {
    if (!kinds.has(schedule.kind)) throw new Error(`job runner: schedule of unknown kind ${schedule.kind}`);
    return { ...schedule, name: schedule.name ?? schedule.kind, next: Number.NEGATIVE_INFINITY, known: false };
  });
  if (new Set(schedules.map((s) => s.name)).size !== schedules.length) {
    throw new Error('job runner: two schedules share a name');
  }

  const inFlight = new Map<number, { promise: Promise<void>; abort: AbortController }>();
  let started = false;
  let stopped = false;
  let unlisten: (() => Promise<void>) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let timerImmediate = false;
  let heartbeat: NodeJS.Timeout | undefined;
  let passing: Promise<number> | undefined;
  let again = false;
  let lastSweep = Number.NEGATIVE_INFINITY;

  const now = () => new Date(clock());

  async function enqueueDueSchedules(): Promise<void> {
    const at = clock();
    for (const schedule of schedules) {
      if (at < schedule.next) continue;
      const period = periodStart(schedule.recurrence, at);
      if (!schedule.known && schedule.firstRun === 'next-period') {
        await initSchedule(db, { name: schedule.name, period: new Date(period) });
      }
      schedule.known = true;
      const id = await enqueueScheduledJob(db, {
        name: schedule.name,
        kind: schedule.kind,
        payload: schedule.payload ?? {},
        key: schedule.key ?? `${schedule.name}@${new Date(period).toISOString()}`,
        period: new Date(period),
        maxAttempts: (kinds.get(schedule.kind) as { maxAttempts: number }).maxAttempts,
      });
      if (id !== undefined)
        logger.debug({ schedule: schedule.name, period: new Date(period) }, 'recurring job enqueued');
      schedule.next = period + schedule.recurrence.everyMs;
    }
  }

  async function execute(row: ClaimedJobRow, abort: AbortController): Promise<void> {
    const kind = kinds.get(row.kind);
    if (!kind) return; // claimJobs only returns our kinds
    const job: Job<unknown> = {
      id: row.id,
      kind: row.kind,
      payload: row.payload,
      attempt: row.attempts,
      maxAttempts: row.max_attempts,
      runAt: row.run_at,
      key: row.key,
      signal: abort.signal,
    };
    let outcome: JobOutcome | undefined;
    try {
      outcome = (await traced(row, async () => (await kind.run(job)) ?? undefined)) ?? undefined;
    } catch (error) {
      // Aborted by stop(): it gives the lease back itself, and the attempt does not count.
      if (stopped && abort.signal.aborted) return;
      const retryAfter = (error as { retryAfterMs?: unknown }).retryAfterMs;
      const failed = await failJob(db, {
        id: row.id,
        owner,
        now: now(),
        error: error instanceof Error ? error.message : String(error),
        delayMs: retryDelayMs(
          row.attempts,
          kind,
          typeof retryAfter === 'number' && Number.isFinite(retryAfter) ? Math.max(0, retryAfter) : 0,
        ),
      });
      const log = { err: error, job: row.id, kind: row.kind, attempt: row.attempts };
      if (failed?.state === 'failed') logger.error(log, 'job failed on its last attempt; kept as failed');
      else if (failed) logger.warn({ ...log, retryAt: failed.run_at }, 'job failed; retrying later');
      else logger.warn(log, 'job failed after its lease was lost');
      return;
    }
    const kept = outcome
      ? await postponeJob(db, { id: row.id, owner, now: now(), runAt: outcome.runAgainAt })
      : await completeJob(db, row.id, owner);
    if (!kept) logger.warn({ job: row.id, kind: row.kind }, 'job finished after its lease was lost');
  }

  /**
   * The job's work in its span. A job without a key continues the trace of the request that
   * enqueued it; a keyed one may have been enqueued by several (a pass over a table's rows),
   * so it starts a trace of its own, linked to the first. With tracing off, the enqueuing
   * request's context is passed on as it came.
   */
  function traced<T>(row: ClaimedJobRow, work: () => Promise<T>): Promise<T> {
    const enqueuer = row.traceparent ? parseTraceparent(row.traceparent) : null;
    if (!tracer.enabled) return enqueuer && row.key === null ? withRemoteContext(enqueuer, work) : work();
    const attributes = { 'job.id': row.id, 'job.kind': row.kind, 'job.attempt': row.attempts };
    const relation = row.key === null ? { parent: enqueuer } : { parent: null, links: enqueuer ? [enqueuer] : [] };
    return tracer.inSpan(`job ${row.kind}`, { kind: 'consumer', attributes, ...relation }, work);
  }

  function launch(row: ClaimedJobRow): void {
    const abort = new AbortController();
    const promise = execute(row, abort)
      .catch((error: unknown) => {
        // Recording the result failed: the lease expires and the job runs again.
        logger.error({ err: error, job: row.id, kind: row.kind }, 'recording a job result failed');
      })
      .finally(() => {
        inFlight.delete(row.id);
        if (inFlight.size === 0 && heartbeat) {
          clearInterval(heartbeat);
          heartbeat = undefined;
        }
        wake();
      });
    inFlight.set(row.id, { promise, abort });
    heartbeat ??= setInterval(
      () => {
        extendLeases(db, { owner, now: now(), leaseMs }).catch((error: unknown) => {
          logger.warn({ err: error }, 'renewing job leases failed');
        });
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
  }

  /** Schedules, the stale sweep when due, one claim; returns how many jobs it started. */
  async function pass(): Promise<number> {
    await enqueueDueSchedules();
    if (clock() - lastSweep >= fallbackMs) {
      lastSweep = clock();
      const failed = await failStaleJobs(db, { kinds: kindNames, now: now() });
      if (failed > 0) logger.error({ jobs: failed }, 'jobs whose runner stopped on their last attempt marked failed');
    }
    const free = concurrency - inFlight.size;
    if (free <= 0 || stopped) return 0;
    const claimed = await claimJobs(db, { kinds: kindNames, owner, now: now(), leaseMs, limit: free });
    for (const row of claimed) launch(row);
    if (claimed.length === free) again = true;
    return claimed.length;
  }

  async function arm(): Promise<void> {
    if (stopped || !started) return;
    let at = clock() + fallbackMs;
    for (const schedule of schedules) at = Math.min(at, schedule.next);
    if (inFlight.size < concurrency) {
      const next = await nextJobAt(db, kindNames);
      if (next) at = Math.min(at, next.getTime());
    }
    setTimer(Math.max(0, at - clock()));
  }

  function setTimer(delay: number): void {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timerImmediate = delay <= 0;
    // Timers past 2^31 ms fire at once; a runner sleeps at most the fallback anyway.
    timer = setTimeout(tick, Math.min(delay, 2 ** 31 - 1));
  }

  function tick(): void {
    timer = undefined;
    if (stopped) return;
    if (passing) {
      again = true;
      return;
    }
    again = false;
    let failed = false;
    passing = pass()
      .then(async (count) => {
        if (!(again && inFlight.size < concurrency)) await arm();
        return count;
      })
      .catch((error: unknown) => {
        failed = true;
        logger.warn({ err: error }, 'job runner pass failed; retrying');
        setTimer(Math.min(ERROR_RETRY_MS, fallbackMs));
        return 0;
      })
      .finally(() => {
        passing = undefined;
        // A wake that came while this pass ran (or while arm read the next due time, which
        // may have been read before the woken job was written) is served now, not at the
        // fallback timer.
        if (!failed && again && inFlight.size < concurrency) setTimer(0);
      });
  }

  function wake(): void {
    if (stopped || !started) return;
    if (passing) again = true;
    else setTimer(0);
  }

  return {
    async start() {
      if (started) return;
      if (stopped) throw new Error('job runner: stopped runners do not start again');
      started = true;
      unlisten = await database.listen(JOBS_CHANNEL, (kind) => {
        if (kind === '' || kinds.has(kind)) wake();
      });
      setTimer(0);
    },

    async stop(stopOptions = {}) {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await unlisten?.().catch(() => {});
      await passing;
      const graceMs = stopOptions.graceMs ?? 10_000;
      const pending = [...inFlight.values()].map((entry) => entry.promise);
      let graceTimer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'late'>((resolve) => {
        graceTimer = setTimeout(() => resolve('late'), graceMs);
      });
      const finished = await Promise.race([Promise.allSettled(pending).then(() => 'done' as const), graceOver]);
      clearTimeout(graceTimer);
      if (finished === 'late' && inFlight.size > 0) {
        const ids = [...inFlight.keys()];
        for (const entry of inFlight.values()) entry.abort.abort(new Error('the job runner is stopping'));
        const released = await releaseJobs(db, { ids, owner, now: now() }).catch((error: unknown) => {
          logger.warn({ err: error }, 'releasing job leases failed; they expire instead');
          return 0;
        });
        logger.info({ jobs: released }, 'job runner stopped with jobs running; their leases were released');
        await Promise.allSettled([...inFlight.values()].map((entry) => entry.promise));
      }
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = undefined;
    },

    async enqueue(kind, payload, enqueueOptions = {}, executor = db) {
      const spec = kinds.get(kind);
      if (!spec) throw new Error(`job runner: unknown job kind ${kind}`);
      return insertJob(executor, {
        kind,
        payload,
        key: enqueueOptions.key,
        runAt: enqueueOptions.runAt ?? now(),
        maxAttempts: enqueueOptions.maxAttempts ?? spec.maxAttempts,
      });
    },

    async runDue() {
      let total = 0;
      for (;;) {
        if (passing) await passing;
        const count = await pass();
        total += count;
        await Promise.allSettled([...inFlight.values()].map((entry) => entry.promise));
        if (count === 0) return total;
      }
    },

    wake,

    async settled() {
      for (;;) {
        if (passing) await passing;
        else if (inFlight.size > 0) await Promise.allSettled([...inFlight.values()].map((entry) => entry.promise));
        else if (timer && timerImmediate) await new Promise((resolve) => setTimeout(resolve, 1));
        else return;
      }
    },
  };
}

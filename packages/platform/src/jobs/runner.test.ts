import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentSpan, type FinishedSpan, Tracer, tracingConfig } from '@annex/tracing';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Database, type DatabaseTarget, openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { createLogger } from '../log.js';
import { createScratchDatabase, serverUrl, testDatabaseKinds } from '../testing.js';
import { retryDelayMs } from './backoff.js';
import { claimJobs, failedJobs } from './db.js';
import { createJobRunner, type JobKindOptions, type JobRunnerOptions, RetryLaterError } from './runner.js';
import { daily, hourly, periodStart } from './schedule.js';

type Kinds = { 'test.work': { n: number }; 'test.tick': Record<string, never> };

const logger = createLogger('jobs-test', 'silent');
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./crash-child.fixture.ts', import.meta.url));
// Long enough that the job cannot be due again before the test moves its clock past it.
const CHILD_LEASE_MS = 120_000;

/** A clock the test moves by hand. */
function handClock(start = Date.UTC(2026, 11, 6, 10, 4, 0)) {
  let at = start;
  return {
    now: () => at,
    advance(ms: number) {
      at += ms;
    },
    set(ms: number) {
      at = ms;
    },
  };
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function jobRows(database: Database) {
  return database.db
    .selectFrom('jobs')
    .select(['id', 'kind', 'state', 'attempts', 'run_at', 'locked_by', 'last_error'])
    .orderBy('id')
    .execute();
}

describe.each(testDatabaseKinds('job runner'))('job runner ($name)', (kind) => {
  let database: Database;
  beforeEach(async () => {
    database = await kind.open();
  });
  afterEach(async () => {
    await database.close();
  });

  const runnerOf = (
    work: JobKindOptions<{ n: number }>['run'] | JobKindOptions<{ n: number }>,
    extra: Partial<JobRunnerOptions<Kinds>> = {},
  ) =>
    createJobRunner<Kinds>(database, {
      logger,
      kinds: { 'test.work': work, 'test.tick': async () => {} },
      ...extra,
    });

  it('runs an enqueued job once and removes it', async () => {
    const seen: number[] = [];
    const clock = handClock();
    const runner = runnerOf(
      async (job) => {
        seen.push(job.payload.n);
      },
      { clock: clock.now },
    );
    await runner.enqueue('test.work', { n: 7 });
    expect(await runner.runDue()).toBe(1);
    expect(await runner.runDue()).toBe(0);
    expect(seen).toEqual([7]);
    expect(await jobRows(database)).toEqual([]);
  });

  it('runs a job in a span that continues the trace of the request that enqueued it, with its statements as children', async () => {
    const exported: FinishedSpan[] = [];
    const tracer = new Tracer(
      tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' }, { serviceName: 't' }),
      {
        add: (span) => exported.push(span),
        flush: async () => {},
        shutdown: async () => {},
      },
    );
    let jobSpanId: string | undefined;
    const runner = runnerOf(
      async () => {
        jobSpanId = currentSpan()?.context.spanId;
        await sql`select 1`.execute(database.db);
      },
      { tracer },
    );
    let request: { traceId: string; spanId: string } | undefined;
    await tracer.inSpan('POST /v1/things', { kind: 'server', parent: null }, async (span) => {
      request = span.context;
      await runner.enqueue('test.work', { n: 1 });
    });
    // Keyed (it may serve several requests): a trace of its own, linked to the enqueuer's.
    await tracer.inSpan('POST /v1/other', { kind: 'server', parent: null }, async () => {
      await runner.enqueue('test.work', { n: 2 }, { key: 'pass' });
    });
    // Enqueued outside any trace: a trace of its own.
    await runner.enqueue('test.work', { n: 3 });
    expect(await runner.runDue()).toBe(3);
    const jobs = exported.filter((span) => span.name === 'job test.work');
    expect(jobs).toHaveLength(3);
    const continued = jobs.find((span) => span.context.traceId === request?.traceId);
    expect(continued).toMatchObject({
      kind: 'consumer',
      parentSpanId: request?.spanId,
      attributes: { 'job.kind': 'test.work' },
    });
    const other = exported.find((span) => span.name === 'POST /v1/other');
    const keyed = jobs.find((span) => span.links.length > 0);
    expect(keyed?.parentSpanId).toBeUndefined();
    expect(keyed?.context.traceId).not.toBe(other?.context.traceId);
    expect(keyed?.links).toEqual([
      expect.objectContaining({ traceId: other?.context.traceId, spanId: other?.context.spanId }),
    ]);
    expect(jobs.filter((span) => span !== continued && span !== keyed).map((span) => span.parentSpanId)).toEqual([
      undefined,
    ]);
    const select = exported.find((span) => span.name === 'SELECT' && span.parentSpanId === jobSpanId);
    expect(select).toMatchObject({
      kind: 'client',
      attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'select 1' },
    });
  });

  it('refuses an unknown kind, changing nothing', async () => {
    const runner = runnerOf(async () => {});
    await expect(runner.enqueue('test.nope' as 'test.work', { n: 1 })).rejects.toThrow(/unknown job kind test\.nope/);
    expect(await jobRows(database)).toEqual([]);
  });

  it('does not run a job before its run_at', async () => {
    const clock = handClock();
    const seen: number[] = [];
    const runner = runnerOf(async (job) => void seen.push(job.payload.n), { clock: clock.now });
    await runner.enqueue('test.work', { n: 1 }, { runAt: new Date(clock.now() + 60_000) });
    expect(await runner.runDue()).toBe(0);
    clock.advance(60_000);
    expect(await runner.runDue()).toBe(1);
    expect(seen).toEqual([1]);
  });

  it('keeps one pending job per key, due at the earlier time', async () => {
    const clock = handClock();
    const seen: number[] = [];
    const runner = runnerOf(async (job) => void seen.push(job.payload.n), { clock: clock.now });
    await runner.enqueue('test.work', { n: 1 }, { key: 'k', runAt: new Date(clock.now() + 60_000) });
    await runner.enqueue('test.work', { n: 2 }, { key: 'k', runAt: new Date(clock.now() + 1_000) });
    expect(await jobRows(database)).toHaveLength(1);
    clock.advance(1_000);
    expect(await runner.runDue()).toBe(1);
    expect(seen).toEqual([2]);
  });

  it('runs a keyed job once more when it is enqueued again while it runs', async () => {
    const clock = handClock();
    const runs: number[] = [];
    let runner: ReturnType<typeof runnerOf> | undefined;
    runner = runnerOf(
      async (job) => {
        runs.push(job.payload.n);
        if (runs.length === 1) {
          await runner?.enqueue('test.work', { n: 2 }, { key: 'pass' });
          await runner?.enqueue('test.work', { n: 3 }, { key: 'pass' });
        }
      },
      { clock: clock.now },
    );
    await runner.enqueue('test.work', { n: 1 }, { key: 'pass' });
    expect(await runner.runDue()).toBe(2);
    expect(runs).toEqual([1, 3]);
    expect(await jobRows(database)).toEqual([]);
  });

  it('retries a failure with exponential backoff and jitter', async () => {
    const clock = handClock();
    let calls = 0;
    const runner = runnerOf(
      {
        run: async () => {
          calls += 1;
          throw new Error('upstream down');
        },
        backoff: { baseMs: 1_000, maxMs: 60_000 },
      },
      { clock: clock.now },
    );
    await runner.enqueue('test.work', { n: 1 });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      expect(await runner.runDue()).toBe(1);
      const [row] = await jobRows(database);
      expect(row).toMatchObject({ state: 'pending', attempts: attempt, last_error: 'upstream down', locked_by: null });
      const delay = (row?.run_at as Date).getTime() - clock.now();
      delays.push(delay);
      const full = 1_000 * 2 ** (attempt - 1);
      expect(delay).toBeGreaterThanOrEqual(full * 0.75);
      expect(delay).toBeLessThan(full * 1.25);
      clock.advance(delay - 1);
      expect(await runner.runDue()).toBe(0);
      clock.advance(1);
    }
    expect(calls).toBe(4);
  });

  it('waits at least the Retry-After the handler reports', async () => {
    const clock = handClock();
    let calls = 0;
    const runner = runnerOf(
      async () => {
        calls += 1;
        if (calls === 1) throw new RetryLaterError('rate limited', 30_000);
      },
      { clock: clock.now },
    );
    await runner.enqueue('test.work', { n: 1 });
    expect(await runner.runDue()).toBe(1);
    clock.advance(29_999);
    expect(await runner.runDue()).toBe(0);
    clock.advance(1);
    expect(await runner.runDue()).toBe(1);
    expect(calls).toBe(2);
    expect(await jobRows(database)).toEqual([]);
  });

  it('keeps a job that used its last attempt as failed, with its error', async () => {
    const clock = handClock();
    const runner = runnerOf(
      {
        run: async (job) => {
          throw new Error(`attempt ${job.attempt} of ${job.maxAttempts} broke`);
        },
        maxAttempts: 2,
        backoff: { baseMs: 1_000 },
      },
      { clock: clock.now },
    );
    await runner.enqueue('test.work', { n: 3 });
    expect(await runner.runDue()).toBe(1);
    clock.advance(1_250); // the longest first wait: 1 s with the most jitter
    expect(await runner.runDue()).toBe(1);
    clock.advance(3_600_000);
    expect(await runner.runDue()).toBe(0);
    expect(await failedJobs(database.db, 'test.work')).toMatchObject([
      { kind: 'test.work', payload: { n: 3 }, attempts: 2, last_error: 'attempt 2 of 2 broke' },
    ]);
  });

  it('runs a job again when its handler asks, without spending an attempt', async () => {
    const clock = handClock();
    const attempts: number[] = [];
    const runner = runnerOf(
      {
        run: async (job) => {
          attempts.push(job.attempt);
          if (attempts.length < 3) return { runAgainAt: new Date(clock.now() + 5_000) };
          return undefined;
        },
        maxAttempts: 1,
      },
      { clock: clock.now },
    );
    await runner.enqueue('test.work', { n: 1 });
    expect(await runner.runDue()).toBe(1);
    clock.advance(5_000);
    expect(await runner.runDue()).toBe(1);
    clock.advance(5_000);
    expect(await runner.runDue()).toBe(1);
    expect(attempts).toEqual([1, 1, 1]);
    expect(await jobRows(database)).toEqual([]);
  });

  it('enqueues a recurring job once per period, across runners, without sleeping', async () => {
    const clock = handClock(Date.UTC(2026, 11, 6, 10, 4, 0));
    const periods: string[] = [];
    const make = (owner: string) =>
      createJobRunner<Kinds>(database, {
        logger,
        owner,
        clock: clock.now,
        kinds: {
          'test.work': async () => {},
          'test.tick': async (job) => void periods.push(job.runAt.toISOString()),
        },
        schedules: [{ kind: 'test.tick', recurrence: hourly(5) }],
      });
    const a = make('a');
    const b = make('b');
    // Never run before: the period under way (from 09:05) runs at once, on one runner.
    expect((await a.runDue()) + (await b.runDue())).toBe(1);
    clock.set(Date.UTC(2026, 11, 6, 11, 4, 59));
    expect((await a.runDue()) + (await b.runDue())).toBe(1);
    expect((await a.runDue()) + (await b.runDue())).toBe(0);
    clock.set(Date.UTC(2026, 11, 6, 11, 5, 0));
    expect((await b.runDue()) + (await a.runDue())).toBe(1);
    expect(periods).toEqual(['2026-12-06T09:05:00.000Z', '2026-12-06T10:05:00.000Z', '2026-12-06T11:05:00.000Z']);
  });

  it('starts a next-period schedule at the next period, then runs a missed period once', async () => {
    const clock = handClock(Date.UTC(2026, 11, 6, 10, 4, 0));
    const periods: string[] = [];
    const make = () =>
      createJobRunner<Kinds>(database, {
        logger,
        clock: clock.now,
        kinds: { 'test.work': async () => {}, 'test.tick': async (job) => void periods.push(job.runAt.toISOString()) },
        schedules: [{ kind: 'test.tick', recurrence: hourly(5), firstRun: 'next-period' }],
      });
    expect(await make().runDue()).toBe(0);
    clock.set(Date.UTC(2026, 11, 6, 10, 5, 0));
    expect(await make().runDue()).toBe(1);
    // No runner was up from 11:05 to 13:30: one run, for the period under way.
    clock.set(Date.UTC(2026, 11, 6, 13, 30, 0));
    expect(await make().runDue()).toBe(1);
    expect(periods).toEqual(['2026-12-06T10:05:00.000Z', '2026-12-06T13:05:00.000Z']);
  });

  it('marks failed a job whose runner died on its last attempt', async () => {
    const clock = handClock();
    const runner = runnerOf({ run: async () => {}, maxAttempts: 1 }, { clock: clock.now, fallbackMs: 1_000 });
    await runner.enqueue('test.work', { n: 1 });
    // Another runner claims it and dies: nobody renews its lease.
    const [claimed] = await claimJobs(database.db, {
      kinds: ['test.work'],
      owner: 'dead',
      now: new Date(clock.now()),
      leaseMs: 10_000,
      limit: 1,
    });
    expect(claimed?.attempts).toBe(1);
    clock.advance(10_001);
    expect(await runner.runDue()).toBe(0);
    expect(await failedJobs(database.db)).toMatchObject([
      { attempts: 1, last_error: expect.stringMatching(/its runner \(dead\) stopped during its last attempt/) },
    ]);
  });

  it('runs a job whose runner died again once its lease expires', async () => {
    const clock = handClock();
    const seen: number[] = [];
    const runner = runnerOf(async (job) => void seen.push(job.attempt), { clock: clock.now });
    await runner.enqueue('test.work', { n: 1 });
    await claimJobs(database.db, {
      kinds: ['test.work'],
      owner: 'dead',
      now: new Date(clock.now()),
      leaseMs: 10_000,
      limit: 1,
    });
    expect(await runner.runDue()).toBe(0);
    clock.advance(10_001);
    expect(await runner.runDue()).toBe(1);
    expect(seen).toEqual([2]);
  });

  it('starts new work as soon as it is enqueued, and sends no statement while idle', async () => {
    const done = deferred<number>();
    const runner = runnerOf(async (job) => done.resolve(job.payload.n), { fallbackMs: 600_000 });
    await runner.start();
    try {
      await runner.settled();
      const before = database.statementCount();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(database.statementCount()).toBe(before);
      // Enqueued by someone else (not this runner's enqueue): the notification wakes it.
      await sql`insert into jobs (kind, payload) values ('test.work', '{"n":42}')`.execute(database.db);
      expect(await done.promise).toBe(42);
    } finally {
      await runner.stop();
    }
  });

  it('stop() lets a running job finish', async () => {
    const started = deferred();
    const release = deferred();
    let finished = false;
    const runner = runnerOf(async () => {
      started.resolve();
      await release.promise;
      finished = true;
    });
    await runner.start();
    await runner.enqueue('test.work', { n: 1 });
    await started.promise;
    const stopping = runner.stop({ graceMs: 60_000 });
    release.resolve();
    await stopping;
    expect(finished).toBe(true);
    expect(await jobRows(database)).toEqual([]);
  });

  it('stop() past its grace aborts a running job and gives its lease back', async () => {
    const started = deferred();
    const runner = runnerOf(async (job) => {
      started.resolve();
      await new Promise((_, reject) => job.signal.addEventListener('abort', () => reject(job.signal.reason)));
    });
    await runner.start();
    await runner.enqueue('test.work', { n: 1 });
    await started.promise;
    await runner.stop({ graceMs: 0 });
    expect(await jobRows(database)).toMatchObject([{ state: 'pending', attempts: 0, locked_by: null }]);
    const seen: number[] = [];
    const next = runnerOf(async (job) => void seen.push(job.attempt));
    expect(await next.runDue()).toBe(1);
    expect(seen).toEqual([1]);
  });
});

describe('schedules', () => {
  it('computes periods in UTC from their offset', () => {
    const at = Date.UTC(2026, 11, 6, 10, 4, 59);
    expect(new Date(periodStart(hourly(5), at)).toISOString()).toBe('2026-12-06T09:05:00.000Z');
    expect(new Date(periodStart(hourly(5), at + 1_000)).toISOString()).toBe('2026-12-06T10:05:00.000Z');
    expect(new Date(periodStart(daily(3, 30), at)).toISOString()).toBe('2026-12-06T03:30:00.000Z');
    expect(new Date(periodStart(daily(), at)).toISOString()).toBe('2026-12-06T00:00:00.000Z');
  });

  it('refuses out-of-range times, naming them', () => {
    expect(() => hourly(60)).toThrow(/hourly: minute must be an integer from 0 to 59, got 60/);
    expect(() => daily(24)).toThrow(/daily: hour must be an integer from 0 to 23, got 24/);
  });
});

describe('retryDelayMs', () => {
  const policy = { baseMs: 1_000, maxMs: 60_000 };
  it('doubles per attempt with jitter in [0.75, 1.25), capped', () => {
    expect(retryDelayMs(1, policy, 0, () => 0)).toBe(750);
    expect(retryDelayMs(3, policy, 0, () => 0.5)).toBe(4_000);
    expect(retryDelayMs(3, policy, 0, () => 0.999)).toBeLessThan(5_000);
    expect(retryDelayMs(30, policy, 0, () => 0.999)).toBe(60_000);
  });
  it('never waits less than the Retry-After asked for', () => {
    expect(retryDelayMs(1, policy, 30_000, () => 0.999)).toBe(30_000);
    expect(retryDelayMs(1, policy, 120_000, () => 0)).toBe(120_000);
  });
});

// Several runners, each with its own connection pool, as replicas are.
const POSTGRES = serverUrl('TEST_DATABASE_URL', 'job runner replicas on PostgreSQL');

async function runReplicas(targets: DatabaseTarget[], databases: Database[]) {
  const jobs = 60;
  const runs = new Map<number, number>();
  const all = deferred();
  const runners = databases.map((database, index) =>
    createJobRunner<Kinds>(database, {
      logger,
      owner: `replica-${index}`,
      concurrency: 4,
      kinds: {
        'test.work': async (job) => {
          runs.set(job.payload.n, (runs.get(job.payload.n) ?? 0) + 1);
          await new Promise((resolve) => setImmediate(resolve));
          if ([...runs.values()].reduce((a, b) => a + b, 0) >= jobs) all.resolve();
        },
        'test.tick': async () => {},
      },
    }),
  );
  await Promise.all(runners.map((runner) => runner.start()));
  const first = runners[0];
  if (!first) throw new Error(`no replicas for ${targets.length} targets`);
  for (let n = 0; n < jobs; n++) await first.enqueue('test.work', { n });
  await all.promise;
  await Promise.all(runners.map((runner) => runner.stop()));
  return runs;
}

describe('job runner replicas (postgres)', () => {
  it.runIf(POSTGRES)('runs each job once across three runners', async () => {
    const scratch = await createScratchDatabase(POSTGRES as string);
    const targets: DatabaseTarget[] = [0, 1, 2].map(() => ({ kind: 'postgres', url: scratch.url, poolSize: 3 }));
    const databases = await Promise.all(targets.map((target) => openDatabase(target)));
    try {
      await migrateToLatest((databases[0] as Database).db);
      const runs = await runReplicas(targets, databases);
      expect(runs.size).toBe(60);
      expect([...runs.values()].every((count) => count === 1)).toBe(true);
      expect(await (databases[0] as Database).db.selectFrom('jobs').selectAll().execute()).toEqual([]);
    } finally {
      await Promise.all(databases.map((database) => database.close()));
      await scratch.drop();
    }
  });
});

/** Starts the crash fixture on `target`, waits for its claim, and kills it with SIGKILL. */
async function crashChildDuringJob(target: DatabaseTarget): Promise<void> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=annex-source', CHILD, JSON.stringify(target), String(CHILD_LEASE_MS)],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('claimed')) resolve();
    });
    child.once('exit', () => reject(new Error(`the child exited before claiming:\n${output.join('')}`)));
  });
  child.kill('SIGKILL');
  await exited;
}

describe('job runner, a replica killed mid-job', () => {
  const crashKinds = (seen: number[]) => ({
    'test.hang': async (job: { attempt: number }) => void seen.push(job.attempt),
  });

  it('runs the job again after the lease expires (PGlite directory)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'annex-jobs-'));
    try {
      const target: DatabaseTarget = { kind: 'pglite', dataDir: dir };
      let database = await openDatabase(target);
      await migrateToLatest(database.db);
      await sql`insert into jobs (kind, payload) values ('test.hang', '{"n":1}')`.execute(database.db);
      await database.close();
      await crashChildDuringJob(target);
      database = await openDatabase(target);
      try {
        const seen: number[] = [];
        const clock = handClock(Date.now());
        const runner = createJobRunner<{ 'test.hang': { n: number } }>(database, {
          logger,
          clock: clock.now,
          kinds: crashKinds(seen),
        });
        expect(await runner.runDue()).toBe(0);
        clock.advance(CHILD_LEASE_MS + 1);
        expect(await runner.runDue()).toBe(1);
        expect(seen).toEqual([2]);
      } finally {
        await database.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(POSTGRES)('runs the job again after the lease expires (postgres)', async () => {
    const scratch = await createScratchDatabase(POSTGRES as string);
    const target: DatabaseTarget = { kind: 'postgres', url: scratch.url, poolSize: 2 };
    const database = await openDatabase(target);
    try {
      await migrateToLatest(database.db);
      await sql`insert into jobs (kind, payload) values ('test.hang', '{"n":1}')`.execute(database.db);
      await crashChildDuringJob(target);
      const seen: number[] = [];
      const clock = handClock(Date.now());
      const runner = createJobRunner<{ 'test.hang': { n: number } }>(database, {
        logger,
        clock: clock.now,
        kinds: crashKinds(seen),
      });
      expect(await runner.runDue()).toBe(0);
      clock.advance(CHILD_LEASE_MS + 1);
      expect(await runner.runDue()).toBe(1);
      expect(seen).toEqual([2]);
    } finally {
      await database.close();
      await scratch.drop();
    }
  });
});

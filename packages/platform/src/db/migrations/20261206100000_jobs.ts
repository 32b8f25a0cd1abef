import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// The job runner's queue (packages/platform/src/jobs, docs/jobs.md). A job is claimed by
// setting locked_by/locked_until; one that finishes is deleted; one that used its last
// attempt stays, state 'failed', for an operator to read. `job_schedules` remembers the
// last period each recurring job was enqueued for, so replicas enqueue a period once.
// A key makes a job unique among live ones: enqueued again while pending it is due no
// later; while running, it runs once more after (rerun_at). `annex_enqueue_job` is the
// one way in, for the runner and for triggers that turn a table's rows into work.
// Inserting a job, or moving when it is due, notifies `annex_jobs`: idle runners wake at once
// instead of polling.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    create table jobs (
      id bigint generated always as identity primary key,
      kind text not null check (kind ~ '^[a-z][a-z0-9_.-]*$'),
      payload jsonb not null default '{}',
      key text,
      state text not null default 'pending' check (state in ('pending', 'running', 'failed')),
      run_at timestamptz not null default now(),
      attempts integer not null default 0 check (attempts >= 0),
      max_attempts integer not null default 25 check (max_attempts >= 1),
      locked_by text,
      locked_until timestamptz,
      rerun_at timestamptz,
      last_error text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      check ((state = 'running') = (locked_by is not null and locked_until is not null))
    );
    create unique index jobs_live_key on jobs (kind, key) where key is not null and state <> 'failed';
    create index jobs_pending_run_at on jobs (run_at) where state = 'pending';
    create index jobs_running_locked_until on jobs (locked_until) where state = 'running';
    create table job_schedules (
      name text primary key,
      last_period timestamptz not null
    );
    create function jobs_notify() returns trigger language plpgsql as $$
    begin perform pg_notify('annex_jobs', new.kind); return null; end $$;
    create trigger jobs_notify after insert or update of run_at on jobs for each row execute function jobs_notify();
    create function annex_enqueue_job(p_kind text, p_payload jsonb, p_key text, p_run_at timestamptz, p_max_attempts integer)
    returns bigint language sql as $$
      insert into jobs (kind, payload, key, run_at, max_attempts)
      values (p_kind, coalesce(p_payload, '{}'), p_key, coalesce(p_run_at, now()), coalesce(p_max_attempts, 25))
      on conflict (kind, key) where key is not null and state <> 'failed'
      do update set payload = excluded.payload, max_attempts = excluded.max_attempts, updated_at = now(),
        run_at = case when jobs.state = 'pending' then least(jobs.run_at, excluded.run_at) else jobs.run_at end,
        rerun_at = case when jobs.state = 'running' then least(coalesce(jobs.rerun_at, excluded.run_at), excluded.run_at) end
      returning id
    $$;
    `,
  );
}

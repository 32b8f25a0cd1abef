import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// A job enqueued inside a traced request carries that request's `traceparent`, so the job's
// span continues the request's trace (docs/observability.md). A keyed job enqueued again
// keeps the trace it had. The five-argument `annex_enqueue_job` stays for the triggers,
// whose pass jobs serve many rows and belong to no one request.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    alter table jobs add column traceparent text;
    create function annex_enqueue_job(p_kind text, p_payload jsonb, p_key text, p_run_at timestamptz, p_max_attempts integer, p_traceparent text)
    returns bigint language sql as $$
      insert into jobs (kind, payload, key, run_at, max_attempts, traceparent)
      values (p_kind, coalesce(p_payload, '{}'), p_key, coalesce(p_run_at, now()), coalesce(p_max_attempts, 25), p_traceparent)
      on conflict (kind, key) where key is not null and state <> 'failed'
      do update set payload = excluded.payload, max_attempts = excluded.max_attempts, updated_at = now(),
        run_at = case when jobs.state = 'pending' then least(jobs.run_at, excluded.run_at) else jobs.run_at end,
        rerun_at = case when jobs.state = 'running' then least(coalesce(jobs.rerun_at, excluded.run_at), excluded.run_at) end,
        traceparent = coalesce(jobs.traceparent, excluded.traceparent)
      returning id
    $$;
    `,
  );
}

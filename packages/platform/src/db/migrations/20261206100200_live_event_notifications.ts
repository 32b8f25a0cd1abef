import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// Open event streams wait for a notification instead of polling: an app's new event
// notifies `annex_app_events` with the app's id, and a token revoked, re-dated or removed
// notifies `annex_tokens`, so a stream held by that token ends at once (docs/jobs.md).
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    create function app_events_notify() returns trigger language plpgsql as $$
    begin perform pg_notify('annex_app_events', new.app_id::text); return null; end $$;
    create trigger app_events_notify after insert on app_events for each row execute function app_events_notify();
    create function api_tokens_notify() returns trigger language plpgsql as $$
    begin perform pg_notify('annex_tokens', ''); return null; end $$;
    create trigger api_tokens_notify after update of revoked_at, expires_at or delete on api_tokens
      for each statement execute function api_tokens_notify();
    `,
  );
}

import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// Rows that become background work enqueue the job that drains their table (one keyed job
// per table, see annex_enqueue_job), in the transaction that writes them: every write path
// is covered, the job's insert wakes an idle runner on every replica, and nothing polls.
// A row a request leases is not enqueued (the request drives it); the drain job looks at it
// again when its lease ends. The pass kinds' attempts (1000) match the runner's.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    create function broker_operations_enqueue() returns trigger language plpgsql as $$
    begin perform annex_enqueue_job('broker.operations', '{}', 'pass', new.next_attempt_at, 1000); return null; end $$;
    create trigger broker_operations_enqueue
      after insert or update of state, next_attempt_at, lease_owner on broker_operations for each row
      when (new.state in ('pending', 'polling') and new.lease_owner is null)
      execute function broker_operations_enqueue();
    create function apps_reconcile_enqueue() returns trigger language plpgsql as $$
    begin perform annex_enqueue_job('apps.reconcile', '{}', 'pass', coalesce(new.lease_expires_at, now()), 1000); return null; end $$;
    create trigger addons_enqueue
      after insert or update of state, lease_owner, lease_expires_at on addons for each row
      when (new.state in ('provisioning', 'changing_plan', 'destroying') and new.lease_owner is null)
      execute function apps_reconcile_enqueue();
    create trigger attachments_enqueue
      after insert or update of state, lease_owner, lease_expires_at on attachments for each row
      when (new.state in ('attaching', 'detaching', 'rotating') and new.lease_owner is null)
      execute function apps_reconcile_enqueue();
    create function binding_retirements_enqueue() returns trigger language plpgsql as $$
    begin perform annex_enqueue_job('apps.reconcile', '{}', 'pass', new.revoke_after, 1000); return null; end $$;
    create trigger binding_retirements_enqueue
      after insert or update of revoke_after on binding_retirements for each row
      when (new.state = 'waiting')
      execute function binding_retirements_enqueue();
    create function attachments_confirmed_enqueue() returns trigger language plpgsql as $$
    begin perform annex_enqueue_job('apps.reconcile', '{}', 'pass', now(), 1000); return null; end $$;
    create trigger attachments_confirmed_enqueue
      after update of confirmed_release on attachments for each row
      when (new.confirmed_release is distinct from old.confirmed_release)
      execute function attachments_confirmed_enqueue();
    create function webhook_deliveries_enqueue() returns trigger language plpgsql as $$
    begin perform annex_enqueue_job('apps.webhooks', '{}', 'pass', new.next_attempt_at, 1000); return null; end $$;
    create trigger webhook_deliveries_enqueue
      after insert or update of state, next_attempt_at, lease_owner on webhook_deliveries for each row
      when (new.state = 'pending' and new.lease_owner is null)
      execute function webhook_deliveries_enqueue();
    `,
  );
}

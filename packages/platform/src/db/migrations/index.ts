import type { Migration } from '../migrate.js';
import * as m20261127090000 from './20261127090000_identity_and_catalog.js';
import * as m20261127100000 from './20261127100000_catalog_removed_entries.js';
import * as m20261127110000 from './20261127110000_broker_operations.js';
import * as m20261127120000 from './20261127120000_services_public_flag.js';
import * as m20261127140000 from './20261127140000_apps_and_config_vars.js';
import * as m20261127150000 from './20261127150000_billing.js';
import * as m20261127160000 from './20261127160000_sso.js';
import * as m20261127170000 from './20261127170000_console.js';
import * as m20261127180000 from './20261127180000_broker_provisioning_functions.js';
import * as m20261127190000 from './20261127190000_webhook_secret_rotation.js';
import * as m20261127200000 from './20261127200000_payout_adjustments.js';
import * as m20261127210000 from './20261127210000_usage_totals.js';
import * as m20261202090000 from './20261202090000_ledger_consistency.js';
import * as m20261202100000 from './20261202100000_console_sign_out.js';
import * as m20261203090000 from './20261203090000_release_kept_vars.js';
import * as m20261203120000 from './20261203120000_token_acting_user.js';
import * as m20261203140000 from './20261203140000_sealed_parameters.js';
import * as m20261206090000 from './20261206090000_explicit_token_scopes.js';
import * as m20261206100000 from './20261206100000_jobs.js';
import * as m20261206100100 from './20261206100100_background_work_jobs.js';
import * as m20261206100200 from './20261206100200_live_event_notifications.js';
import * as m20261206120000 from './20261206120000_provisioning_one_path.js';
import * as m20261206130000 from './20261206130000_payment_method_expiry.js';
import * as m20261207010000 from './20261207010000_provider_calls.js';
import * as m20261207020000 from './20261207020000_provider_members.js';
import * as m20261207030000 from './20261207030000_listing_lifecycle.js';
import * as m20261207050000 from './20261207050000_job_trace_context.js';

/** Every migration, by timestamped name. Add new ones at the end; never edit a landed one. */
export const migrations: Readonly<Record<string, Migration>> = {
  '20261127090000_identity_and_catalog': m20261127090000,
  '20261127100000_catalog_removed_entries': m20261127100000,
  '20261127110000_broker_operations': m20261127110000,
  '20261127120000_services_public_flag': m20261127120000,
  '20261127140000_apps_and_config_vars': m20261127140000,
  '20261127160000_sso': m20261127160000,
  '20261127150000_billing': m20261127150000,
  '20261127170000_console': m20261127170000,
  '20261127180000_broker_provisioning_functions': m20261127180000,
  '20261127190000_webhook_secret_rotation': m20261127190000,
  '20261127200000_payout_adjustments': m20261127200000,
  '20261127210000_usage_totals': m20261127210000,
  '20261202090000_ledger_consistency': m20261202090000,
  '20261202100000_console_sign_out': m20261202100000,
  '20261203090000_release_kept_vars': m20261203090000,
  '20261203120000_token_acting_user': m20261203120000,
  '20261203140000_sealed_parameters': m20261203140000,
  '20261206090000_explicit_token_scopes': m20261206090000,
  '20261206100000_jobs': m20261206100000,
  '20261206100100_background_work_jobs': m20261206100100,
  '20261206100200_live_event_notifications': m20261206100200,
  '20261206120000_provisioning_one_path': m20261206120000,
  '20261206130000_payment_method_expiry': m20261206130000,
  '20261207010000_provider_calls': m20261207010000,
  '20261207020000_provider_members': m20261207020000,
  '20261207030000_listing_lifecycle': m20261207030000,
  '20261207050000_job_trace_context': m20261207050000,
};

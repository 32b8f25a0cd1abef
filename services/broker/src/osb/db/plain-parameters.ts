import { sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// The statements that seal parameters written in plain text before they were kept sealed
// (osb/domain/parameters.ts). Each change applies only while the row is still plain, so
// replicas starting together do no harm.

export const PARAMETER_TABLES = ['service_instances', 'service_bindings', 'addons'] as const;
export type ParameterTable = (typeof PARAMETER_TABLES)[number];

/** Up to `limit` rows of `table` whose non-empty parameters are still plain. */
export async function listPlainParameters(db: Executor, table: ParameterTable, limit: number) {
  return db
    .selectFrom(table)
    .select(['id', 'parameters'])
    .where('parameters_sealed', 'is', null)
    .where(sql<boolean>`parameters <> '{}'::jsonb`)
    .limit(limit)
    .execute();
}

export async function sealRowParameters(db: Executor, table: ParameterTable, id: string, sealed: string | null) {
  await db
    .updateTable(table)
    .set({ parameters: '{}', parameters_sealed: sealed })
    .where('id', '=', id)
    .where('parameters_sealed', 'is', null)
    .execute();
}

/** Up to `limit` operations whose request holds plain parameters. */
export async function listPlainOperationRequests(db: Executor, limit: number) {
  return db
    .selectFrom('broker_operations')
    .select(['id', 'request'])
    .where(
      // The rows sealRequest changes: a non-empty object at body.parameters or apply.parameters.
      sql<boolean>`not request ? 'sealed_parameters' and (
        (jsonb_typeof(request #> '{body,parameters}') = 'object' and request #> '{body,parameters}' <> '{}'::jsonb)
        or (jsonb_typeof(request #> '{apply,parameters}') = 'object' and request #> '{apply,parameters}' <> '{}'::jsonb))`,
    )
    .limit(limit)
    .execute();
}

export async function sealOperationRequest(db: Executor, id: string, request: unknown) {
  await db
    .updateTable('broker_operations')
    .set({ request: JSON.stringify(request) })
    .where('id', '=', id)
    .where(sql<boolean>`not request ? 'sealed_parameters'`)
    .execute();
}

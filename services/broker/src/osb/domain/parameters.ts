import type { SecretBox } from '@annex/platform';
import type { BrokerDb } from '../../shared/db/executor.js';
import {
  listPlainOperationRequests,
  listPlainParameters,
  PARAMETER_TABLES,
  sealOperationRequest,
  sealRowParameters,
} from '../db/plain-parameters.js';
import type { OperationRequest } from './operations.js';

// Provisioning and binding parameters may carry passwords, so they are kept sealed with the
// installation's SecretBox, as binding credentials are (docs/broker.md, "Security"):
// `parameters_sealed` on instances, bindings and add-ons, `sealed_parameters` inside an
// operation's request. Empty parameters are not sealed (there is nothing to hide).

type Parameters = Record<string, unknown>;

/** A row that holds parameters: sealed, or plain in a row written before they were sealed. */
interface WithParameters {
  parameters: Parameters;
  parameters_sealed: string | null;
}

/** The sealed form of `parameters` for a `parameters_sealed` column; null when there are none. */
export function sealParameters(box: SecretBox, parameters: Parameters): string | null {
  return Object.keys(parameters).length === 0 ? null : box.seal(JSON.stringify(parameters));
}

/** The parameters of an instance, binding or add-on row. */
export function storedParameters(box: SecretBox, row: WithParameters): Parameters {
  return row.parameters_sealed === null ? row.parameters : (JSON.parse(box.open(row.parameters_sealed)) as Parameters);
}

/** What an operation's request holds sealed: the parameters sent to the provider and those applied on success. */
interface SealedRequestParameters {
  body?: Parameters;
  apply?: Parameters;
}

const nonEmpty = (value: unknown): value is Parameters =>
  typeof value === 'object' && value !== null && Object.keys(value).length > 0;

/** The request as it is stored: its parameters sealed into `sealed_parameters`, `{}` in their place. */
export function sealRequest(box: SecretBox, request: OperationRequest): OperationRequest {
  const secret: SealedRequestParameters = {};
  let sealed = request;
  if (nonEmpty(request.body?.parameters)) {
    secret.body = request.body.parameters;
    sealed = { ...sealed, body: { ...request.body, parameters: {} } };
  }
  if (request.apply && nonEmpty(request.apply.parameters)) {
    secret.apply = request.apply.parameters;
    sealed = { ...sealed, apply: { ...request.apply, parameters: {} } };
  }
  if (sealed === request) return request;
  return { ...sealed, sealed_parameters: box.seal(JSON.stringify(secret)) };
}

/** The request as it was made, from its stored form (sealed or not). */
export function openRequest(box: SecretBox, request: OperationRequest): OperationRequest {
  if (request.sealed_parameters === undefined) return request;
  const { sealed_parameters: sealed, ...opened } = request;
  const secret = JSON.parse(box.open(sealed)) as SealedRequestParameters;
  if (secret.body && opened.body) opened.body = { ...opened.body, parameters: secret.body };
  if (secret.apply && opened.apply) opened.apply = { ...opened.apply, parameters: secret.apply };
  return opened;
}

const BATCH = 200;

/**
 * Seals the parameters of rows written in plain text before they were kept sealed
 * (migration 20261203140000, which cannot reach the key). Run by every replica at start-up;
 * each row is changed only while still plain, so replicas starting together do no harm.
 * Reading understands both forms, so requests served meanwhile see the same parameters.
 * Returns how many rows it sealed.
 */
export async function sealPlainParameters(db: BrokerDb, box: SecretBox): Promise<number> {
  let sealed = 0;
  for (const table of PARAMETER_TABLES) {
    for (;;) {
      const rows = await listPlainParameters(db, table, BATCH);
      for (const row of rows) await sealRowParameters(db, table, row.id, sealParameters(box, row.parameters));
      sealed += rows.length;
      if (rows.length < BATCH) break;
    }
  }
  for (;;) {
    const rows = await listPlainOperationRequests(db, BATCH);
    for (const row of rows) {
      await sealOperationRequest(db, row.id, sealRequest(box, row.request as unknown as OperationRequest));
    }
    sealed += rows.length;
    if (rows.length < BATCH) break;
  }
  return sealed;
}

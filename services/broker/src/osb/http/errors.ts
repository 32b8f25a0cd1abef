import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable, logOf, requestIdOf } from '@annex/platform';
import type { NextFunction, Request, Response } from 'express';
import { BrokerFailure, type BrokerFailureCode } from '../../shared/domain/errors.js';
import { RequestFailure } from '../../shared/http/request-input.js';

/** Anything that can answer an OSB error: the OSB API's own response, or express's. */
interface Answerable {
  status(code: number): { json(body: unknown): void };
  setHeader(name: string, value: string): unknown;
  readonly locals: Record<string, unknown>;
  readonly headersSent: boolean;
}

/** The one table from a typed failure to an OSB status and error key. */
const FAILURES: Record<BrokerFailureCode, { status: number; error: string }> = {
  BadRequest: { status: 400, error: 'BadRequest' },
  Conflict: { status: 409, error: 'Conflict' },
  Gone: { status: 410, error: 'Gone' },
  NotFound: { status: 404, error: 'NotFound' },
  AsyncRequired: { status: 422, error: 'AsyncRequired' },
  ConcurrencyError: { status: 422, error: 'ConcurrencyError' },
  RequiresApp: { status: 422, error: 'RequiresApp' },
  MaintenanceInfoConflict: { status: 422, error: 'MaintenanceInfoConflict' },
  NotSupported: { status: 422, error: 'NotSupported' },
  ProviderRejected: { status: 400, error: 'ProviderRejected' },
  ProviderFailed: { status: 502, error: 'ProviderFailed' },
};

/** An OSB error body, as the spec shapes it. */
export function osbError(
  res: Pick<Answerable, 'status'>,
  status: number,
  error: string,
  description: string,
  extra: Record<string, unknown> = {},
): void {
  res.status(status).json({ error, description, ...extra });
}

/** Express's error handler (the provider API): the same answers as `sendFailure`. */
export function osbErrorHandler(error: unknown, req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) {
    next(error);
    return;
  }
  sendFailure(res, error, req.path);
}

/**
 * Maps domain failures to their status; a database outage is a 503 with `Retry-After`,
 * which platforms retry; anything else is a 500 carrying only the request id.
 */
export function sendFailure(res: Answerable, error: unknown, path: string): void {
  if (error instanceof RequestFailure) {
    osbError(res, error.status, error.error, error.message);
    return;
  }
  if (error instanceof BrokerFailure) {
    const mapped = FAILURES[error.code];
    osbError(res, error.extra.status ?? mapped.status, error.extra.error ?? mapped.error, error.message, {
      ...(error.extra.instanceUsable !== undefined ? { instance_usable: error.extra.instanceUsable } : {}),
      ...(error.extra.updateRepeatable !== undefined ? { update_repeatable: error.extra.updateRepeatable } : {}),
    });
    return;
  }
  if (isDatabaseUnavailable(error)) {
    logOf(res)?.warn({ err: error, path }, 'database unavailable');
    res.setHeader('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
    osbError(res, 503, 'ServiceUnavailable', 'the broker cannot reach its database; retry later');
    return;
  }
  logOf(res)?.error({ err: error, path }, 'unhandled error');
  osbError(res, 500, 'InternalError', `internal error; request id ${requestIdOf(res)}`);
}

import { logOf, requestIdOf } from '@annex/platform';
import type { NextFunction, Request, Response } from 'express';
import { BrokerFailure, type BrokerFailureCode } from '../domain/errors.js';

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
  res: Response,
  status: number,
  error: string,
  description: string,
  extra: Record<string, unknown> = {},
): void {
  res.status(status).json({ error, description, ...extra });
}

/** Maps domain failures to their status; anything else is a 500 carrying only the request id. */
export function osbErrorHandler(error: unknown, req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) {
    next(error);
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
  const status = (error as { status?: number; type?: string }).status;
  if (status === 400 || (error as { type?: string }).type === 'entity.parse.failed') {
    osbError(res, 400, 'MalformedBody', 'the request body is not valid JSON');
    return;
  }
  if (status === 413) {
    osbError(res, 413, 'PayloadTooLarge', 'the request body is too large');
    return;
  }
  logOf(res)?.error({ err: error, path: req.path }, 'unhandled error');
  osbError(res, 500, 'InternalError', `internal error; request id ${requestIdOf(res)}`);
}

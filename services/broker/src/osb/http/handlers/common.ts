import { decodeOsbRequest } from '@annex/sdk';
import type * as z from 'zod';
import type { BrokerContext } from '../../../shared/domain/context.js';
import { badRequest } from '../../../shared/domain/errors.js';
import type { LastOperationAnswer } from '../../domain/instances.js';
import type { OperationOutcome } from '../../domain/results.js';
import type { OsbRequest, OsbResponse } from '../node-http.js';

/** Everything a handler needs: the domain context. */
export interface HandlerDeps {
  ctx: BrokerContext;
}

/** Decodes a body with its OSB contract (`@annex/sdk`'s osb/contract.ts); a 400 names each bad field. */
export function decodeBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const decoded = decodeOsbRequest(schema, body);
  if (!decoded.ok) throw badRequest(decoded.problems.join('; '));
  return decoded.body;
}

export function acceptsIncomplete(req: OsbRequest): boolean {
  const value = req.query.accepts_incomplete;
  if (value === undefined) return false;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badRequest('accepts_incomplete must be true or false');
}

export function queryString(req: OsbRequest, name: string, required: true): string;
export function queryString(req: OsbRequest, name: string, required?: false): string | undefined;
export function queryString(req: OsbRequest, name: string, required = false): string | undefined {
  const value = req.query[name];
  if (value === undefined || value === '') {
    if (required) throw badRequest(`query parameter ${name} is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw badRequest(`query parameter ${name} must be given once`);
  return value;
}

export function pathParam(req: OsbRequest, name: string): string {
  const value = req.params[name];
  if (typeof value !== 'string' || value === '' || value.length > 255) {
    throw badRequest(`${name} must be a non-empty id of at most 255 characters`);
  }
  return value;
}

/** 201 / 200 / 202 as the domain decided. */
export function sendOutcome(res: OsbResponse, outcome: OperationOutcome): void {
  if (outcome.kind === 'accepted') {
    res.status(202).json({ operation: outcome.operation, ...(outcome.body ?? {}) });
  } else {
    res.status(outcome.kind === 'created' ? 201 : 200).json(outcome.body);
  }
}

export function sendLastOperation(res: OsbResponse, answer: LastOperationAnswer): void {
  if (answer.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(answer.retryAfterSeconds));
  res.status(answer.status).json(answer.body);
}

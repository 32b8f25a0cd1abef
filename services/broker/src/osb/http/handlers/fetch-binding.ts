import { fetchBinding } from '../../domain/bindings.js';
import { callerOf } from '../middleware.js';
import type { OsbRequest, OsbResponse } from '../node-http.js';
import { type HandlerDeps, pathParam } from './common.js';

/** `GET /v2/service_instances/:instance_id/service_bindings/:binding_id` (where bindings_retrievable). */
export function fetchBindingHandler({ ctx }: HandlerDeps) {
  return async (req: OsbRequest, res: OsbResponse) => {
    res.json(await fetchBinding(ctx, callerOf(res), pathParam(req, 'instance_id'), pathParam(req, 'binding_id')));
  };
}

import { fetchInstance } from '../../domain/instances.js';
import { callerOf } from '../middleware.js';
import type { OsbRequest, OsbResponse } from '../node-http.js';
import { type HandlerDeps, pathParam } from './common.js';

/** `GET /v2/service_instances/:instance_id` (where instances_retrievable). */
export function fetchInstanceHandler({ ctx }: HandlerDeps) {
  return async (req: OsbRequest, res: OsbResponse) => {
    res.json(await fetchInstance(ctx, callerOf(res), pathParam(req, 'instance_id')));
  };
}

import { deprovisionInstance } from '../../domain/instances.js';
import { callerOf } from '../middleware.js';
import type { OsbRequest, OsbResponse } from '../node-http.js';
import { acceptsIncomplete, type HandlerDeps, pathParam, queryString, sendOutcome } from './common.js';

/** `DELETE /v2/service_instances/:instance_id?service_id&plan_id[&accepts_incomplete]`. */
export function deprovisionHandler({ ctx }: HandlerDeps) {
  return async (req: OsbRequest, res: OsbResponse) => {
    const outcome = await deprovisionInstance(ctx, callerOf(res), {
      instanceId: pathParam(req, 'instance_id'),
      serviceId: queryString(req, 'service_id', true),
      planId: queryString(req, 'plan_id', true),
      acceptsIncomplete: acceptsIncomplete(req),
    });
    sendOutcome(res, outcome);
  };
}

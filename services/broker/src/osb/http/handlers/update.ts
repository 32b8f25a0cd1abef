import { updateRequest } from '@annex/sdk';
import { updateServiceInstance } from '../../domain/instances.js';
import { callerOf } from '../middleware.js';
import type { OsbRequest, OsbResponse } from '../node-http.js';
import { acceptsIncomplete, decodeBody, type HandlerDeps, pathParam, sendOutcome } from './common.js';

/** `PATCH /v2/service_instances/:instance_id`. */
export function updateHandler({ ctx }: HandlerDeps) {
  return async (req: OsbRequest, res: OsbResponse) => {
    const instanceId = pathParam(req, 'instance_id');
    const incomplete = acceptsIncomplete(req);
    const body = decodeBody(updateRequest, req.body);
    const outcome = await updateServiceInstance(ctx, callerOf(res), {
      instanceId,
      serviceId: body.service_id,
      planId: body.plan_id,
      parameters: body.parameters,
      context: body.context,
      previousValues: body.previous_values,
      maintenanceInfo: body.maintenance_info,
      acceptsIncomplete: incomplete,
    });
    sendOutcome(res, outcome);
  };
}

import { z } from 'zod';
import { updateServiceInstance } from '../../domain/instances.js';
import type { OsbRequest, OsbResponse } from '../http.js';
import { callerOf } from '../middleware.js';
import {
  acceptsIncomplete,
  decodeBody,
  type HandlerDeps,
  idField,
  maintenanceInfoField,
  objectField,
  pathParam,
  sendOutcome,
} from './common.js';

const updateBody = z.object({
  service_id: idField,
  plan_id: idField.optional(),
  parameters: objectField.optional(),
  context: objectField.optional(),
  previous_values: objectField.optional(),
  maintenance_info: maintenanceInfoField.optional(),
});

/** `PATCH /v2/service_instances/:instance_id`. */
export function updateHandler({ ctx }: HandlerDeps) {
  return async (req: OsbRequest, res: OsbResponse) => {
    const instanceId = pathParam(req, 'instance_id');
    const incomplete = acceptsIncomplete(req);
    const body = decodeBody(updateBody, req.body);
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

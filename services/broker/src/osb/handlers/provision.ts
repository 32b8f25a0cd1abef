import { z } from 'zod';
import { provisionInstance } from '../../domain/instances.js';
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

const provisionBody = z.object({
  service_id: idField,
  plan_id: idField,
  organization_guid: idField,
  space_guid: idField,
  context: objectField.optional(),
  parameters: objectField.optional(),
  maintenance_info: maintenanceInfoField.optional(),
});

/** `PUT /v2/service_instances/:instance_id`. */
export function provisionHandler({ ctx }: HandlerDeps) {
  return async (req: OsbRequest, res: OsbResponse) => {
    const instanceId = pathParam(req, 'instance_id');
    const incomplete = acceptsIncomplete(req);
    const body = decodeBody(provisionBody, req.body);
    const outcome = await provisionInstance(ctx, callerOf(res), {
      instanceId,
      serviceId: body.service_id,
      planId: body.plan_id,
      organizationGuid: body.organization_guid,
      spaceGuid: body.space_guid,
      context: body.context ?? {},
      parameters: body.parameters ?? {},
      maintenanceInfo: body.maintenance_info,
      acceptsIncomplete: incomplete,
    });
    sendOutcome(res, outcome);
  };
}

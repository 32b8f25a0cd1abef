import { provisionRequest } from '@annex/sdk';
import { provisionInstance } from '../../domain/instances.js';
import { callerOf } from '../middleware.js';
import type { OsbRequest, OsbResponse } from '../node-http.js';
import { acceptsIncomplete, decodeBody, type HandlerDeps, pathParam, sendOutcome } from './common.js';

/** `PUT /v2/service_instances/:instance_id`. */
export function provisionHandler({ ctx }: HandlerDeps) {
  return async (req: OsbRequest, res: OsbResponse) => {
    const instanceId = pathParam(req, 'instance_id');
    const incomplete = acceptsIncomplete(req);
    const body = decodeBody(provisionRequest, req.body);
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

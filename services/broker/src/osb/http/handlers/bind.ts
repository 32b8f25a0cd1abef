import { bindRequest } from '@annex/sdk';
import { bindInstance } from '../../domain/bindings.js';
import { callerOf } from '../middleware.js';
import type { OsbRequest, OsbResponse } from '../node-http.js';
import { acceptsIncomplete, decodeBody, type HandlerDeps, pathParam, sendOutcome } from './common.js';

/** `PUT /v2/service_instances/:instance_id/service_bindings/:binding_id`. */
export function bindHandler({ ctx }: HandlerDeps) {
  return async (req: OsbRequest, res: OsbResponse) => {
    const instanceId = pathParam(req, 'instance_id');
    const bindingId = pathParam(req, 'binding_id');
    const incomplete = acceptsIncomplete(req);
    const body = decodeBody(bindRequest, req.body);
    const bindResource = body.bind_resource ?? {};
    const appGuid = typeof bindResource.app_guid === 'string' ? bindResource.app_guid : body.app_guid;
    const outcome = await bindInstance(ctx, callerOf(res), {
      instanceId,
      bindingId,
      serviceId: body.service_id,
      planId: body.plan_id,
      appGuid,
      bindResource,
      parameters: body.parameters ?? {},
      context: body.context ?? {},
      predecessorBindingId: body.predecessor_binding_id,
      acceptsIncomplete: incomplete,
    });
    sendOutcome(res, outcome);
  };
}

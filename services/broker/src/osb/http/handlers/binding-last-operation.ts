import { bindingLastOperation } from '../../domain/bindings.js';
import { callerOf } from '../middleware.js';
import type { OsbRequest, OsbResponse } from '../node-http.js';
import { type HandlerDeps, pathParam, queryString, sendLastOperation } from './common.js';

/** `GET /v2/service_instances/:instance_id/service_bindings/:binding_id/last_operation`. */
export function bindingLastOperationHandler({ ctx }: HandlerDeps) {
  return async (req: OsbRequest, res: OsbResponse) => {
    sendLastOperation(
      res,
      await bindingLastOperation(
        ctx,
        callerOf(res),
        pathParam(req, 'instance_id'),
        pathParam(req, 'binding_id'),
        queryString(req, 'operation'),
      ),
    );
  };
}

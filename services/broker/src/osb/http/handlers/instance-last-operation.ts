import { instanceLastOperation } from '../../domain/instances.js';
import { callerOf } from '../middleware.js';
import type { OsbRequest, OsbResponse } from '../node-http.js';
import { type HandlerDeps, pathParam, queryString, sendLastOperation } from './common.js';

/** `GET /v2/service_instances/:instance_id/last_operation`. */
export function instanceLastOperationHandler({ ctx }: HandlerDeps) {
  return async (req: OsbRequest, res: OsbResponse) => {
    queryString(req, 'service_id');
    queryString(req, 'plan_id');
    sendLastOperation(
      res,
      await instanceLastOperation(ctx, callerOf(res), pathParam(req, 'instance_id'), queryString(req, 'operation')),
    );
  };
}

import { buildCatalog } from '../../../shared/domain/catalog.js';
import { callerOf } from '../middleware.js';
import type { OsbRequest, OsbResponse } from '../node-http.js';
import type { HandlerDeps } from './common.js';

/** `GET /v2/catalog`: the services and plans this platform may use. */
export function catalogHandler({ ctx }: HandlerDeps) {
  return async (_req: OsbRequest, res: OsbResponse) => {
    res.json(await buildCatalog(ctx.db, callerOf(res).organizations));
  };
}

import type { Request, Response } from 'express';
import { buildCatalog } from '../../domain/catalog.js';
import { callerOf } from '../middleware.js';
import type { HandlerDeps } from './common.js';

/** `GET /v2/catalog`: the services and plans this platform may use. */
export function catalogHandler({ ctx }: HandlerDeps) {
  return async (_req: Request, res: Response) => {
    res.json(await buildCatalog(ctx.db, callerOf(res).organizations));
  };
}

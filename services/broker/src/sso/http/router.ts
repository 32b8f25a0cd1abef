import { ssoRequest } from '@annex/contracts/v1';
import express, { type Request } from 'express';
import { invalidInput } from '../../shared/domain/api-failure.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import {
  apiErrorHandler,
  apiInternalErrorHandler,
  authenticateApiCaller,
  callerOf,
  parseBody,
  scopedRoutes,
} from '../../shared/http/api.js';
import { cleanRequestTarget, jsonBody } from '../../shared/http/request-input.js';
import { createSsoHandOff } from '../domain/service.js';

// `POST /v1/addons/:addon/sso` (docs/apps.md, docs/provider-protocol.md §2). Mounted at `/v1`
// before the apps API; it answers only its own route and lets every other request through.

export function ssoRouter(ctx: BrokerContext): express.Router {
  const router = express.Router();
  scopedRoutes(router, '/v1')(
    'POST /v1/addons/:addon/sso',
    cleanRequestTarget,
    jsonBody(16 * 1024),
    authenticateApiCaller(ctx),
    async (req, res) => {
      const body = parseBody(ssoRequest, req.body);
      if (body.user !== undefined) {
        throw invalidInput(
          'user',
          'cannot be chosen: the dashboard signs in the caller (the person a console session acts for, else the API token)',
        );
      }
      const handOff = await createSsoHandOff(ctx, callerOf(res), addonParam(req), { app: body.app });
      res.setHeader('cache-control', 'no-store');
      res.status(201).json(handOff);
    },
  );
  // Errors of this route only (no other layer here raises one), in the apps API's shape.
  // Without a path: a handler under '/addons/:addon/sso' would itself fail to decode an
  // add-on that is not valid percent-encoding, and the error would fall through to a 500.
  router.use(apiErrorHandler, apiInternalErrorHandler);
  return router;
}

function addonParam(req: Request): string {
  const value = req.params.addon;
  if (typeof value !== 'string' || value === '') throw invalidInput('addon', 'missing');
  return value;
}

import { randomUUID } from 'node:crypto';
import { nameServerSpan, traceRequests } from '@annex/tracing';
import express, { type NextFunction, type Request, type Response } from 'express';
import { AuthenticationError, type BrokerTrust, basicAuthMatches } from '../auth.js';
import type { createBindingEndpoints } from './bindings.js';
import type { createInstanceEndpoints } from './instances.js';
import { MIN_MINOR_VERSION, queryString, Reply, requestIdOf } from './protocol.js';
import type { Runtime } from './runtime.js';

/** The express router: request identity, SSO, authentication, version header, endpoints, errors. */
export function createRouterFactory(
  rt: Runtime,
  instances: ReturnType<typeof createInstanceEndpoints>,
  bindings: ReturnType<typeof createBindingEndpoints>,
) {
  const { provisionInstance, updateInstance, deprovisionInstance, fetchInstance, lastOperation } = instances;
  const { bindInstance, unbindInstance, fetchBinding } = bindings;
  const { catalog, definition, errorReply, init, trust } = rt;

  // ---- HTTP --------------------------------------------------------------------------

  type Route = (req: Request, res: Response) => Promise<[number, Record<string, unknown>]>;
  const handle = (route: Route) => async (req: Request, res: Response, next: NextFunction) => {
    try {
      await init();
      const [status, body] = await route(req, res);
      res.status(status).json(body);
    } catch (error) {
      next(error);
    }
  };
  const param = (req: Request, name: string) => String(req.params[name]);

  function router(): express.Router {
    const r = express.Router();
    r.use((req, res, next) => {
      const identity = req.header('X-Broker-API-Request-Identity');
      (req as Request & { annexRequestId?: string }).annexRequestId = identity ?? randomUUID();
      if (identity) res.setHeader('X-Broker-API-Request-Identity', identity);
      // The rest of the request (the handlers, their background work) runs in a server
      // span continuing the broker's trace, named after the route it matched.
      traceRequests(rt.tracer, () => {
        nameServerSpan(req, res, () => (req.route?.path as string | undefined) ?? '');
        next();
      })(req, res);
    });

    const ssoPath = definition.ssoPath ?? '/sso';
    const sso = definition.sso;
    if (sso) {
      r.get(ssoPath, async (req, res, next) => {
        // The token is in the URL: keep it out of caches and out of the Referer of the next page.
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('Referrer-Policy', 'no-referrer');
        try {
          if (!trust) throw new Reply(501, { description: 'SSO needs `broker` (the broker URL) in defineProvider' });
          const token = typeof req.query.token === 'string' ? req.query.token : undefined;
          let context: Awaited<ReturnType<BrokerTrust['verifySso']>>;
          try {
            context = await trust.verifySso(token);
          } catch (error) {
            if (error instanceof AuthenticationError)
              throw new Reply(401, { description: `SSO refused: ${error.message}` });
            throw error;
          }
          const target = await sso(context, req, res);
          if (!res.headersSent) {
            if (typeof target === 'string') res.redirect(302, target);
            else res.status(204).end();
          }
        } catch (error) {
          next(error);
        }
      });
    }

    // Only the OSB endpoints: a router mounted at the root must not guard the rest of the app.
    r.use('/v2', async (req, _res, next) => {
      try {
        if (definition.basicAuth) {
          if (
            !basicAuthMatches(req.header('Authorization'), definition.basicAuth.username, definition.basicAuth.password)
          ) {
            throw new Reply(401, { error: 'Unauthorized', description: 'missing or wrong basic auth credentials' });
          }
        } else if (trust) {
          const path = req.originalUrl.split('?')[0] ?? req.path;
          try {
            await trust.verifyRequest(req.header('Authorization'), req.method, path);
          } catch (error) {
            if (error instanceof AuthenticationError)
              throw new Reply(401, { error: 'Unauthorized', description: error.message });
            throw error;
          }
        }
        const version = req.header('X-Broker-API-Version');
        const match = version ? /^(\d+)\.(\d+)$/.exec(version) : null;
        if (!match || Number(match[1]) !== 2 || Number(match[2]) < MIN_MINOR_VERSION) {
          throw new Reply(412, {
            error: 'PreconditionFailed',
            description: version
              ? `X-Broker-API-Version ${version} is not supported; use 2.${MIN_MINOR_VERSION} to 2.17`
              : 'X-Broker-API-Version header is required (2.17)',
          });
        }
        next();
      } catch (error) {
        next(error);
      }
    });
    r.use('/v2', express.json({ limit: '1mb' }));

    r.get(
      '/v2/catalog',
      handle(async () => [200, catalog as unknown as Record<string, unknown>]),
    );
    r.put(
      '/v2/service_instances/:instanceId',
      handle((req) => provisionInstance(req, param(req, 'instanceId'))),
    );
    r.patch(
      '/v2/service_instances/:instanceId',
      handle((req) => updateInstance(req, param(req, 'instanceId'))),
    );
    r.delete(
      '/v2/service_instances/:instanceId',
      handle((req) => deprovisionInstance(req, param(req, 'instanceId'))),
    );
    r.get(
      '/v2/service_instances/:instanceId',
      handle((req) => fetchInstance(param(req, 'instanceId'))),
    );
    r.get(
      '/v2/service_instances/:instanceId/last_operation',
      handle((req, res) => lastOperation(param(req, 'instanceId'), null, queryString(req, 'operation', false), res)),
    );
    const binding = '/v2/service_instances/:instanceId/service_bindings/:bindingId';
    r.put(
      binding,
      handle((req) => bindInstance(req, param(req, 'instanceId'), param(req, 'bindingId'))),
    );
    r.delete(
      binding,
      handle((req) => unbindInstance(req, param(req, 'instanceId'), param(req, 'bindingId'))),
    );
    r.get(
      binding,
      handle((req) => fetchBinding(param(req, 'instanceId'), param(req, 'bindingId'))),
    );
    r.get(
      `${binding}/last_operation`,
      handle((req, res) =>
        lastOperation(param(req, 'instanceId'), param(req, 'bindingId'), queryString(req, 'operation', false), res),
      ),
    );

    r.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
      if (error instanceof Reply) {
        res.status(error.status).json(error.body);
        return;
      }
      const parseFailure = error as { type?: string; status?: number; message?: string };
      if (parseFailure.type === 'entity.parse.failed') {
        res
          .status(400)
          .json({ error: 'MalformedBody', description: `the request body is not valid JSON: ${parseFailure.message}` });
        return;
      }
      if (typeof parseFailure.status === 'number' && parseFailure.status >= 400 && parseFailure.status < 500) {
        res.status(parseFailure.status).json({ description: parseFailure.message ?? 'bad request' });
        return;
      }
      const reply = errorReply(error, requestIdOf(req));
      res.status(reply.status).json(reply.body);
    });
    return r;
  }

  return { router };
}

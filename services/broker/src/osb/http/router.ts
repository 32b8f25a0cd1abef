import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Observability } from '@annex/platform';
import type { BrokerContext } from '../../shared/domain/context.js';
import { queryFailure, RequestFailure, readJsonBody, requireCleanId } from '../../shared/http/request-input.js';
import { osbError, sendFailure } from './errors.js';
import { bindHandler } from './handlers/bind.js';
import { bindingLastOperationHandler } from './handlers/binding-last-operation.js';
import { catalogHandler } from './handlers/catalog.js';
import { deprovisionHandler } from './handlers/deprovision.js';
import { fetchBindingHandler } from './handlers/fetch-binding.js';
import { fetchInstanceHandler } from './handlers/fetch-instance.js';
import { instanceLastOperationHandler } from './handlers/instance-last-operation.js';
import { provisionHandler } from './handlers/provision.js';
import { unbindHandler } from './handlers/unbind.js';
import { updateHandler } from './handlers/update.js';
import { authenticatePlatform, echoRequestIdentity, requireApiVersion } from './middleware.js';
import { NodeOsbRequest, NodeOsbResponse, type OsbRequest, type OsbResponse } from './node-http.js';

type Handler = (req: OsbRequest, res: OsbResponse) => Promise<void>;

/** One OSB endpoint: its method, its path template (for metrics) and its handler. */
interface Route {
  method: string;
  template: string;
  handler: Handler;
}

const BODY_LIMIT = 1024 * 1024;

/** Whether a request path belongs to the OSB API (`/v2` and below). */
export function isOsbPath(url: string | undefined): boolean {
  if (!url?.startsWith('/v2')) return false;
  return url.length === 3 || url[3] === '/' || url[3] === '?';
}

/**
 * The platform-facing OSB 2.17 API under `/v2`, as a plain node:http request listener.
 * Every request is checked in the order the spec implies — request identity echoed,
 * `X-Broker-API-Version`, platform credentials — before its route is looked up, so an
 * unknown path answers 404 only to an authenticated platform.
 */
export function osbHandler(
  ctx: BrokerContext,
  observability: Pick<Observability, 'track'>,
): (req: IncomingMessage, res: ServerResponse) => void {
  const deps = { ctx };
  const authenticate = authenticatePlatform(ctx.db);
  const instance = '/v2/service_instances/:instance_id';
  const binding = `${instance}/service_bindings/:binding_id`;
  const routes = {
    catalog: [{ method: 'GET', template: '/v2/catalog', handler: catalogHandler(deps) }],
    instance: [
      { method: 'PUT', template: instance, handler: provisionHandler(deps) },
      { method: 'PATCH', template: instance, handler: updateHandler(deps) },
      { method: 'DELETE', template: instance, handler: deprovisionHandler(deps) },
      { method: 'GET', template: instance, handler: fetchInstanceHandler(deps) },
    ],
    instanceLastOperation: [
      { method: 'GET', template: `${instance}/last_operation`, handler: instanceLastOperationHandler(deps) },
    ],
    binding: [
      { method: 'PUT', template: binding, handler: bindHandler(deps) },
      { method: 'DELETE', template: binding, handler: unbindHandler(deps) },
      { method: 'GET', template: binding, handler: fetchBindingHandler(deps) },
    ],
    bindingLastOperation: [
      { method: 'GET', template: `${binding}/last_operation`, handler: bindingLastOperationHandler(deps) },
    ],
  } satisfies Record<string, Route[]>;

  /** The route for a path (segments after `/v2`) and its decoded parameters, if any matches. */
  function match(method: string, segments: string[]): { route: Route; params: Record<string, string> } | undefined {
    let candidates: Route[] | undefined;
    const params: Record<string, string> = {};
    const [first, instanceId, third, bindingId, fifth] = segments;
    if (segments.length === 1 && first === 'catalog') {
      candidates = routes.catalog;
    } else if (first === 'service_instances' && instanceId) {
      params.instance_id = decodeSegment('instance_id', instanceId);
      if (segments.length === 2) candidates = routes.instance;
      else if (segments.length === 3 && third === 'last_operation') candidates = routes.instanceLastOperation;
      else if (third === 'service_bindings' && bindingId) {
        params.binding_id = decodeSegment('binding_id', bindingId);
        if (segments.length === 4) candidates = routes.binding;
        else if (segments.length === 5 && fifth === 'last_operation') candidates = routes.bindingLastOperation;
      }
    }
    const route = candidates?.find((candidate) => candidate.method === method);
    return route ? { route, params } : undefined;
  }

  async function serve(raw: IncomingMessage, req: NodeOsbRequest, res: NodeOsbResponse): Promise<void> {
    echoRequestIdentity(req, res);
    if (!requireApiVersion(req, res) || !(await authenticate(req, res))) {
      raw.resume();
      return;
    }
    const segments = req.path.slice('/v2/'.length).split('/');
    const found = match(req.method, segments);
    if (!found) {
      raw.resume();
      osbError(res, 404, 'NotFound', 'no such OSB endpoint');
      return;
    }
    req.params = found.params;
    const badQuery = queryFailure(req.query);
    if (badQuery) throw badQuery;
    req.body = await readJsonBody(raw, BODY_LIMIT);
    res.locals.route = found.route.template;
    await found.route.handler(req, res);
  }

  return (raw, out) => {
    const req = new NodeOsbRequest(raw);
    const res = new NodeOsbResponse(out);
    observability.track(raw, out, res.locals, () => String(res.locals.route ?? '/v2'), req.path);
    serve(raw, req, res).catch((error: unknown) => {
      if (res.headersSent) {
        out.destroy(error instanceof Error ? error : undefined);
        return;
      }
      sendFailure(res, error, req.path);
    });
  };
}

function decodeSegment(field: string, segment: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    throw new RequestFailure(400, 'BadRequest', field, `"${segment}" is not valid percent-encoding`);
  }
  return requireCleanId(field, decoded);
}

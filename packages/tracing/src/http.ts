import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { parseTraceparent } from './context.js';
import { currentSpan, type Tracer, withRemoteContext, withSpan } from './tracer.js';

/**
 * A request listener whose requests each run in a server span that continues the caller's
 * trace (`traceparent`, `tracestate`; a malformed header is ignored and a new trace starts).
 * The span is named `METHOD` until the code that routes the request names it
 * (`nameServerSpan`), and ends when the response is closed. With tracing off, a caller's
 * valid `traceparent` is only made current, so that calls out pass it on unchanged; without
 * one the listener runs as it is.
 *
 * @example
 * createServer(traceRequests(tracer, app)).listen(4000, '127.0.0.1');
 */
export function traceRequests(tracer: Tracer, listener: RequestListener): RequestListener {
  return (req, res) => {
    const header = req.headers.traceparent;
    if (!tracer.enabled) {
      const remote = header === undefined ? null : parseTraceparent(header, req.headers.tracestate);
      if (remote) withRemoteContext(remote, () => listener(req, res));
      else listener(req, res);
      return;
    }
    const parent = header === undefined ? null : parseTraceparent(header, req.headers.tracestate);
    const span = tracer.startSpan(req.method ?? 'HTTP', {
      kind: 'server',
      parent,
      attributes: {
        'http.request.method': req.method,
        'url.path': (req.url ?? '/').split('?')[0],
        'server.port': req.socket.localPort,
        'user_agent.original': req.headers['user-agent'],
      },
    });
    // 'close' comes after 'finish' (and also when the client went away first).
    res.once('close', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: 'error', message: `answered ${res.statusCode}` });
      else if (!res.writableFinished) span.setStatus({ code: 'error', message: 'the connection closed first' });
      span.end();
    });
    withSpan(span, () => listener(req, res));
  };
}

/**
 * Names the current server span after the route the request matched (`PUT
 * /v2/service_instances/:instance_id`), read when the response ends: a route template keeps
 * the names few, where the path would make one per resource.
 */
export function nameServerSpan(req: IncomingMessage, res: ServerResponse, route: () => string): void {
  const span = currentSpan();
  if (!span?.recording || span.kind !== 'server') return;
  res.once('finish', () => {
    const template = route();
    if (!template) return;
    span.updateName(`${req.method} ${template}`).setAttribute('http.route', template);
  });
}

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { parseTraceparent } from './context.js';
import {
  childSpan,
  currentSpan,
  injectTraceHeaders,
  type Span,
  type Tracer,
  withRemoteContext,
  withSpan,
} from './tracer.js';

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

/**
 * One HTTP call out, traced: `send` gets `headers` with the current trace added
 * (`traceparent`, `tracestate`) and, when a recording span is current, runs in a client span
 * (`METHOD`, with the URL and the answer's status) whose id is the one sent. The one place
 * where Annex's calls out carry the trace: the outbound guard (`outboundRequest`), the
 * catalog's broker client and the SDK's broker client all call through it.
 *
 * @example
 * const response = await traceOutbound('POST', url, { accept: 'application/json' }, (headers) =>
 *   fetch(url, { method: 'POST', headers }),
 * );
 */
export async function traceOutbound<T extends { status: number }>(
  method: string,
  target: URL | string,
  headers: Record<string, string>,
  send: (headers: Record<string, string>) => Promise<T>,
): Promise<T> {
  // Tracing off or not sampled: the headers only (the URL is not even parsed).
  if (!currentSpan()?.recording) return send(injectTraceHeaders(headers));
  const url = typeof target === 'string' ? new URL(target) : target;
  const span = childSpan(method, {
    kind: 'client',
    attributes: {
      'http.request.method': method,
      'server.address': url.hostname,
      'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      // Without the query: it may carry what should not leave in a trace.
      'url.full': `${url.origin}${url.pathname}`,
    },
  }) as Span;
  return withSpan(span, async () => {
    try {
      const answer = await send(injectTraceHeaders(headers));
      span.setAttribute('http.response.status_code', answer.status);
      if (answer.status >= 400) span.setStatus({ code: 'error', message: `answered ${answer.status}` });
      return answer;
    } catch (error) {
      span.recordError(error);
      throw error;
    } finally {
      span.end();
    }
  });
}

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { nameServerSpan } from '@annex/tracing';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Logger } from './log.js';

export interface ObservabilityOptions {
  service: string;
  logger: Logger;
  /** Throws when the service cannot serve (for example, the database is unreachable). */
  ready: () => Promise<void>;
}

export interface Observability {
  /** Assigns the request id, logs each request once it ends, records its duration. */
  requestContext: RequestHandler;
  /**
   * The same for a request served without express: sets `locals.requestId` and
   * `locals.log`, the `x-request-id` header, and the log line and duration metric once
   * the answer is sent. `route` is the metric's label, `path` the logged path.
   */
  track(
    req: IncomingMessage,
    res: ServerResponse,
    locals: Record<string, unknown>,
    route: () => string,
    path: string,
  ): void;
  /** `/healthz`, `/readyz` and `/metrics`. */
  routes: express.Router;
  registry: Registry;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Request ids, access logs, health checks and Prometheus metrics for one service.
 * Each service has its own metric registry, so two services can share a process.
 */
export function createObservability(options: ObservabilityOptions): Observability {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });

  function track(
    req: IncomingMessage,
    res: ServerResponse,
    locals: Record<string, unknown>,
    route: () => string,
    path: string,
  ): void {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    locals.requestId = requestId;
    // Made on first use: most requests on a hot path never log, and a pino child is not free.
    let log: Logger | undefined;
    Object.defineProperty(locals, 'log', {
      get: () => {
        log ??= options.logger.child({ requestId });
        return log;
      },
    });
    res.setHeader('x-request-id', requestId);
    // Express restores `baseUrl` only when a router passes a request on, so once answered it
    // still holds where the matched route's router is mounted: the span gets the whole template.
    nameServerSpan(req, res, () => {
      const express = req as { baseUrl?: string; route?: unknown };
      return express.route && express.baseUrl ? `${express.baseUrl}${route()}` : route();
    });
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      duration.observe(
        { method: req.method ?? '', route: route() || 'unmatched', status: String(res.statusCode) },
        seconds,
      );
      if (path === '/healthz' || path === '/readyz' || path === '/metrics') return;
      if (!options.logger.isLevelEnabled('info')) return;
      (locals.log as Logger).info(
        { method: req.method, path, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 },
        'request',
      );
    });
  }

  const requestContext: RequestHandler = (req, res, next) => {
    track(req, res, res.locals, () => (req.route?.path as string | undefined) ?? req.baseUrl ?? '', req.path);
    next();
  };

  const routes = express.Router();
  routes.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  routes.get('/readyz', async (_req, res) => {
    try {
      await options.ready();
      res.json({ status: 'ready' });
    } catch (error) {
      logOf(res).warn({ err: error }, 'not ready');
      res.status(503).json({ status: 'unavailable', reason: 'database unreachable' });
    }
  });
  routes.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', registry.contentType);
    res.send(await registry.metrics());
  });
  return { requestContext, track, routes, registry };
}

/** The request id that `requestContext` assigned. */
export function requestIdOf(res: { locals: Record<string, unknown> }): string {
  return (res.locals.requestId as string | undefined) ?? 'unknown';
}

/** The request's logger (carries the request id). */
export function logOf(res: { locals: Record<string, unknown> }): Logger {
  return res.locals.log as Logger;
}

/**
 * Last-resort error handler: logs the error with its request id and answers 500 with
 * the id only, never a stack trace.
 */
export function internalErrorHandler(body: (requestId: string) => unknown) {
  return (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const requestId = requestIdOf(res);
    logOf(res)?.error({ err: error }, 'unhandled error');
    res.status(500).json(body(requestId));
  };
}

/**
 * Stops a server the way a rolling deploy wants it: no new connections, idle ones closed,
 * requests under way given `graceMs` to finish, then whatever is left (long polls, event
 * streams) cut. Resolves once the server is closed.
 */
export function drainServer(server: Server, graceMs = 10_000): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * Stops the process on SIGINT or SIGTERM (once, however many arrive): drains `server`
 * (`drainServer`), runs `close` in order (the service, then its database), exits 0.
 */
export function stopOnSignals(logger: Logger, server: Server, close: ReadonlyArray<() => Promise<unknown>>): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    await drainServer(server);
    for (const step of close) await step();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

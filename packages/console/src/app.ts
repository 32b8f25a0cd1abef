import { readFileSync } from 'node:fs';
import { createJobRunner, type Database, every, type Logger, type SecretBox } from '@annex/platform';
import express from 'express';
import type { CatalogClient } from './catalog-client.js';
import type { ConsoleConfig } from './config.js';
import { createConsoleContext } from './context.js';
import { csrfCheck } from './middleware/csrf.js';
import { errorPages, notFoundPage } from './middleware/errors.js';
import { loadSessionFromCookie } from './middleware/session.js';
import { appsRoutes } from './routes/apps.js';
import { authRoutes } from './routes/auth.js';
import { billingRoutes } from './routes/billing.js';
import { catalogRoutes } from './routes/catalog.js';
import { providerRoutes } from './routes/provider.js';
import { ssoRoutes } from './routes/sso.js';
import { sweepExpiredSessions } from './sessions.js';

export interface ConsoleDeps {
  database: Database;
  secretBox: SecretBox;
  logger: Logger;
  /** The catalog's GraphQL client; by default one of `config.catalogUrl` (tests record its queries). */
  catalog?: CatalogClient;
}

export interface Console {
  app: express.Express;
  /** The public URL the console was built for (redirect URI base). */
  publicUrl: string;
  /**
   * Starts the console's job runner: the sweep of expired sessions, once per
   * `SESSION_SWEEP_MS` period across every console process (at once when this period's has not run).
   */
  start(): void;
  /** Stops the job runner; resolves once a sweep under way has ended. */
  close(): Promise<void>;
}

/** How often expired sessions are removed (by one console process per period). */
export const SESSION_SWEEP_MS = 10 * 60_000;

/** The console's background jobs and their payloads. */
export type ConsoleJobs = {
  'console.session-sweep': Record<string, never>;
};

// Static assets sit next to this module: src/public in the sources, dist/public in the build
// (the build copies them).
const asset = (name: string) => readFileSync(new URL(`./public/${name}`, import.meta.url), 'utf8');
const ASSETS = { 'console.css': asset('console.css'), 'console.js': asset('console.js') };

/**
 * The web console: server-rendered pages over the catalog's GraphQL API, with sessions in
 * the database. `publicUrl` must be where browsers reach it (the OIDC redirect URI base;
 * `https` makes the cookies `Secure` and `__Host-`).
 */
export function createConsole(config: ConsoleConfig & { publicUrl: string }, deps: ConsoleDeps): Console {
  const { database, logger } = deps;
  const db = database.db;
  const c = createConsoleContext(config, deps);
  const { publicUrl } = c;

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use((_req, res, next) => {
    res.set({
      'content-security-policy':
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'same-origin',
      'cache-control': 'no-store',
    });
    next();
  });
  app.get('/static/:file', (req, res) => {
    const file = req.params.file as keyof typeof ASSETS;
    if (!(file in ASSETS)) return void res.status(404).type('text').send('not found');
    res
      .type(file.endsWith('.css') ? 'text/css' : 'text/javascript')
      .set('cache-control', 'public, max-age=300')
      .send(ASSETS[file]);
  });
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.use(express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 200 }));
  // A POST without a form body (express 5 leaves req.body undefined) reads as an empty form.
  app.use((req, _res, next) => {
    req.body ??= {};
    next();
  });
  app.use(loadSessionFromCookie(c));
  // One check before every route: no POST handler runs without the CSRF token.
  app.use(csrfCheck(c));

  app.use(authRoutes(c));
  app.use(catalogRoutes(c));
  app.use(appsRoutes(c));
  app.use(ssoRoutes(c));
  app.use(billingRoutes(c));
  app.use(providerRoutes(c));

  app.use(notFoundPage(c));
  app.use(errorPages(c));

  // Expired sessions are ended when next seen; the sweep removes those never seen again.
  const jobs = createJobRunner<ConsoleJobs>(database, {
    logger,
    concurrency: 1,
    kinds: {
      'console.session-sweep': async () => {
        const count = await sweepExpiredSessions(db);
        if (count > 0) logger.info({ count }, 'expired sessions removed');
      },
    },
    schedules: [{ kind: 'console.session-sweep', recurrence: every(SESSION_SWEEP_MS) }],
  });
  let starting: Promise<void> | undefined;
  return {
    app,
    publicUrl,
    start() {
      starting ??= jobs.start().catch((error: unknown) => {
        logger.error({ err: error }, 'the console job runner did not start');
      });
    },
    async close() {
      await starting;
      await jobs.stop();
    },
  };
}

import type { DB, Logger, SecretBox } from '@annex/platform';
import type { Request, Response } from 'express';
import type { Kysely } from 'kysely';
import type { ConsoleDeps } from './app.js';
import { type CatalogClient, createCatalogClient } from './catalog-client.js';
import type { ConsoleConfig } from './config.js';
import { type CatalogCalls, catalogCalls, partialErrorsOf } from './graphql.js';
import { type ConsoleCookies, consoleCookies, sessionOf } from './middleware/session.js';
import { createOidcSignIn, type OidcSignIn } from './oidc.js';
import type { PageContext } from './views/layout.js';

/** What every route and middleware of the console works with: built once per console. */
export interface ConsoleContext extends CatalogCalls {
  config: ConsoleConfig;
  /** Where browsers reach the console, without a trailing slash. */
  publicUrl: string;
  db: Kysely<DB>;
  box: SecretBox;
  logger: Logger;
  catalog: CatalogClient;
  /** The identity provider's sign-in; null: the development sign-in instead. */
  oidc: OidcSignIn | null;
  cookies: ConsoleCookies;
  /** What the layout of every page needs: the session, the path, the partial errors. */
  pageContext(req: Request, res: Response): PageContext;
  /** Sends an HTML page. */
  page(res: Response, status: number, body: string): void;
}

export function createConsoleContext(config: ConsoleConfig & { publicUrl: string }, deps: ConsoleDeps): ConsoleContext {
  const publicUrl = config.publicUrl.replace(/\/+$/, '');
  const catalog = deps.catalog ?? createCatalogClient(config.catalogUrl);
  const oidc = config.oidc ? createOidcSignIn({ ...config.oidc, redirectUri: `${publicUrl}/auth/callback` }) : null;
  return {
    config,
    publicUrl,
    db: deps.database.db,
    box: deps.secretBox,
    logger: deps.logger,
    catalog,
    oidc,
    // `https` makes the cookies `Secure` and `__Host-`.
    cookies: consoleCookies(publicUrl.startsWith('https://')),
    pageContext: (req, res) => ({
      session: sessionOf(res),
      path: req.path,
      developmentSignIn: oidc === null,
      partialErrors: partialErrorsOf(res).map((e) => e.message),
    }),
    page: (res, status, body) => void res.status(status).type('html').send(body),
    ...catalogCalls(catalog),
  };
}

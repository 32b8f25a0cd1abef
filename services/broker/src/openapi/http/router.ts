import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express, { type Request, type Response } from 'express';
import { openApiDocument } from '../domain/document.js';

// `GET /openapi.json` (the OpenAPI 3.1 document, no token) and `GET /docs/api` (a reference
// page over it, Swagger UI). Both load on first request: the document is built then, and the
// page's scripts are files of the installed swagger-ui-dist package, sent from disk, so an
// idle broker holds neither. The page names only the broker's own URLs: it works offline.

/** The files of swagger-ui-dist the page uses, by the name the broker serves them under. */
const ASSETS = { 'swagger-ui.css': 'text/css', 'swagger-ui-bundle.js': 'text/javascript' } as const;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Annex broker API</title>
<link rel="stylesheet" href="/docs/api/swagger-ui.css">
</head>
<body>
<div id="api"></div>
<script src="/docs/api/swagger-ui-bundle.js"></script>
<script src="/docs/api/init.js"></script>
</body>
</html>
`;

// No validator badge (it would call a public validator), no remote configuration.
const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#api', deepLinking: true, validatorUrl: null, queryConfigEnabled: false });
`;

/** Only the broker's own URLs: what keeps the page offline, enforced by the browser too. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:";

export function openApiRouter(options: { serverUrl: string }): express.Router {
  const router = express.Router();
  let document: { json: string; etag: string } | undefined;
  let assetsDir: string | undefined;

  router.get('/openapi.json', (req: Request, res: Response) => {
    if (!document) {
      const json = JSON.stringify(openApiDocument({ serverUrl: options.serverUrl }));
      document = { json, etag: `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"` };
    }
    const { json, etag } = document;
    res.setHeader('etag', etag);
    res.setHeader('cache-control', 'public, max-age=300');
    res.setHeader('access-control-allow-origin', '*');
    if (req.header('if-none-match') === etag) {
      res.status(304).end();
      return;
    }
    res.type('application/json').send(json);
  });

  router.get('/docs/api', (_req: Request, res: Response) => {
    res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    res.setHeader('cache-control', 'public, max-age=300');
    res.type('text/html').send(PAGE);
  });
  router.get('/docs/api/init.js', (_req: Request, res: Response) => {
    res.setHeader('cache-control', 'public, max-age=300');
    res.type('text/javascript').send(INIT);
  });
  router.get('/docs/api/:asset', (req: Request, res: Response, next) => {
    const asset = req.params.asset as keyof typeof ASSETS;
    if (!Object.hasOwn(ASSETS, asset)) {
      next();
      return;
    }
    // Resolved from this file, or from the bundled dist/main.js: both find the workspace's node_modules.
    assetsDir ??= dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
    res.type(ASSETS[asset]);
    res.sendFile(join(assetsDir, asset), { maxAge: '1d' }, (error) => {
      if (error) next(error);
    });
  });
  return router;
}

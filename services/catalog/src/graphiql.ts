import { type Request, type Response, Router } from 'express';
import type { GraphiQLOptions } from 'graphql-yoga';

// GraphiQL with every asset served by the catalog itself, from the installed
// @graphql-yoga/render-graphiql package: yoga's default page loads them from a CDN and never
// renders without internet. Separate files (not one page with them inlined) so a browser
// fetches the ~8 MB once and caches it.

/** Where the assets are served, on the catalog's own origin. */
export const GRAPHIQL_ASSETS_PATH = '/graphiql';

type Assets = typeof import('@graphql-yoga/render-graphiql/graphiql');
let loaded: Promise<Assets> | undefined;
// Loaded by the first request for them: a catalog that nobody opens GraphiQL on never holds them.
const assets = (): Promise<Assets> => {
  loaded ??= import('@graphql-yoga/render-graphiql/graphiql');
  return loaded;
};

const FILES: Record<string, { type: string; body: (assets: Assets) => string | Buffer }> = {
  'graphiql.css': { type: 'text/css; charset=utf-8', body: (a) => a.css },
  'graphiql.js': { type: 'text/javascript; charset=utf-8', body: (a) => a.js },
  'editor.worker.js': { type: 'text/javascript; charset=utf-8', body: (a) => a.editorWorkerService },
  'json.worker.js': { type: 'text/javascript; charset=utf-8', body: (a) => a.jsonWorker },
  'graphql.worker.js': { type: 'text/javascript; charset=utf-8', body: (a) => a.graphqlWorker },
  // The package has it as a data: URL.
  'favicon.ico': {
    type: 'image/x-icon',
    body: (a) => Buffer.from(a.favicon.slice(a.favicon.indexOf(',') + 1), 'base64'),
  },
};

/** GET `GRAPHIQL_ASSETS_PATH/<file>`: GraphiQL's script, stylesheet, editor workers and icon. */
export function graphiqlAssets(): Router {
  const router = Router();
  router.get('/:file', async (req: Request, res: Response, next) => {
    const file = Object.hasOwn(FILES, String(req.params.file)) ? FILES[String(req.params.file)] : undefined;
    if (!file) return next();
    try {
      const body = file.body(await assets());
      res.set({ 'content-type': file.type, 'cache-control': 'public, max-age=86400' });
      res.send(body);
    } catch (error) {
      next(error);
    }
  });
  return router;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** yoga's `renderGraphiQL`: the page, pointing only at the assets above. */
export function renderGraphiQL(options: GraphiQLOptions): string {
  const at = GRAPHIQL_ASSETS_PATH;
  // In a <script>, "</script>" or "<!--" in a string would end or change it.
  const json = (value: unknown) => JSON.stringify(value ?? {}).replace(/</g, '\\u003c');
  const title = escapeHtml(options.title ?? 'GraphiQL');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="icon" href="${at}/favicon.ico">
<link rel="stylesheet" href="${at}/graphiql.css">
</head>
<body id="body" class="no-focus-outline">
<noscript>You need to enable JavaScript to run GraphiQL.</noscript>
<div id="root"></div>
<script>
self.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl: (_moduleId, label) =>
    ({ editorWorkerService: '${at}/editor.worker.js', json: '${at}/json.worker.js', graphql: '${at}/graphql.worker.js' })[label],
};
</script>
<script src="${at}/graphiql.js"></script>
<script>YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), ${json(options)});</script>
</body>
</html>
`;
}

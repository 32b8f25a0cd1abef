import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtFile } from '../built.js';

// What an idle service holds is what it imported. The packages below are loaded by the code that
// uses them, when it first runs: importing a service's build (and building a ledger-only broker's
// billing) loads none of them. Each case runs in a fresh Node process on the builds, with a module
// hook listing every module loaded; a service's bundled start (`dist/main.js`) is checked for what it holds.
// (`npm test` builds first.)

const root = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Loaded on first use only: PGlite (opened), Stripe (secret key), Ajv (schema compiled), jose,
 * openid-client, the GraphQL compiler (first query) and the JSON serializer compiler it uses,
 * and the OTLP trace exporter (first span, only when OTEL_* configures an endpoint).
 */
const ON_FIRST_USE =
  /\/node_modules\/(@electric-sql\/pglite|stripe|ajv|ajv-formats|ajv-draft-04|jose|openid-client|graphql-jit|@envelop\/graphql-jit|fast-json-stringify)\/|\/tracing\/(dist|src)\/otlp\.[jt]s$/;

const HOOKS = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function load(url, context, next) {
  appendFileSync(out, url + '\\n');
  return next(url, context);
}`;

describe('an idle service loads no code it has not used', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'annex-imports-'));
    for (const [workspace, file] of [
      ['services/broker', 'dist/index.js'],
      ['services/catalog', 'dist/index.js'],
      ['packages/console', 'dist/index.js'],
      ['packages/platform', 'dist/index.js'],
    ] as const) {
      builtFile(workspace, file);
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * The modules a fresh Node process loads running `body` (an ES module) in the test workspace:
   * ES modules as the hook saw them, CommonJS ones from the require cache.
   */
  async function loadedBy(name: string, body: string): Promise<string[]> {
    const out = join(dir, `${name}.txt`);
    const script = [
      "import { createRequire, register } from 'node:module';",
      `register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)}, { data: { out: ${JSON.stringify(out)} } });`,
      body,
      'console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));',
    ].join('\n');
    const printed = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: join(root, 'test'),
      encoding: 'utf8',
    });
    const required = JSON.parse(printed.trim().split('\n').at(-1) as string) as string[];
    const imported = (await readFile(out, 'utf8')).split('\n').filter(Boolean);
    return [...imported, ...required.map((path) => pathToFileURL(path).href)];
  }

  it('importing the broker, the catalog, the console and the platform loads none of them', async () => {
    const loaded = await loadedBy(
      'services',
      [
        "await import('@annex/platform');",
        "await import('@annex/broker');",
        "await import('@annex/catalog');",
        "await import('@annex/console');",
      ].join('\n'),
    );
    expect(loaded.some((url) => url.includes('/services/catalog/dist/'))).toBe(true);
    expect(loaded.filter((url) => ON_FIRST_USE.test(url))).toEqual([]);
  });

  it("a service's bundled start holds none of them: each stays an import of its own, made on first use", () => {
    // What each service's code imports with import() (Stripe, Ajv are required on first use).
    const importedOnUse = {
      'services/broker': ['@electric-sql/pglite', 'jose', '@annex/tracing/otlp'],
      'services/catalog': [
        '@electric-sql/pglite',
        '@graphql-yoga/render-graphiql/graphiql',
        '@envelop/graphql-jit',
        '@annex/tracing/otlp',
      ],
      'packages/console': ['@electric-sql/pglite', 'openid-client'],
    };
    for (const [workspace, packages] of Object.entries(importedOnUse)) {
      const meta = JSON.parse(readFileSync(builtFile(workspace, 'dist/main.js.meta.json'), 'utf8')) as {
        inputs: Record<string, unknown>;
        outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
      };
      const bundled = Object.keys(meta.inputs);
      // What the script holds: the inputs tree shaking left code of.
      const held = Object.values(meta.outputs).flatMap((output) =>
        Object.entries(output.inputs)
          .filter(([, input]) => input.bytesInOutput > 0)
          .map(([path]) => path),
      );
      expect(
        bundled.some((path) => path.includes('/node_modules/kysely/')),
        workspace,
      ).toBe(true);
      // The broker's API reference page sends swagger-ui-dist's files from disk: none is bundled.
      expect(
        bundled.filter(
          (path) =>
            ON_FIRST_USE.test(path) ||
            path.includes('/@graphql-yoga/render-graphiql/') ||
            path.includes('/swagger-ui-dist/'),
        ),
        workspace,
      ).toEqual([]);
      // Nor iconv-lite (its code tables load for a non-UTF-8 body only), nor a zod translation
      // other than English (zod is imported as a namespace, so what is not used is left out).
      expect(
        held.filter((path) => path.includes('/iconv-lite/') || /\/zod\/v4\/locales\/(?!en\.js$)/.test(path)),
        workspace,
      ).toEqual([]);
      const main = readFileSync(builtFile(workspace, 'dist/main.js'), 'utf8');
      for (const name of packages) expect(main, workspace).toContain(`import("${name}")`);
    }
  });

  it("a ledger-only broker's billing loads no Stripe SDK; one with a secret key does", async () => {
    const build = (env: Record<string, string>) =>
      [
        "const { loadBrokerConfig } = await import('@annex/broker');",
        `const { createBilling } = await import(${JSON.stringify(pathToFileURL(join(root, 'services/broker/dist/billing/index.js')).href)});`,
        `createBilling(loadBrokerConfig(${JSON.stringify(env)}).billing);`,
      ].join('\n');
    const ledgerOnly = await loadedBy('ledger-only', build({}));
    expect(ledgerOnly.filter((url) => /\/node_modules\/stripe\//.test(url))).toEqual([]);
    const stripe = await loadedBy(
      'stripe',
      build({ STRIPE_SECRET_KEY: 'sk_test_x', STRIPE_WEBHOOK_SECRET: 'whsec_x' }),
    );
    expect(stripe.some((url) => /\/node_modules\/stripe\//.test(url))).toBe(true);
  });
});

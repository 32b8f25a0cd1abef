// The build of one workspace, run from its directory by its `build` script (turbo runs them in
// dependency order): a fresh `dist/` compiled by tsc from `tsconfig.build.json`, plus the
// non-TypeScript files the code reads at run time, copied from `src/<dir>` to `dist/<dir>` for
// every directory named on the command line (`node ../../scripts/build-workspace.mjs public`).
//
// With `--bundle-main`, a service's `dist/main.js` (what production starts) is then bundled in
// place with the code it imports statically, whitespace removed: an idle process holds one
// compact script instead of some 900 module sources and records, whose loading alone grew V8's
// young generation to its largest (about 30 MB the catalog kept until V8 shrank it by itself,
// half a minute into idling). Identifiers are kept, and `dist/main.js.map` maps stack traces
// back to the sources. A package imported with `import()` stays a separate import, so code
// loaded on first use still is; `dist/main.js.meta.json` lists what the bundle holds. The other
// files of `dist/` (what other workspaces import) are tsc's as before.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const cwd = process.cwd();
const bundleMain = process.argv.includes('--bundle-main');
const assets = process.argv.slice(2).filter((arg) => arg !== '--bundle-main');
for (const dir of assets) {
  if (!existsSync(join(cwd, 'src', dir))) {
    console.error(`build: src/${dir} does not exist in ${cwd}; name directories under src/ to copy into dist/`);
    process.exit(2);
  }
}

rmSync(join(cwd, 'dist'), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd, stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);
for (const dir of assets) cpSync(join(cwd, 'src', dir), join(cwd, 'dist', dir), { recursive: true });

/**
 * Node defines `Request`, `Response` and the rest of fetch as getters that load its fetch
 * implementation (undici, some 5 MB resident) when first read. Two bundled packages read one at
 * start only to compare or probe it: pg, to tell a Cloudflare Worker (on Node 20, which has no
 * `navigator`), and @whatwg-node/server, to tell whether its Request is the global one (it is the
 * ponyfill on Node). Each read becomes a read of the global's own value, which is there once
 * something has loaded fetch (and wherever a runtime defines it plainly), so the answers are the
 * same and an idle process does not load fetch for them.
 */
const GLOBAL_READS = [
  {
    file: '/node_modules/pg/lib/stream.js',
    text: "if (typeof Response === 'function') {",
    replacement: "if (typeof Object.getOwnPropertyDescriptor(globalThis, 'Response')?.value === 'function') {",
  },
  {
    file: '/node_modules/@whatwg-node/server/esm/createServerAdapter.js',
    text: '? fetchAPI.Request !== globalThis.Request',
    replacement: "? fetchAPI.Request !== Object.getOwnPropertyDescriptor(globalThis, 'Request')?.value",
  },
];

if (bundleMain) {
  const esbuild = await import('esbuild');
  const main = join(cwd, 'dist/main.js');
  const result = await esbuild.build({
    entryPoints: [main],
    outfile: main,
    allowOverwrite: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    charset: 'ascii',
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    // Bundled CommonJS packages call `require` for Node's own modules.
    banner: {
      js: "import { createRequire as __annexCreateRequire } from 'node:module'; const require = __annexCreateRequire(import.meta.url);",
    },
    // pg's optional native binding, required inside a try; iconv-lite (body-parser's charset
    // decoding), whose half a megabyte of code tables only a non-UTF-8 body ever loads: bundled,
    // their source would be held, and parsed at start, in every process.
    external: ['pg-native', 'iconv-lite'],
    plugins: [
      {
        name: 'fetch-globals-read-without-loading',
        setup(build) {
          build.onLoad({ filter: /\.m?js$/ }, async (args) => {
            const reads = GLOBAL_READS.filter((read) => args.path.endsWith(read.file));
            if (reads.length === 0) return undefined;
            let contents = readFileSync(args.path, 'utf8');
            for (const read of reads) {
              const parts = contents.split(read.text);
              if (parts.length !== 2) {
                throw new Error(
                  `build: expected ${JSON.stringify(read.text)} once in ${args.path}; update GLOBAL_READS`,
                );
              }
              contents = parts.join(read.replacement);
            }
            return { contents, loader: 'js' };
          });
        },
      },
      {
        name: 'packages-loaded-on-first-use',
        setup(build) {
          build.onResolve({ filter: /^[^./]/ }, (args) =>
            args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined,
          );
        },
      },
    ],
  });
  writeFileSync(join(cwd, 'dist/main.js.meta.json'), JSON.stringify(result.metafile));
}

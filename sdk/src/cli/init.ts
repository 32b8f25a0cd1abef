import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { CliError, EXIT_CODES } from './exit-codes.js';
import type { CliIo } from './io.js';
import { packSdk } from './pack.js';
import { DEFAULT_KIT_BROKER_PORT } from './test-command.js';

/** Where a scaffolded provider listens unless `--port` or `PORT` says otherwise. */
export const DEFAULT_PORT = 4100;

function manifest(slug: string, port: number) {
  return {
    slug,
    name: slug,
    description: `The ${slug} provider`,
    osb: { url: `http://127.0.0.1:${port}`, auth: 'jwt' },
    services: [
      {
        id: `${slug}-service`,
        slug: `${slug}-store`,
        name: `${slug} store`,
        description: 'A key-value store, provisioned per app',
        category: 'other',
        bindable: true,
        planUpdateable: true,
        instancesRetrievable: true,
        bindingsRetrievable: true,
        configVars: ['STORE_URL'],
        plans: [
          {
            id: `${slug}-starter`,
            slug: 'starter',
            description: 'Created at once',
            schemas: {
              instance: {
                create: {
                  type: 'object',
                  properties: { region: { type: 'string', enum: ['eu', 'us'], default: 'eu' } },
                  additionalProperties: false,
                },
              },
            },
          },
          {
            id: `${slug}-pro`,
            slug: 'pro',
            description: 'Created in the background',
            free: false,
            price: { monthly: 900, currency: 'usd' },
          },
        ],
      },
    ],
  };
}

const server = `import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { defineProvider, inProgress } from '@annex/sdk';

const manifest = JSON.parse(readFileSync(new URL('../annex.json', import.meta.url), 'utf8'));
// Configuration comes from the environment, read here only. The port is the one of the
// manifest's OSB URL, where the broker and \`npm test\` call, unless PORT says otherwise.
const config = {
  brokerUrl: process.env.ANNEX_BROKER_URL ?? 'http://127.0.0.1:4001',
  port: Number(process.env.PORT ?? (new URL(manifest.osb.url).port || ${DEFAULT_PORT})),
  host: process.env.HOST ?? '127.0.0.1',
};

// Your real resources live elsewhere (a database server, an API); this map stands in for them.
const stores = new Map<string, Map<string, string>>();

const provider = defineProvider({
  manifest,
  broker: { url: config.brokerUrl },
  provision: async ({ instanceId, plan, acceptsIncomplete }) => {
    if (plan.slug === 'pro' && acceptsIncomplete) {
      // Slow work: answer 202 at once, the SDK serves last_operation until it ends. A delete
      // meanwhile aborts \`signal\` and the provision is reported failed.
      return inProgress({
        description: 'allocating a dedicated store',
        work: async (signal) => {
          await delay(200, undefined, { signal });
          stores.set(instanceId, new Map());
          return { dashboardUrl: \`http://127.0.0.1:\${config.port}/dashboard/\${instanceId}\` };
        },
      });
    }
    stores.set(instanceId, new Map());
    return { dashboardUrl: \`http://127.0.0.1:\${config.port}/dashboard/\${instanceId}\` };
  },
  update: async () => ({}),
  deprovision: async ({ instanceId }) => {
    stores.delete(instanceId);
  },
  bind: async ({ instanceId, bindingId }) => ({
    credentials: { STORE_URL: \`kv://\${bindingId}@127.0.0.1/\${instanceId}\` },
  }),
  unbind: async () => {},
});

const running = await provider.listen(config.port, config.host);
console.log(\`provider listening on \${running.url} (broker \${config.brokerUrl})\`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void running.close().then(() => provider.close());
  });
}
`;

const KIT_BROKER = `http://127.0.0.1:${DEFAULT_KIT_BROKER_PORT}`;

const readme = (slug: string, port: number, sdk: string) => `# ${slug}

An Annex provider, made with \`annex-provider init\`.

- \`npm start\` compiles \`src/\` into \`dist/\` (\`npm run build\`, tsc) and serves the Open Service
  Broker endpoints from it in plain Node on http://127.0.0.1:${port}, the port of \`osb.url\` in
  \`annex.json\` (\`PORT\` and \`HOST\` override it; \`ANNEX_BROKER_URL\` is the broker whose signed
  requests it accepts). \`npm run dev\` runs \`src/\` through tsx instead, with no build.
- \`npm test\` runs the conformance kit against \`osb.url\`. The kit acts as the broker, so start
  the provider with \`ANNEX_BROKER_URL=${KIT_BROKER} npm start\` first.
- \`npm run typecheck\` type-checks \`src/\`.
- \`npm run publish\` validates \`annex.json\`, checks that \`osb.url\` answers, and publishes it to
  the catalog (\`--catalog URL\` or \`ANNEX_CATALOG_URL\`, \`--token\` or \`ANNEX_TOKEN\`).
- The SDK is \`@annex/sdk\` from \`${sdk}\`${
  sdk.startsWith('file:vendor/')
    ? ', a tarball packed by `annex-provider init`; to\n  upgrade, pack newer ones (`npm pack -w @annex/sdk -w @annex/tracing` in an Annex checkout) and `npm install` them'
    : ''
}.
`;

/** `annex-provider init [dir]`: scaffolds a provider project that installs, runs and passes the kit. */
export async function initCommand(
  io: CliIo,
  dir: string,
  options: { name: string | undefined; port: number; sdk: string | undefined; force: boolean },
): Promise<number> {
  const target = resolve(io.cwd, dir);
  const slug = (options.name ?? basename(target))
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(slug)) {
    throw new CliError(
      `cannot derive a provider slug from "${options.name ?? basename(target)}"; pass --name <slug>`,
      EXIT_CODES.usage,
    );
  }
  if (existsSync(target) && (await readdir(target)).length > 0 && !options.force) {
    throw new CliError(`${target} is not empty; pass --force to write into it`, EXIT_CODES.usage);
  }
  if (options.sdk !== undefined && options.sdk.trim() === '') {
    throw new CliError(
      '--sdk needs an npm dependency spec, e.g. ^0.1.0 or file:../annex-sdk-0.1.0.tgz',
      EXIT_CODES.usage,
    );
  }

  // Pack before writing anything, so that a failure leaves no half-made project behind.
  let packed: { dir: string; file: string; companions: Record<string, string> } | undefined;
  if (options.sdk === undefined) {
    const scratch = await mkdtemp(join(tmpdir(), 'annex-sdk-pack-'));
    try {
      const files = await packSdk(scratch);
      packed = { dir: scratch, file: files.sdk, companions: files.companions };
    } catch (error) {
      await rm(scratch, { recursive: true, force: true });
      throw error;
    }
  }
  const sdk = packed ? `file:vendor/${packed.file}` : (options.sdk as string);

  await mkdir(join(target, 'src'), { recursive: true });
  const files: Record<string, string> = {
    'package.json': `${JSON.stringify(
      {
        name: slug,
        version: '0.1.0',
        private: true,
        type: 'module',
        scripts: {
          build: 'tsc',
          prestart: 'npm run build',
          start: 'node dist/server.js',
          dev: 'tsx src/server.ts',
          test: 'annex-provider test --manifest annex.json',
          typecheck: 'tsc --noEmit',
          publish: 'annex-provider publish annex.json',
        },
        dependencies: { '@annex/sdk': sdk },
        devDependencies: { tsx: '^4.20.0', typescript: '~5.9.3', '@types/node': '^20.19.0' },
        // The Annex packages the SDK depends on, packed beside it.
        ...(packed
          ? {
              overrides: Object.fromEntries(
                Object.entries(packed.companions).map(([name, file]) => [name, `file:vendor/${file}`]),
              ),
            }
          : {}),
      },
      null,
      2,
    )}\n`,
    'annex.json': `${JSON.stringify(manifest(slug, options.port), null, 2)}\n`,
    'src/server.ts': server,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          outDir: 'dist',
          rootDir: 'src',
          sourceMap: true,
          skipLibCheck: true,
          types: ['node'],
        },
        include: ['src'],
      },
      null,
      2,
    )}\n`,
    'README.md': readme(slug, options.port, sdk),
    '.gitignore': 'node_modules\ndist\n',
  };
  for (const [name, content] of Object.entries(files)) await writeFile(join(target, name), content);
  if (packed) {
    await mkdir(join(target, 'vendor'), { recursive: true });
    for (const file of [packed.file, ...Object.values(packed.companions)]) {
      await copyFile(join(packed.dir, file), join(target, 'vendor', file));
    }
    await rm(packed.dir, { recursive: true, force: true });
  }

  io.stdout(`created provider "${slug}" in ${target} (OSB URL http://127.0.0.1:${options.port}, SDK ${sdk})`);
  io.stdout('next:');
  io.stdout(`  cd ${JSON.stringify(target)} && npm install`);
  io.stdout(`  ANNEX_BROKER_URL=${KIT_BROKER} npm start    # a provider that trusts the conformance kit`);
  io.stdout('  npm test                                             # in another terminal: the kit');
  io.stdout('then, with a running marketplace: ANNEX_BROKER_URL=<its broker URL> npm start, and');
  io.stdout('  npm run publish -- --catalog <catalog URL>/graphql --token <provider or admin token>');
  return EXIT_CODES.ok;
}

import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { CliIo } from './io.js';

function manifest(slug: string) {
  return {
    slug,
    name: slug,
    description: `The ${slug} provider`,
    osb: { url: 'http://127.0.0.1:4100', auth: 'jwt' },
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

// Configuration comes from the environment, read here only.
const config = {
  brokerUrl: process.env.ANNEX_BROKER_URL ?? 'http://127.0.0.1:4001',
  port: Number(process.env.PORT ?? 4100),
  host: process.env.HOST ?? '127.0.0.1',
};
const manifest = JSON.parse(readFileSync(new URL('../annex.json', import.meta.url), 'utf8'));

// Your real resources live elsewhere (a database server, an API); this map stands in for them.
const stores = new Map<string, Map<string, string>>();

const provider = defineProvider({
  manifest,
  broker: { url: config.brokerUrl },
  provision: async ({ instanceId, plan, acceptsIncomplete }) => {
    if (plan.slug === 'pro' && acceptsIncomplete) {
      // Slow work: answer 202 at once, the SDK serves last_operation until it ends.
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

const readme = (slug: string) => `# ${slug}

An Annex provider, made with \`annex-provider init\`.

- \`npm start\` serves the Open Service Broker endpoints on http://127.0.0.1:4100
  (\`PORT\`, \`HOST\`; \`ANNEX_BROKER_URL\` is the broker whose signed requests it accepts).
- \`npm test\` runs the conformance kit: start the provider with
  \`ANNEX_BROKER_URL=http://127.0.0.1:4999 npm start\`, then \`npx annex-provider test http://127.0.0.1:4100\`.
- \`npm run publish\` validates \`annex.json\` and publishes it to the catalog
  (\`--catalog\`, \`ANNEX_TOKEN\`).
`;

/** `annex-provider init [dir]`: scaffolds a provider project that runs and passes the kit. */
export async function initCommand(
  io: CliIo,
  dir: string,
  options: { name: string | undefined; force: boolean },
): Promise<number> {
  const target = resolve(io.cwd, dir);
  const slug = (options.name ?? basename(target))
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(slug)) {
    io.stderr(`cannot derive a provider slug from "${options.name ?? basename(target)}"; pass --name <slug>`);
    return 2;
  }
  if (existsSync(target) && (await readdir(target)).length > 0 && !options.force) {
    io.stderr(`${target} is not empty; pass --force to write into it`);
    return 2;
  }
  await mkdir(join(target, 'src'), { recursive: true });
  const files: Record<string, string> = {
    'package.json': `${JSON.stringify(
      {
        name: slug,
        version: '0.1.0',
        private: true,
        type: 'module',
        scripts: {
          start: 'tsx src/server.ts',
          test: 'annex-provider test http://127.0.0.1:4100 --manifest annex.json',
          publish: 'annex-provider publish annex.json',
        },
        dependencies: { '@annex/sdk': '^0.1.0' },
        devDependencies: { tsx: '^4.20.0', typescript: '~5.9.3', '@types/node': '^20.19.0' },
      },
      null,
      2,
    )}\n`,
    'annex.json': `${JSON.stringify(manifest(slug), null, 2)}\n`,
    'src/server.ts': server,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        include: ['src'],
      },
      null,
      2,
    )}\n`,
    'README.md': readme(slug),
    '.gitignore': 'node_modules\ndist\n',
  };
  for (const [name, content] of Object.entries(files)) await writeFile(join(target, name), content);
  io.stdout(`created provider "${slug}" in ${target}`);
  io.stdout('next: npm install && npm start, then npx annex-provider test http://127.0.0.1:4100');
  return 0;
}

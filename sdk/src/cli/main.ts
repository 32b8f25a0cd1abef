import { parseArgs } from 'node:util';
import { initCommand } from './init.js';
import type { CliIo } from './io.js';
import { publishCommand } from './publish.js';
import { testCommand } from './test-command.js';

export type { CliIo } from './io.js';
export { PUBLISH_MUTATION } from './publish.js';

const USAGE = `annex-provider <command>

  init [dir] [--name slug] [--force]
      scaffold a provider project (manifest, server, scripts) that runs and passes the kit
  publish [manifest=annex.json] [--catalog URL] [--token T]
      validate the manifest (every problem with its path), then publish it to the catalog
      (defaults: ANNEX_CATALOG_URL or http://127.0.0.1:4000/graphql; ANNEX_TOKEN)
  test <provider-url> [--audience slug | --manifest annex.json] [--broker-port 4999]
                      [--basic user:pass] [--json] [--timeout seconds]
      run the conformance kit; in JWT mode the kit is the broker: it serves its JWKS on
      http://127.0.0.1:<broker-port>, so start the provider with that as its broker URL`;

/**
 * The `annex-provider` CLI as a function: returns the exit code.
 *
 * @example
 * const code = await runCli(['publish', 'annex.json', '--catalog', url, '--token', token], {
 *   stdout: console.log, stderr: console.error, cwd: process.cwd(), env: process.env,
 * });
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'init': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { name: { type: 'string' }, force: { type: 'boolean', default: false } },
        });
        return await initCommand(io, positionals[0] ?? '.', { name: values.name, force: values.force ?? false });
      }
      case 'publish': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { catalog: { type: 'string' }, token: { type: 'string' } },
        });
        return await publishCommand(io, positionals[0] ?? 'annex.json', {
          catalog: values.catalog ?? io.env.ANNEX_CATALOG_URL ?? 'http://127.0.0.1:4000/graphql',
          token: values.token ?? io.env.ANNEX_TOKEN,
        });
      }
      case 'test': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            basic: { type: 'string' },
            audience: { type: 'string' },
            manifest: { type: 'string' },
            'broker-port': { type: 'string', default: '4999' },
            json: { type: 'boolean', default: false },
            timeout: { type: 'string' },
          },
        });
        const url = positionals[0];
        const brokerPort = Number(values['broker-port']);
        if (!url || !Number.isInteger(brokerPort) || brokerPort < 0 || brokerPort > 65535) {
          io.stderr(!url ? 'test needs the provider URL' : '--broker-port must be a port number');
          io.stderr(USAGE);
          return 2;
        }
        return await testCommand(io, url, {
          basic: values.basic,
          audience: values.audience,
          manifest: values.manifest,
          brokerPort,
          json: values.json ?? false,
          timeoutSeconds: values.timeout ? Number(values.timeout) : undefined,
        });
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? 2 : 0;
      default:
        io.stderr(`unknown command "${command}"\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    io.stderr((error as Error).message);
    return 2;
  }
}

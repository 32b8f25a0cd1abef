import { parseArgs } from 'node:util';
import { CliError, EXIT_CODES } from './exit-codes.js';
import { healthCommand, providerSlugOf } from './health.js';
import { DEFAULT_PORT, initCommand } from './init.js';
import { installsCommand } from './installs.js';
import { invitationsCommand, inviteCommand, uninviteCommand } from './invite.js';
import type { CliIo } from './io.js';
import { payoutsCommand } from './payouts.js';
import { publishCommand } from './publish.js';
import { DEFAULT_KIT_BROKER_PORT, testCommand } from './test-command.js';

export { CliError, EXIT_CODES, type ExitCode } from './exit-codes.js';
export { HEALTH_QUERY } from './health.js';
export { INSTALLS_QUERY } from './installs.js';
export type { CliIo } from './io.js';
export { PAYOUTS_QUERY } from './payouts.js';
export { PUBLISH_MUTATION } from './publish.js';

const USAGE = `annex-provider <command>

  init [dir] [--name slug] [--port N] [--sdk spec] [--force]
      scaffold a provider project (manifest, server, scripts) that runs and passes the kit;
      its OSB URL is http://127.0.0.1:<port> (--port, else PORT, else ${DEFAULT_PORT}); it depends on
      a tarball of this SDK packed into <dir>/vendor, or on --sdk (an npm dependency spec)
  publish [manifest=annex.json] [--catalog URL] [--token T] [--force]
      validate the manifest (every problem with its path), check that its OSB URL answers
      (--force publishes anyway, with a warning), then publish it to the catalog
      (defaults: ANNEX_CATALOG_URL or http://127.0.0.1:4000/graphql; ANNEX_TOKEN)
  health [--provider slug] [--service S] [--json] [--catalog URL] [--token T]
      how the broker's calls to your provider went: per operation (provision, bind, …) the
      last hour and the last 30 days (calls, errors, error rate, p50/p99 latency), then the
      recent failures with what your endpoint answered; --json prints the catalog's answer.
      The provider is --provider, else the slug of ./annex.json (--manifest FILE); the token
      needs provider:read
  invite ORG --service SERVICE [--json] [--catalog URL] [--token T]
      invite an organization (by slug) to an ALPHA service: it sees the service and may create
      add-ons of it; inviting again changes nothing
  uninvite ORG --service SERVICE [--json] [--catalog URL] [--token T]
      withdraw the invitation (the organization's existing add-ons keep working)
  invitations [--service SERVICE] [--json] [--catalog URL] [--token T]
      the organizations invited to the service, or to every service of the token's provider
  installs [--provider slug] [--plan P] [--state S] [--json] [--catalog URL] [--token T]
      the provider's add-ons (every page), newest first: service, plan, state, region, the
      organization's name and apps count, last error; --state one of provisioning,
      provisioned, changing_plan, failed, destroying, destroyed, suspended
  payouts [--provider slug] [--months N=12] [--json] [--catalog URL] [--token T]
      per month: gross revenue, collected, the provider's share, adjustments, what is not yet
      paid out, and each payout with its Stripe transfer state (ledger-only: what would be paid)
      (installs and payouts, like health: the provider is --provider, else ANNEX_PROVIDER, else
      the slug of ./annex.json or --manifest; the token needs provider:read)
  test [provider-url] [--audience slug | --manifest annex.json] [--broker-port ${DEFAULT_KIT_BROKER_PORT}]
                      [--basic user:pass] [--json] [--timeout seconds]
      run the conformance kit against provider-url (default: the manifest's OSB URL); in JWT
      mode the kit is the broker: it serves its JWKS on http://127.0.0.1:<broker-port>, so
      start the provider with that as its broker URL

Exit codes (as for annex): 0 done, 1 refused (invalid manifest, refused by the catalog, a
failed check), 2 bad usage, 3 unreachable or unauthenticated.`;

/** A TCP port from a flag or variable: a usage error naming `what` otherwise. */
function portNumber(value: string, what: string, allowZero: boolean): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535 || (!allowZero && port === 0)) {
    throw new CliError(`${what} must be a port number (${allowZero ? 0 : 1}-65535), not "${value}"`, EXIT_CODES.usage);
  }
  return port;
}

const catalogTarget = (io: CliIo, values: { catalog?: string | undefined; token?: string | undefined }) => ({
  catalog: values.catalog ?? io.env.ANNEX_CATALOG_URL ?? 'http://127.0.0.1:4000/graphql',
  token: values.token ?? io.env.ANNEX_TOKEN,
});

async function runCommand(command: string | undefined, rest: string[], io: CliIo): Promise<number> {
  switch (command) {
    case 'init': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          name: { type: 'string' },
          port: { type: 'string' },
          sdk: { type: 'string' },
          force: { type: 'boolean', default: false },
        },
      });
      if (positionals.length > 1) throw new CliError('init takes one directory', EXIT_CODES.usage);
      const port =
        values.port !== undefined
          ? portNumber(values.port, '--port', false)
          : io.env.PORT
            ? portNumber(io.env.PORT, 'PORT', false)
            : DEFAULT_PORT;
      return initCommand(io, positionals[0] ?? '.', {
        name: values.name,
        port,
        sdk: values.sdk,
        force: values.force ?? false,
      });
    }
    case 'publish': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          catalog: { type: 'string' },
          token: { type: 'string' },
          force: { type: 'boolean', default: false },
        },
      });
      if (positionals.length > 1) throw new CliError('publish takes one manifest file', EXIT_CODES.usage);
      return publishCommand(io, positionals[0] ?? 'annex.json', {
        catalog: values.catalog ?? io.env.ANNEX_CATALOG_URL ?? 'http://127.0.0.1:4000/graphql',
        token: values.token ?? io.env.ANNEX_TOKEN,
        force: values.force ?? false,
      });
    }
    case 'health': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          provider: { type: 'string' },
          manifest: { type: 'string' },
          service: { type: 'string' },
          json: { type: 'boolean', default: false },
          catalog: { type: 'string' },
          token: { type: 'string' },
        },
      });
      if (positionals.length > 0) throw new CliError('health takes no arguments, only flags', EXIT_CODES.usage);
      if (values.service === '') throw new CliError('--service needs a service slug', EXIT_CODES.usage);
      return healthCommand(io, {
        ...catalogTarget(io, values),
        provider: await providerSlugOf(io, { provider: values.provider, manifest: values.manifest }),
        service: values.service,
        json: values.json ?? false,
      });
    }
    case 'invite':
    case 'uninvite':
    case 'invitations': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          service: { type: 'string' },
          json: { type: 'boolean', default: false },
          catalog: { type: 'string' },
          token: { type: 'string' },
        },
      });
      const options = { ...catalogTarget(io, values), service: values.service, json: values.json ?? false };
      if (command === 'invitations') {
        if (positionals.length > 0) throw new CliError('invitations takes no argument', EXIT_CODES.usage);
        return invitationsCommand(io, options);
      }
      if (positionals.length !== 1) {
        throw new CliError(
          `${command} takes one organization slug: ${command} ORG --service SERVICE`,
          EXIT_CODES.usage,
        );
      }
      const organization = positionals[0] as string;
      return command === 'invite'
        ? inviteCommand(io, organization, options)
        : uninviteCommand(io, organization, options);
    }
    case 'installs': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          provider: { type: 'string' },
          manifest: { type: 'string' },
          plan: { type: 'string' },
          state: { type: 'string' },
          json: { type: 'boolean', default: false },
          catalog: { type: 'string' },
          token: { type: 'string' },
        },
      });
      if (positionals.length > 0) throw new CliError('installs takes no arguments, only flags', EXIT_CODES.usage);
      return installsCommand(io, catalogTarget(io, values), {
        provider: await providerSlugOf(io, { provider: values.provider, manifest: values.manifest }),
        plan: values.plan,
        state: values.state,
        json: values.json ?? false,
      });
    }
    case 'payouts': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          provider: { type: 'string' },
          manifest: { type: 'string' },
          months: { type: 'string', default: '12' },
          json: { type: 'boolean', default: false },
          catalog: { type: 'string' },
          token: { type: 'string' },
        },
      });
      if (positionals.length > 0) throw new CliError('payouts takes no arguments, only flags', EXIT_CODES.usage);
      const months = Number(values.months);
      if (!/^\d+$/.test(values.months ?? '') || months < 1 || months > 120) {
        throw new CliError(`--months must be a whole number from 1 to 120, not "${values.months}"`, EXIT_CODES.usage);
      }
      return payoutsCommand(io, catalogTarget(io, values), {
        provider: await providerSlugOf(io, { provider: values.provider, manifest: values.manifest }),
        months,
        json: values.json ?? false,
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
          'broker-port': { type: 'string', default: String(DEFAULT_KIT_BROKER_PORT) },
          json: { type: 'boolean', default: false },
          timeout: { type: 'string' },
        },
      });
      if (positionals.length > 1) throw new CliError('test takes one provider URL', EXIT_CODES.usage);
      const timeoutSeconds = values.timeout === undefined ? undefined : Number(values.timeout);
      if (timeoutSeconds !== undefined && !(timeoutSeconds > 0)) {
        throw new CliError(`--timeout must be a number of seconds, not "${values.timeout}"`, EXIT_CODES.usage);
      }
      return testCommand(io, positionals[0], {
        basic: values.basic,
        audience: values.audience,
        manifest: values.manifest,
        brokerPort: portNumber(values['broker-port'] ?? String(DEFAULT_KIT_BROKER_PORT), '--broker-port', true),
        json: values.json ?? false,
        timeoutSeconds,
      });
    }
    case 'help':
    case '--help':
    case '-h':
      io.stdout(USAGE);
      return EXIT_CODES.ok;
    case undefined:
      io.stderr(USAGE);
      return EXIT_CODES.usage;
    default:
      throw new CliError(`unknown command "${command}"`, EXIT_CODES.usage);
  }
}

/**
 * The `annex-provider` CLI as a function: returns the exit code ({@link EXIT_CODES}). Failures
 * are printed as `error: <what is wrong>`.
 *
 * @example
 * const code = await runCli(['publish', 'annex.json', '--catalog', url, '--token', token], {
 *   stdout: console.log, stderr: console.error, cwd: process.cwd(), env: process.env,
 * });
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    return await runCommand(command, rest, io);
  } catch (error) {
    // node:util parseArgs refuses unknown flags and missing values with these codes.
    const usage = String((error as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
    const failure =
      error instanceof CliError
        ? error
        : new CliError((error as Error).message, usage ? EXIT_CODES.usage : EXIT_CODES.refused);
    io.stderr([`error: ${failure.message}`, ...failure.details.map((detail) => `  ${detail}`)].join('\n'));
    if (failure.exitCode === EXIT_CODES.usage) io.stderr(`\n${USAGE}`);
    return failure.exitCode;
  }
}

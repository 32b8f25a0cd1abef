import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startConformanceBroker } from '../conformance/broker.js';
import { type ConformanceAuth, formatCheck, formatReport, runConformance } from '../conformance/kit.js';
import { CliError, EXIT_CODES } from './exit-codes.js';
import type { CliIo } from './io.js';
import { probeOsbEndpoint } from './probe.js';

/** Where the kit serves its JWKS unless `--broker-port` says otherwise. */
export const DEFAULT_KIT_BROKER_PORT = 4999;

/**
 * `annex-provider test [url]`: runs the conformance kit, acting as the broker in JWT mode.
 * Without a URL it tests the manifest's `osb.url`.
 */
export async function testCommand(
  io: CliIo,
  url: string | undefined,
  options: {
    basic: string | undefined;
    audience: string | undefined;
    manifest: string | undefined;
    brokerPort: number;
    json: boolean;
    timeoutSeconds: number | undefined;
  },
): Promise<number> {
  const isUrl = (value: string) => {
    try {
      new URL(value);
      return true;
    } catch {
      return false;
    }
  };
  if (url !== undefined && !isUrl(url)) {
    throw new CliError(`"${url}" is not a URL (e.g. http://127.0.0.1:4100)`, EXIT_CODES.usage);
  }
  let basic: { username: string; password: string } | undefined;
  if (options.basic !== undefined) {
    const split = options.basic.indexOf(':');
    if (split < 1) throw new CliError('--basic must be user:password', EXIT_CODES.usage);
    basic = { username: options.basic.slice(0, split), password: options.basic.slice(split + 1) };
  }
  // The manifest gives the URL when none is given, and the audience in JWT mode.
  const manifestFile = resolve(io.cwd, options.manifest ?? 'annex.json');
  let manifest: { slug?: unknown; osb?: { url?: unknown } } | undefined;
  if (!url || (!basic && !options.audience)) {
    try {
      manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    } catch (error) {
      throw new CliError(
        `cannot read the manifest ${manifestFile} (${(error as Error).message}): pass the provider URL${basic ? '' : ' and --audience <slug>'}, or --manifest <file>`,
        EXIT_CODES.usage,
      );
    }
  }
  const target = url ?? (typeof manifest?.osb?.url === 'string' ? manifest.osb.url : undefined);
  if (!target || !isUrl(target)) {
    throw new CliError(`no provider URL given and ${manifestFile} has no usable osb.url`, EXIT_CODES.usage);
  }
  const audience = options.audience ?? (typeof manifest?.slug === 'string' ? manifest.slug : undefined);
  if (!basic && !audience) {
    throw new CliError(
      `the JWT audience is the provider slug: pass --audience <slug>, or --manifest <file> with a slug (${manifestFile} has none)`,
      EXIT_CODES.usage,
    );
  }
  // Forty checks failing one by one would hide the one thing wrong.
  const { answered, problem } = await probeOsbEndpoint(target);
  if (!answered) throw new CliError(`the provider does not answer: ${problem}`, EXIT_CODES.unreachable);

  let auth: ConformanceAuth;
  let broker: Awaited<ReturnType<typeof startConformanceBroker>> | undefined;
  if (basic) {
    auth = { kind: 'basic', ...basic };
  } else {
    try {
      // A fixed port keeps its key between runs, so a provider's cached JWKS stays valid.
      const keyFile = options.brokerPort === 0 ? undefined : join(tmpdir(), `annex-kit-${options.brokerPort}.jwk.json`);
      broker = await startConformanceBroker({ port: options.brokerPort, ...(keyFile ? { keyFile } : {}) });
    } catch (error) {
      throw new CliError(
        `cannot serve the kit's JWKS on 127.0.0.1:${options.brokerPort}: ${(error as Error).message}; pick another --broker-port`,
        EXIT_CODES.usage,
      );
    }
    if (!options.json)
      io.stdout(`kit broker: ${broker.url} (the provider must trust this broker URL), audience ${audience}`);
    auth = { kind: 'jwt', broker, audience: audience as string };
  }
  try {
    const report = await runConformance({
      url: target,
      auth,
      ...(options.timeoutSeconds ? { operationTimeoutMs: options.timeoutSeconds * 1000 } : {}),
      ...(options.json ? {} : { onCheck: (check) => io.stdout(formatCheck(check)) }),
    });
    if (options.json) io.stdout(JSON.stringify(report, null, 2));
    else io.stdout(formatReport(report).split('\n').slice(-1)[0] ?? '');
    return report.ok ? EXIT_CODES.ok : EXIT_CODES.refused;
  } finally {
    await broker?.close();
  }
}

import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startConformanceBroker } from '../conformance/broker.js';
import { type ConformanceAuth, formatCheck, formatReport, runConformance } from '../conformance/kit.js';
import type { CliIo } from './io.js';

/** `annex-provider test <url>`: runs the conformance kit, acting as the broker in JWT mode. */
export async function testCommand(
  io: CliIo,
  url: string,
  options: {
    basic: string | undefined;
    audience: string | undefined;
    manifest: string | undefined;
    brokerPort: number;
    json: boolean;
    timeoutSeconds: number | undefined;
  },
): Promise<number> {
  try {
    new URL(url);
  } catch {
    io.stderr(`"${url}" is not a URL (e.g. http://127.0.0.1:4100)`);
    return 2;
  }
  let broker: Awaited<ReturnType<typeof startConformanceBroker>> | undefined;
  let auth: ConformanceAuth;
  if (options.basic) {
    const split = options.basic.indexOf(':');
    if (split < 1) {
      io.stderr('--basic must be user:password');
      return 2;
    }
    auth = { kind: 'basic', username: options.basic.slice(0, split), password: options.basic.slice(split + 1) };
  } else {
    let audience = options.audience;
    if (!audience) {
      const file = resolve(io.cwd, options.manifest ?? 'annex.json');
      try {
        audience = (JSON.parse(await readFile(file, 'utf8')) as { slug?: string }).slug;
      } catch {
        // reported below
      }
      if (!audience) {
        io.stderr(
          `the JWT audience is the provider slug: pass --audience <slug> or --manifest <file> (${file} unreadable)`,
        );
        return 2;
      }
    }
    try {
      // A fixed port keeps its key between runs, so a provider's cached JWKS stays valid.
      const keyFile = options.brokerPort === 0 ? undefined : join(tmpdir(), `annex-kit-${options.brokerPort}.jwk.json`);
      broker = await startConformanceBroker({ port: options.brokerPort, ...(keyFile ? { keyFile } : {}) });
    } catch (error) {
      io.stderr(`cannot serve the kit's JWKS on 127.0.0.1:${options.brokerPort}: ${(error as Error).message}`);
      return 2;
    }
    if (!options.json)
      io.stdout(`kit broker: ${broker.url} (the provider must trust this broker URL), audience ${audience}`);
    auth = { kind: 'jwt', broker, audience };
  }
  try {
    const report = await runConformance({
      url,
      auth,
      ...(options.timeoutSeconds ? { operationTimeoutMs: options.timeoutSeconds * 1000 } : {}),
      ...(options.json ? {} : { onCheck: (check) => io.stdout(formatCheck(check)) }),
    });
    if (options.json) io.stdout(JSON.stringify(report, null, 2));
    else io.stdout(formatReport(report).split('\n').slice(-1)[0] ?? '');
    return report.ok ? 0 : 1;
  } finally {
    await broker?.close();
  }
}

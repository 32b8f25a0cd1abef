import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { builtFile } from '../built.js';

export interface ChildServer {
  url: string;
  /** What the server printed as `FIXTURE <json>` before listening, if anything. */
  fixture: unknown;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts a server script in its own Node process (so the load generator and the server
 * do not share a CPU core) and waits for it to print `LISTENING <url>`. The process runs
 * what production runs: the script's build (`./servers/x.ts` as `dist/bench/servers/x.js`,
 * written by `npm run build`, which `npm run bench` runs first) in plain Node, importing the
 * workspaces' builds; no loader, no build tool beside the server.
 */
export async function startChildServer(
  script: string,
  env: Record<string, string> = {},
  timeoutMs = 180_000,
): Promise<ChildServer> {
  const path = builtFile('test', `dist/bench/${script.replace(/^\.\//, '').replace(/\.ts$/, '.js')}`);
  const child = spawn(process.execPath, [path], {
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let fixture: unknown;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before listening`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const data = line.match(/^FIXTURE (.+)$/);
      if (data?.[1]) fixture = JSON.parse(data[1]);
      const match = line.match(/^LISTENING (\S+)/);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  return {
    url,
    fixture,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      }),
  };
}

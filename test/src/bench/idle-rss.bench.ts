import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SecretBox } from '@annex/platform';
import { createScratchDatabase } from '@annex/platform/testing';
import { freePort } from '../broker/processes.js';
import { builtFile } from '../built.js';
import { buildToolsIn, processTree } from '../process-tree.js';
import type { Section } from './catalog.bench.js';

const TARGET = 2;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HELLO = fileURLToPath(new URL('./servers/hello-http.mjs', import.meta.url));

/** A service as production starts it: its workspace, and what its `start` script runs there. */
const SERVICES = [
  { name: 'broker', workspace: 'services/broker', portVariable: 'BROKER_PORT', pglite: true },
  { name: 'catalog', workspace: 'services/catalog', portVariable: 'CATALOG_PORT', pglite: true },
  // The console alone needs the catalog's PostgreSQL (`npm start` runs it in the marketplace's process).
  { name: 'console', workspace: 'packages/console', portVariable: 'CONSOLE_PORT', pglite: false },
] as const;

interface Started {
  child: ChildProcess;
  url: string;
  output: string[];
}

/** Spawns `node <script>` (no flags, no loader) in `cwd` and waits until `url` answers any HTTP request. */
async function startPlainNode(script: string, cwd: string, env: NodeJS.ProcessEnv, url: string): Promise<Started> {
  const child = spawn(process.execPath, [script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited at start:\n${output.join('')}`);
    try {
      await fetch(url, { redirect: 'manual' });
      return { child, url, output };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${script} did not listen within 120 s:\n${output.join('')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Resident set size of a process, in MB, from /proc/<pid>/status. */
function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) / 1024;
}

/** The environment of a production process: no npm variables, no Node options of the run around it. */
function productionEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^npm_/i.test(name) && !['INIT_CWD', 'NODE_OPTIONS', 'NODE_ENV', 'DATABASE_URL'].includes(name),
    ),
  );
  return { ...env, NODE_ENV: 'production', LOG_LEVEL: 'warn', ...extra };
}

/**
 * Resident memory of each service idle, started as production starts it (`node dist/main.js`
 * in its workspace: the build, no loader), against a node:http hello server started the same
 * way in the same run. Each process sits idle `idleSeconds` after it first answers before its
 * VmRSS is read; its process tree must hold no build tool. Target: at most twice the hello.
 */
export async function benchIdleRss(
  kinds: readonly ('pglite' | 'postgres')[],
  serverUrl: string | undefined,
  idleSeconds: number,
): Promise<Section> {
  for (const service of SERVICES) builtFile(service.workspace, 'dist/main.js');
  const idle = () => new Promise((resolve) => setTimeout(resolve, idleSeconds * 1_000));
  const problems: string[] = [];
  const measure = (started: Started, label: string): number => {
    const found = buildToolsIn(processTree(started.child.pid as number));
    for (const problem of found) problems.push(`${label}: ${problem}`);
    return rssMb(started.child.pid as number);
  };

  const helloPort = await freePort();
  const hello = await startPlainNode(
    HELLO,
    ROOT,
    productionEnv({ PORT: String(helloPort) }),
    `http://127.0.0.1:${helloPort}/`,
  );
  const rows: string[] = [];
  let ok = true;
  let helloMb = 0;
  try {
    await idle();
    helloMb = measure(hello, 'hello');
    for (const service of SERVICES) {
      for (const kind of kinds) {
        if (kind === 'pglite' && !service.pglite) continue;
        if (kind === 'postgres' && !serverUrl) throw new Error('the postgres rows need TEST_DATABASE_URL');
        const dataDir = await mkdtemp(join(tmpdir(), `annex-rss-${service.name}-`));
        const scratch = kind === 'postgres' ? await createScratchDatabase(serverUrl as string) : undefined;
        let started: Started | undefined;
        try {
          const port = await freePort();
          const env = productionEnv({
            [service.portVariable]: String(port),
            ANNEX_DATA_DIR: dataDir,
            ANNEX_ENCRYPTION_KEYS: SecretBox.generateSpec(),
            ...(scratch ? { DATABASE_URL: scratch.url } : {}),
            // Production refuses the development sign-in; the issuer is discovered on the first sign-in only.
            ...(service.name === 'console'
              ? { OIDC_ISSUER_URL: 'https://idp.example.com', OIDC_CLIENT_ID: 'idle', OIDC_CLIENT_SECRET: 'idle' }
              : {}),
          });
          started = await startPlainNode(
            'dist/main.js',
            join(ROOT, service.workspace),
            env,
            `http://127.0.0.1:${port}/`,
          );
          await idle();
          const mb = measure(started, `${service.name} (${kind})`);
          const ratio = mb / helloMb;
          const meets = ratio <= TARGET;
          if (!meets) ok = false;
          rows.push(
            `| ${service.name} | ${kind} | ${mb.toFixed(1)} | ${ratio.toFixed(2)}x | ${meets ? 'meets' : 'misses'} ≤ ${TARGET}x |`,
          );
        } finally {
          if (started) await stopChild(started.child);
          await scratch?.drop();
          await rm(dataDir, { recursive: true, force: true });
        }
      }
    }
  } finally {
    await stopChild(hello.child);
  }
  if (problems.length > 0) ok = false;
  return {
    title: 'Services: resident memory idle',
    ok,
    markdown: [
      'Each service started as production starts it (`node dist/main.js` in its workspace, `NODE_ENV=production`,',
      'the build of `npm run build`, no loader), on each database it supports, then left idle',
      `${idleSeconds} s after it first answers; its resident set (VmRSS) against a node:http hello server started`,
      'the same way in the same run. Every process tree is checked for build tools (tsx, esbuild) and loader flags.',
      `Target: at most ${TARGET}x the hello server.`,
      '',
      `hello (node:http): ${helloMb.toFixed(1)} MB`,
      '',
      '| service | database | RSS MB | ratio to hello | target |',
      '|---|---|---:|---:|---|',
      ...rows,
      '',
      problems.length === 0 ? 'No build tool in any process tree.' : `Build tools found:\n${problems.join('\n')}`,
    ].join('\n'),
  };
}

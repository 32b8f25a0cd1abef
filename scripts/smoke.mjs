#!/usr/bin/env node
// `node scripts/smoke.mjs`: what a newcomer does first, on whatever Node runs this script.
// Runs `npm start` on a fresh embedded database (the demo catalog and the AI gateway example,
// on free ports), then asks each part what a user would: the catalog's services, the broker's
// OSB catalog, the console's page, and, with the org token `npm start` printed, an app with a
// free add-on attached until its config vars are set. Stops the marketplace and exits 0 when
// every answer was right; otherwise prints what was wrong and the marketplace's output.
// CI runs it on each supported Node version the whole suite does not run on.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const START_TIMEOUT_MS = 240_000;
const ATTACH_TIMEOUT_MS = 60_000;

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const dataDir = mkdtempSync(join(tmpdir(), 'annex-smoke-'));
const env = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && !['INIT_CWD', 'NODE_OPTIONS'].includes(name)),
);
Object.assign(env, {
  ANNEX_DATA_DIR: dataDir,
  CATALOG_PORT: '0',
  BROKER_PORT: '0',
  CONSOLE_PORT: '0',
  EXAMPLE_AI_PORT: String(await freePort()),
  EXAMPLE_POSTGRES_PORT: String(await freePort()),
  EXAMPLE_REDIS_PORT: String(await freePort()),
  LOG_LEVEL: 'warn',
});
delete env.DATABASE_URL;

console.log(`smoke: npm start on Node ${process.version}`);
const started = Date.now();
const child = spawn('npm', ['start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
let out = '';
child.stdout.on('data', (chunk) => {
  out += chunk;
});
child.stderr.on('data', (chunk) => {
  out += chunk;
});

/** The processes `pid` started (Linux), so that the marketplace itself is asked to stop, not npm around it. */
function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function stop() {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  // The marketplace stops on SIGTERM and exits 0; npm (and the shell it runs the script in) then exit with its code.
  const descendants = [];
  for (let next = childrenOf(child.pid); next.length > 0; next = next.flatMap(childrenOf)) descendants.push(...next);
  const marketplace = descendants.filter((pid) => {
    try {
      const [command, script] = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return /(^|\/)node$/.test(command ?? '') && script?.endsWith('start.js');
    } catch {
      return false;
    }
  });
  for (const pid of marketplace.length > 0 ? marketplace : [child.pid]) process.kill(pid, 'SIGTERM');
  const timer = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 20_000);
  const result = await exited;
  clearTimeout(timer);
  return result;
}

function fail(message) {
  throw new Error(message);
}

async function json(url, init = {}) {
  const response = await fetch(url, init);
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    fail(`${init.method ?? 'GET'} ${url}: ${response.status}, not JSON: ${text.slice(0, 200)}`);
  }
}

let ok = false;
try {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!out.includes('Stop with Ctrl-C')) {
    if (child.exitCode !== null) fail(`npm start exited with ${child.exitCode} before it was ready`);
    if (Date.now() > deadline) fail(`npm start was not ready within ${START_TIMEOUT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  console.log(`smoke: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const field = (pattern, what) => pattern.exec(out)?.[1] ?? fail(`npm start did not print ${what}`);
  const consoleUrl = field(/Web console\s+(http:\/\/\S+)/, 'the console URL');
  const catalogUrl = field(/Catalog GraphQL\s+(http:\/\/\S+)\/graphql/, 'the catalog URL');
  const brokerUrl = field(/OSB broker\s+(http:\/\/\S+)\/v2\/catalog/, 'the broker URL');
  const orgToken = field(/Org token\s+(\S+)/, 'an org token');
  const basic = field(/OSB basic auth\s+(\S+)/, 'the OSB credentials');

  for (const url of [`${catalogUrl}/readyz`, `${brokerUrl}/readyz`]) {
    const response = await fetch(url);
    if (response.status !== 200) fail(`${url}: ${response.status}`);
  }
  const page = await fetch(consoleUrl, { redirect: 'manual' });
  if (![200, 302, 303].includes(page.status)) fail(`console ${consoleUrl}: ${page.status}`);

  const graphql = async (query, variables, token) => {
    const { status, body } = await json(`${catalogUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    if (status !== 200 || body.errors) fail(`GraphQL ${query.slice(0, 60)}…: ${status} ${JSON.stringify(body.errors)}`);
    return body.data;
  };
  const services = await graphql('{ services(first: 20) { edges { node { slug } } } }');
  const slugs = services.services.edges.map((e) => e.node.slug);
  if (!slugs.includes('ai-gateway')) fail(`the demo catalog lacks ai-gateway: ${slugs.join(', ')}`);

  const osb = await json(`${brokerUrl}/v2/catalog`, {
    headers: { authorization: `Basic ${Buffer.from(basic).toString('base64')}`, 'x-broker-api-version': '2.17' },
  });
  if (osb.status !== 200 || !Array.isArray(osb.body.services) || osb.body.services.length === 0) {
    fail(`GET /v2/catalog: ${osb.status} ${JSON.stringify(osb.body).slice(0, 200)}`);
  }

  const app = `smoke-${process.version.split('.')[0].slice(1)}`;
  const created = await graphql(
    'mutation($name: String!) { createApp(input: { name: $name }) { __typename ... on CreateAppSuccess { app { name } } } }',
    { name: app },
    orgToken,
  );
  if (created.createApp.__typename !== 'CreateAppSuccess') fail(`createApp: ${JSON.stringify(created.createApp)}`);
  const addon = await graphql(
    'mutation($app: String!) { createAddon(input: { app: $app, plan: "ai-gateway:starter" }) { __typename ... on CreateAddonSuccess { addon { name } } } }',
    { app },
    orgToken,
  );
  if (addon.createAddon.__typename !== 'CreateAddonSuccess') fail(`createAddon: ${JSON.stringify(addon.createAddon)}`);
  const attachDeadline = Date.now() + ATTACH_TIMEOUT_MS;
  for (;;) {
    const data = await graphql(
      'query($app: String!) { app(name: $app) { attachments { configVarNames } } }',
      { app },
      orgToken,
    );
    const names = data.app?.attachments.flatMap((a) => a.configVarNames) ?? [];
    if (names.length > 0) {
      console.log(`smoke: ${addon.createAddon.addon.name} attached to ${app}, config vars ${names.join(', ')}`);
      break;
    }
    if (Date.now() > attachDeadline) fail(`the add-on was not attached within ${ATTACH_TIMEOUT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  ok = true;
} catch (error) {
  console.error(`smoke: FAILED on Node ${process.version}: ${error.message}`);
} finally {
  const code = await stop();
  rmSync(dataDir, { recursive: true, force: true });
  if (ok && code !== 0) {
    console.error(`smoke: FAILED: npm start exited with ${code} on SIGTERM`);
    ok = false;
  }
  if (!ok) console.error(`--- npm start output ---\n${out}`);
}
console.log(ok ? `smoke: passed on Node ${process.version}` : 'smoke: failed');
process.exit(ok ? 0 : 1);

import { readFileSync } from 'node:fs';
import { type CatalogConfig, loadCatalogConfig } from '@annex/catalog';
import type { Section } from './catalog.bench.js';
import { startChildServer } from './child.js';
import { type Percentiles, percentiles } from './load.js';

const list = (count: number, item: (i: number) => string) => Array.from({ length: count }, (_, i) => item(i)).join(' ');

interface Hostile {
  name: string;
  query: string;
  /** Sent with an API token (a larger body limit); anonymous otherwise. */
  token?: true;
  /** Beyond the limits: refused, and not a candidate for the costliest document within them. */
  over?: true;
}

/**
 * The costliest documents we know of within the catalog's default limits (query text,
 * tokens, directives), and some beyond them.
 */
function hostileDocuments(limits: CatalogConfig['limits']): Hostile[] {
  const tokens = limits.maxTokens;
  // `categories { id }` is 4 tokens, a fragment 10 and its spread 2, an argument 3.
  const fields = Math.floor((tokens - 2) / 4);
  const fragments = Math.floor((tokens - 2) / 12);
  const connections = Math.floor((tokens - 2) / 10);
  const argumentCount = Math.floor((tokens - 8) / 3);
  const huge = `{ categories${' @skip(if:false)'.repeat(320_000)} { id } }`;
  return [
    {
      name: `the same field ${fields} times (merge check, quadratic)`,
      query: `{ ${list(fields, () => 'categories { id }')} }`,
    },
    {
      name: `one fragment per field, ${fragments} fragments`,
      query: `{ ${list(fragments, (i) => `...F${i}`)} } ${list(fragments, (i) => `fragment F${i} on Query { categories { id } }`)}`,
    },
    {
      name: `a connection ${connections} times`,
      query: `{ ${list(connections, () => 'services { edges { node { id } } }')} }`,
    },
    { name: `${tokens - 2} unknown fields (validation errors)`, query: `{ ${list(tokens - 2, (i) => `field${i}`)} }` },
    {
      name: `${argumentCount} unknown arguments`,
      query: `{ categories(${list(argumentCount, (i) => `a${i}: 1`)}) { id } }`,
    },
    {
      name: `${limits.maxDirectives} directives on one field`,
      query: `{ categories ${list(limits.maxDirectives, () => '@skip(if: false)')} { id } }`,
    },
    {
      name: `a ${Math.floor(limits.maxQueryBytes / 1024) - 1} kB string argument`,
      query: `{ service(slug: "${'x'.repeat(limits.maxQueryBytes - 100)}") { id } }`,
    },
    { name: `over the limit: ${tokens + 1} tokens`, query: `{ ${list(tokens - 1, () => '__typename')} }`, over: true },
    { name: 'over the limit: 5 MB of @skip(if:false)', query: huge, over: true },
    { name: 'over the limit: 5 MB of @skip(if:false), with an API token', query: huge, token: true, over: true },
  ];
}

/**
 * CPU time (ms) a process's main thread, its event loop, has used so far (its thread id is
 * its pid), from /proc: not the GC's and libuv's helper threads, which block no request.
 * Undefined where there is no /proc.
 */
function mainThreadCpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime, fields 14 and 15 of stat (11 and 12 after the command name), in ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * What hostile GraphQL documents cost the catalog: the CPU time of its event loop per
 * document (each one new to its parse cache), and how `/healthz` answers while four
 * clients send the costliest without pause.
 */
export async function benchHostileDocuments(samples: number, seconds: number): Promise<Section> {
  const limits = loadCatalogConfig({}).limits;
  const documents = hostileDocuments(limits);
  const catalog = await startChildServer('./servers/catalog.ts', { BENCH_DB: 'pglite', BENCH_SERVICES: '20' });
  const { token } = catalog.fixture as { token: string };
  const pid = catalog.process.pid as number;
  const healthz = catalog.url.replace(/\/graphql$/, '/healthz');
  let made = 0;
  /**
   * `count` request bodies for `query`, made before they are sent (the load generator shares
   * the machine), each with a different leading comment: the parse cache never answers.
   */
  const bodies = (query: string, count: number) =>
    Array.from({ length: count }, () => JSON.stringify({ query: `# ${made++}\n${query}` }));
  const send = async (body: string, withToken?: boolean) => {
    const res = await fetch(catalog.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(withToken ? { authorization: `Bearer ${token}` } : {}) },
      body,
    });
    const answer = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
    if (res.status >= 500) throw new Error(`a hostile document answered ${res.status}`);
    return answer.errors?.[0]?.extensions?.code ?? 'data';
  };
  const rows: string[] = [];
  let worst: Hostile & { cpu: number } = { name: '', query: '', cpu: 0 };
  try {
    for (const body of bodies('{ categories { id } }', 20)) await send(body); // warm-up
    for (const document of documents) {
      const [warmUp, ...measured] = bodies(document.query, samples + 1);
      await send(warmUp as string, document.token); // not counted
      const latencies: number[] = [];
      let answer = '';
      const before = mainThreadCpuMs(pid);
      for (const body of measured) {
        const started = performance.now();
        answer = await send(body, document.token);
        latencies.push(performance.now() - started);
      }
      const after = mainThreadCpuMs(pid);
      const cpu = before === undefined || after === undefined ? undefined : (after - before) / samples;
      const { p50, p99 } = percentiles(latencies);
      if (cpu !== undefined && cpu > worst.cpu && !document.over) worst = { ...document, cpu };
      rows.push(
        `| ${document.name} | ${(Buffer.byteLength(document.query) / 1024).toFixed(1)} | ${answer} | ${cpu?.toFixed(1) ?? 'n/a'} | ${p50.toFixed(1)} / ${p99.toFixed(1)} |`,
      );
    }
    const probe = async () => {
      const res = await fetch(healthz);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`/healthz answered ${res.status}`);
    };
    const idle = await probeFor(probe, 2);
    /** `/healthz` while 4 clients send `document` without pause. */
    const underAttack = async (document: Hostile) => {
      const pool = bodies(document.query, document.over ? 4 : 400);
      let attacking = true;
      let next = 0;
      const attackers = Array.from({ length: 4 }, async () => {
        while (attacking) await send(pool[next++ % pool.length] as string, document.token);
      });
      const during = await probeFor(probe, seconds);
      attacking = false;
      await Promise.all(attackers);
      return { name: document.name, ...during };
    };
    const attacks = [await underAttack(worst)];
    for (const document of documents.filter((d) => d.name.includes('5 MB'))) attacks.push(await underAttack(document));
    const pass = worst.cpu < 50;
    return {
      title: 'Catalog: hostile GraphQL documents',
      ok: pass,
      markdown: [
        `POSTs of the costliest documents we know of within the catalog's default limits (${limits.maxQueryBytes / 1024} kB of`,
        `query, ${limits.maxTokens} tokens, ${limits.maxDirectives} directives, at most 20 validation errors), without a token, each one new`,
        `to the parse cache, and some beyond the limits; ${samples} of each, one at a time, PGlite, server in its own process.`,
        "Catalog CPU is the CPU time of the server's main thread (its event loop) per document, from /proc.",
        'Target: under 50 ms for the costliest document within the limits.',
        '',
        '| document | kB | answer | catalog CPU ms | latency p50 / p99 ms |',
        '|---|---:|---|---:|---:|',
        ...rows,
        '',
        `Costliest within the limits: ${worst.name}, ${worst.cpu.toFixed(1)} ms (${pass ? 'meets' : 'MISSES'} < 50 ms).`,
        `\`/healthz\`, asked over and over by one client, idle and while 4 clients send a document without pause (${seconds} s each):`,
        '',
        '| /healthz | answers | p50 ms | p99 ms |',
        '|---|---:|---:|---:|',
        `| idle | ${idle.count} | ${idle.p50.toFixed(1)} | ${idle.p99.toFixed(1)} |`,
        ...attacks.map((a) => `| during: ${a.name} | ${a.count} | ${a.p50.toFixed(1)} | ${a.p99.toFixed(1)} |`),
      ].join('\n'),
    };
  } finally {
    await catalog.stop();
  }
}

/** Sends `probe` one after another for `seconds`; every answer's latency, in ms. */
async function probeFor(probe: () => Promise<void>, seconds: number): Promise<Percentiles & { count: number }> {
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    const started = performance.now();
    await probe();
    latencies.push(performance.now() - started);
  }
  return { ...percentiles(latencies), count: latencies.length };
}

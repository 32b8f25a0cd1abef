import type { Section } from './catalog.bench.js';
import { startChildServer } from './child.js';
import { postLoad } from './load.js';

/** What a console or CLI asks for an organization's overview. */
export const ORG_QUERY = '{ apps { name addons { name state plan { slug } } attachments { name configVarNames } } }';

const TARGET = 0.02;
/** The organization the throughput target is about: 20 apps of 2 add-ons each. */
const TARGET_APPS = 20;
/** Sequential requests whose statements, broker calls and CPU time are averaged per request. */
const COUNTED = 20;
/**
 * Keep-alive connections of the load: the answer at 200 apps takes the server a few hundred
 * ms of CPU, and 16 waiting in line would pass autocannon's 10 s deadline on a shared machine.
 */
const CONNECTIONS = 4;

interface Stats {
  statements: number;
  brokerCalls: number;
  cpuMs: number;
}

/**
 * An organization's apps with their add-ons and attachments through GraphQL (catalog →
 * broker `/v1` → database), beside bare graphql-yoga, at 20 and at 200 apps of 2 add-ons,
 * on each database.
 */
export async function benchOrgQuery(kinds: readonly ('pglite' | 'postgres')[], seconds: number): Promise<Section> {
  const hello = await startChildServer('./servers/hello-yoga.ts');
  let baseline: Awaited<ReturnType<typeof postLoad>>;
  try {
    baseline = await postLoad(hello.url, JSON.stringify({ query: '{ hello }' }), { seconds });
  } finally {
    await hello.stop();
  }
  const rows = [`| bare graphql-yoga \`{ hello }\` | | ${fmt(baseline.rps)} | ${baseline.p50} | 1.00x | | | | |`];
  let ok = true;
  for (const kind of kinds) {
    /** Statements and calls per request at the first size, which every other size must match. */
    let first: { statements: number; calls: number } | undefined;
    for (const apps of [TARGET_APPS, 200]) {
      const server = await startChildServer('./servers/org-query.ts', {
        BENCH_DB: kind,
        BENCH_APPS: String(apps),
        BENCH_ADDONS: '2',
      });
      try {
        const { token } = server.fixture as { token: string };
        const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
        const body = JSON.stringify({ query: ORG_QUERY });
        const ask = async () => {
          const res = await fetch(server.url, { method: 'POST', headers, body });
          const answer = (await res.json()) as { data?: { apps?: unknown[] }; errors?: { message: string }[] };
          if (!res.ok || answer.errors || answer.data?.apps?.length !== apps) {
            throw new Error(`org query on ${kind} at ${apps} apps: ${res.status} ${JSON.stringify(answer.errors)}`);
          }
        };
        await ask();
        const statsUrl = server.url.replace(/\/graphql$/, '/stats');
        const stats = async () => (await (await fetch(statsUrl)).json()) as Stats;
        // Per request, deterministic: one at a time, nothing else running.
        const before = await stats();
        for (let i = 0; i < COUNTED; i++) await ask();
        const after = await stats();
        const per = (key: keyof Stats) => (after[key] - before[key]) / COUNTED;
        const result = await postLoad(server.url, body, {
          seconds,
          connections: CONNECTIONS,
          headers: { authorization: `Bearer ${token}` },
        });
        if (result.non2xx > 0 || result.errors > 0) {
          throw new Error(`org query on ${kind} at ${apps} apps: ${result.non2xx} non-2xx, ${result.errors} errors`);
        }
        const ratio = result.rps / baseline.rps;
        // Within one statement: the response cache checks its version every 250 ms, so a batch that
        // takes longer holds a few more of those checks; calls must match exactly.
        const cost = { statements: per('statements'), calls: per('brokerCalls') };
        first ??= cost;
        const same = Math.abs(cost.statements - first.statements) < 1 && cost.calls === first.calls;
        // The throughput target is the organization of 20 apps; the larger one shows the cost does not grow.
        const judged = apps === TARGET_APPS;
        ok &&= same && (!judged || ratio >= TARGET);
        const verdict = judged ? `${ratio >= TARGET ? 'meets' : 'MISSES'} ≥ ${TARGET}x` : 'for reference';
        rows.push(
          `| org query, ${kind} | ${apps} × 2 | ${fmt(result.rps)} | ${result.p50} | ${ratio.toFixed(3)}x | ${verdict}${
            same ? '' : `, MORE statements or calls than at ${TARGET_APPS} apps`
          } | ${per('statements').toFixed(1)} | ${per('brokerCalls').toFixed(1)} | ${per('cpuMs').toFixed(1)} |`,
        );
      } finally {
        await server.stop();
      }
    }
  }
  return {
    title: "Apps: an organization's apps with their add-ons in one query",
    ok,
    markdown: [
      `\`${ORG_QUERY}\` with an org token, at 20 and at 200 apps of 2 add-ons each (every add-on`,
      `attached to its app with one var), ${seconds} s after a 2 s warm-up, ${CONNECTIONS} keep-alive connections (bare yoga: 16). The catalog and`,
      'the broker run in one process of their own (PGlite is in-process; the catalog calls the broker over HTTP),',
      `beside bare graphql-yoga measured in the same run. SQL statements (catalog and broker), catalog → broker`,
      `calls and CPU ms of that process are per request, averaged over ${COUNTED} sequential requests.`,
      `Target: at least ${TARGET}x bare yoga at ${TARGET_APPS} apps; statements and calls the same at ${TARGET_APPS} and at 200 apps.`,
      '',
      '| server | apps × add-ons | req/s | p50 ms | ratio to bare yoga | target | SQL statements / req | broker calls / req | CPU ms / req |',
      '|---|---:|---:|---:|---:|---|---:|---:|---:|',
      ...rows,
    ].join('\n'),
  };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en');
}

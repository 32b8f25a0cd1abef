import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchAttaches, benchCreates } from './apps.bench.js';
import { benchBrokerProvisioning } from './broker.bench.js';
import { benchCatalogQuery, benchCatalogSearch, type Section } from './catalog.bench.js';
import { benchHostileDocuments } from './hostile.bench.js';
import { benchIdleReplica } from './idle.bench.js';
import { benchIdleRss } from './idle-rss.bench.js';
import { describeMachine } from './machine.js';
import { benchOrgQuery } from './org-query.bench.js';
import { benchTracingOff } from './tracing.bench.js';

// `npm run bench`: every benchmark, then docs/benchmarks.md. PostgreSQL rows need
// TEST_DATABASE_URL (a server where the benchmark may create and drop scratch databases).
const kinds: ('pglite' | 'postgres')[] = process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
if (kinds.length === 1) console.warn('[bench] TEST_DATABASE_URL is unset: PostgreSQL rows are left out');

const benches: Record<string, () => Promise<Section>> = {
  'catalog-query': () => benchCatalogQuery(kinds, seconds),
  'catalog-search': () => benchCatalogSearch(kinds, 300),
  'catalog-hostile': () => benchHostileDocuments(Number(process.env.BENCH_HOSTILE_SAMPLES ?? 30), seconds),
  'broker-provision': () => benchBrokerProvisioning(process.env.TEST_DATABASE_URL, seconds),
  'apps-create': () => benchCreates(kinds, Number(process.env.BENCH_CREATES ?? 200)),
  'apps-attach': () => benchAttaches(kinds, Number(process.env.BENCH_ATTACHES ?? 200)),
  'org-query': () => benchOrgQuery(kinds, seconds),
  'broker-idle': () =>
    benchIdleReplica(kinds, process.env.TEST_DATABASE_URL, Number(process.env.BENCH_IDLE_SECONDS ?? 60)),
  'tracing-off': () => benchTracingOff(Number(process.env.BENCH_TRACING_REQUESTS ?? 2000)),
  'idle-rss': () => benchIdleRss(kinds, process.env.TEST_DATABASE_URL, Number(process.env.BENCH_IDLE_RSS_SECONDS ?? 5)),
};
// BENCH_ONLY=name[,name] runs a subset (and then does not rewrite docs/benchmarks.md).
const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const sections: Section[] = [];
for (const [name, bench] of Object.entries(benches)) {
  if (only && !only.includes(name)) continue;
  const section = await bench();
  console.log(`\n## ${section.title}\n\n${section.markdown}\n`);
  sections.push(section);
}

if (only) process.exit(sections.every((s) => s.ok) ? 0 : 1);

const out = fileURLToPath(new URL('../../../docs/benchmarks.md', import.meta.url));
writeFileSync(
  out,
  [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (run it with `TEST_DATABASE_URL` set for the PostgreSQL rows).',
    'Numbers are from one run on one machine; ratios against a baseline measured in the same',
    'run are what the targets are about.',
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${describeMachine()}`,
    `- Databases: ${kinds.join(', ')}`,
    '',
    ...sections.flatMap((s) => [`## ${s.title}`, '', s.markdown, '']),
  ].join('\n'),
);
console.log(`wrote ${out}`);
process.exit(sections.every((s) => s.ok) ? 0 : 1);

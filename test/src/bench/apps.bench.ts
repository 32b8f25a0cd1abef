import { randomUUID } from 'node:crypto';
import type { Section } from './catalog.bench.js';
import { type ChildServer, startChildServer } from './child.js';

const CONCURRENCY = () => Number(process.env.BENCH_ATTACH_CONCURRENCY ?? 8);

interface AppsFixture {
  token: string;
  plan: string;
  serviceOsbId: string;
  planOsbId: string;
  platformAuth: string;
}

interface Run {
  perSecond: number;
  p50: number;
  p99: number;
  failed: number;
}

/** Runs `count` calls of `one(i)`, `CONCURRENCY` at a time; `one` answers whether the call succeeded. */
async function run(count: number, one: (i: number) => Promise<boolean>): Promise<Run> {
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY() }, async () => {
      while (next < count) {
        const i = next++;
        const t = performance.now();
        if (!(await one(i))) failed++;
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { perSecond: count / seconds, p50: at(0.5), p99: at(0.99), failed };
}

/** A broker and its provider for the apps benchmarks, `apps` apps in one organization. */
async function startApps(
  kind: 'pglite' | 'postgres',
  apps: number,
): Promise<{
  broker: ChildServer;
  fx: AppsFixture;
  headers: Record<string, string>;
  counters(): Promise<{ statements: number; transactions: number }>;
  stop(): Promise<void>;
}> {
  const provider = await startChildServer('./servers/apps-provider.ts');
  const broker = await startChildServer('./servers/apps-broker.ts', {
    BENCH_DB: kind,
    BENCH_APPS: String(apps),
    PROVIDER_URL: provider.url,
  });
  const fx = broker.fixture as AppsFixture;
  return {
    broker,
    fx,
    headers: { authorization: `Bearer ${fx.token}`, 'content-type': 'application/json' },
    counters: async () =>
      (await (await fetch(`${broker.url}/bench/counters`)).json()) as { statements: number; transactions: number },
    async stop() {
      await broker.stop();
      await provider.stop();
    },
  };
}

/** Creates an add-on on `app` through `/v1`; its name, or undefined when it did not end attached. */
async function createOne(
  url: string,
  headers: Record<string, string>,
  plan: string,
  app: string,
): Promise<string | undefined> {
  const res = await fetch(`${url}/v1/apps/${app}/addons`, { method: 'POST', headers, body: JSON.stringify({ plan }) });
  const body = (await res.json()) as { addon?: { name: string; state: string }; attachment?: { state: string } };
  if (res.status !== 201 || body.addon?.state !== 'provisioned' || body.attachment?.state !== 'attached') return;
  return body.addon.name;
}

async function attachOne(url: string, headers: Record<string, string>, app: string, addon: string, as: string) {
  const res = await fetch(`${url}/v1/apps/${app}/attachments`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ addon, as }),
  });
  const answer = (await res.json()) as { attachment?: { state: string } };
  return res.status === 201 && answer.attachment?.state === 'attached';
}

/**
 * Add-ons created per second end to end: `POST /v1/apps/:app/addons` of distinct add-ons
 * (provision at the provider, bind, the vars written as a release, the answer), 8 at a time,
 * with the statements and transactions each costs; beside the same broker's synchronous OSB
 * provisions per second (`PUT /v2/service_instances/:id`, 8 at a time) measured in the same run.
 */
export async function benchCreates(kinds: readonly ('pglite' | 'postgres')[], count: number): Promise<Section> {
  const TARGET = 0.1;
  const rows: string[] = [];
  let ok = true;
  for (const kind of kinds) {
    const apps = await startApps(kind, count);
    try {
      const { broker, fx, headers } = apps;
      const provisionBody = JSON.stringify({
        service_id: fx.serviceOsbId,
        plan_id: fx.planOsbId,
        organization_guid: 'bench-org',
        space_guid: 'bench-space',
      });
      const provision = () =>
        fetch(`${broker.url}/v2/service_instances/${randomUUID()}`, {
          method: 'PUT',
          headers: {
            authorization: fx.platformAuth,
            'x-broker-api-version': '2.17',
            'content-type': 'application/json',
          },
          body: provisionBody,
        }).then(async (res) => {
          await res.arrayBuffer();
          return res.status === 201;
        });
      // Warm-up of both paths, then each measured.
      await run(Math.min(count, 40), provision);
      await createOne(broker.url, headers, fx.plan, `bench-app-${count}`);
      const provisions = await run(count, provision);
      const before = await apps.counters();
      const creates = await run(
        count,
        async (i) => (await createOne(broker.url, headers, fx.plan, `bench-app-${i}`)) !== undefined,
      );
      const after = await apps.counters();
      // The counters' own request is not a statement; the broker's background work (reconciler,
      // jobs) in the interval is counted too, so these are upper bounds.
      const statements = (after.statements - before.statements) / count;
      const transactions = (after.transactions - before.transactions) / count;
      const ratio = creates.perSecond / provisions.perSecond;
      const meets = ratio >= TARGET;
      if (creates.failed > 0 || provisions.failed > 0 || !meets) ok = false;
      rows.push(
        `| ${kind} | ${count} | ${creates.perSecond.toFixed(0)} | ${creates.p50.toFixed(1)} / ${creates.p99.toFixed(1)} | ${statements.toFixed(1)} | ${transactions.toFixed(1)} | ${provisions.perSecond.toFixed(0)} | ${ratio.toFixed(3)}x (${meets ? 'meets' : 'misses'} ≥ ${TARGET}x) | ${creates.failed + provisions.failed} |`,
      );
    } finally {
      await apps.stop();
    }
  }
  return {
    title: 'Apps: add-ons created per second',
    ok,
    markdown: [
      `\`POST /v1/apps/:app/addons\` of ${count} distinct add-ons, one per app, ${CONCURRENCY()} requests at a time, broker`,
      'and provider each in their own process. Each creation provisions at the provider, binds, seals the',
      'credentials, writes the vars as a release and answers `201` provisioned and attached. Baseline: the same',
      "broker's synchronous OSB provisions (`PUT /v2/service_instances/:id`, same concurrency) in the same run.",
      'Statements and transactions (an explicit commit, or a statement sent outside a transaction) are',
      "counted by the broker's database client over the whole batch, divided by the creations.",
      `Target: at least ${TARGET}x the provision rate.`,
      '',
      '| database | creations | creations/s | p50 / p99 ms | statements each | transactions each | sync provisions/s | ratio | failed |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows,
    ].join('\n'),
  };
}

/**
 * Attaches per second end to end: `POST /v1/apps/:app/attachments` of one add-on to many apps
 * (each a bind at the provider over HTTP, the credentials sealed, the vars written as a release,
 * webhook deliveries enqueued, the answer), 8 at a time, on each database; then as many
 * attaches of distinct add-ons, one each, and the ratio of the two rates.
 */
export async function benchAttaches(kinds: readonly ('pglite' | 'postgres')[], count: number): Promise<Section> {
  const TARGET = 0.8;
  const rows: string[] = [];
  let ok = true;
  for (const kind of kinds) {
    // Apps 0…count-1 are attached to; apps count…2count-1 own the distinct add-ons; app 2count the shared one.
    const apps = await startApps(kind, 2 * count);
    try {
      const { broker, fx, headers } = apps;
      const shared = await createOne(broker.url, headers, fx.plan, `bench-app-${2 * count}`);
      if (!shared) throw new Error('creating the shared add-on failed');
      const distinct: string[] = [];
      await run(count, async (i) => {
        const name = await createOne(broker.url, headers, fx.plan, `bench-app-${count + i}`);
        if (name) distinct[i] = name;
        return name !== undefined;
      });
      if (distinct.filter(Boolean).length !== count) throw new Error('creating the distinct add-ons failed');
      const one = await run(count, (i) => attachOne(broker.url, headers, `bench-app-${i}`, shared, 'DATABASE'));
      const many = await run(count, (i) =>
        attachOne(broker.url, headers, `bench-app-${i}`, distinct[i] as string, 'REPORTING'),
      );
      const ratio = one.perSecond / many.perSecond;
      const meets = ratio >= TARGET;
      if (one.failed > 0 || many.failed > 0 || !meets) ok = false;
      for (const [what, r] of [
        ['one add-on to many apps', one],
        ['distinct add-ons', many],
      ] as const) {
        rows.push(
          `| ${kind} | ${what} | ${count} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(1)} / ${r.p99.toFixed(1)} | ${r.failed} |`,
        );
      }
      rows.push(
        `| ${kind} | ratio one / distinct | | ${ratio.toFixed(2)}x | ${meets ? 'meets' : 'misses'} ≥ ${TARGET}x | |`,
      );
    } finally {
      await apps.stop();
    }
  }
  return {
    title: 'Apps: attaches per second',
    ok,
    markdown: [
      `\`POST /v1/apps/:app/attachments\` of one add-on to ${count} apps, then of ${count} distinct add-ons to those apps,`,
      `one each, ${CONCURRENCY()} requests at a time, broker and provider each in their own process. Each attach binds at`,
      'the provider over HTTP, seals the credentials, writes the vars as a release with its diff and snapshot,',
      'enqueues webhook deliveries and answers `201` attached. Target: attaching one add-on runs at least',
      `${TARGET}x as fast as attaching distinct ones (no attach waits on another of the same add-on).`,
      '',
      '| database | attaching | attaches | attaches/s | p50 / p99 ms | failed |',
      '|---|---|---:|---:|---:|---:|',
      ...rows,
    ].join('\n'),
  };
}

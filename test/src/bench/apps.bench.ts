import type { Section } from './catalog.bench.js';
import { startChildServer } from './child.js';

/**
 * Attaches per second end to end: `POST /v1/apps/:app/attachments` of one add-on to many apps
 * (each a bind at the provider over HTTP, the credentials sealed, the vars written as a release,
 * webhook deliveries enqueued, the answer), 8 at a time, on each database.
 */
export async function benchAttaches(kinds: readonly ('pglite' | 'postgres')[], apps: number): Promise<Section> {
  const rows: string[] = [];
  let ok = true;
  for (const kind of kinds) {
    const provider = await startChildServer('./servers/apps-provider.ts');
    const broker = await startChildServer('./servers/apps-broker.ts', {
      BENCH_DB: kind,
      BENCH_APPS: String(apps),
      PROVIDER_URL: provider.url,
    });
    try {
      const fx = broker.fixture as { token: string; plan: string };
      const headers = { authorization: `Bearer ${fx.token}`, 'content-type': 'application/json' };
      const created = await fetch(`${broker.url}/v1/apps/bench-app-${apps}/addons`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ plan: fx.plan }),
      });
      const body = (await created.json()) as { addon: { name: string } };
      if (created.status !== 201) throw new Error(`creating the add-on answered ${created.status}`);
      const addon = body.addon.name;
      const latencies: number[] = [];
      let failed = 0;
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: Number(process.env.BENCH_ATTACH_CONCURRENCY ?? 8) }, async () => {
          while (next < apps) {
            const i = next++;
            const t = performance.now();
            const res = await fetch(`${broker.url}/v1/apps/bench-app-${i}/attachments`, {
              method: 'POST',
              headers,
              body: JSON.stringify({ addon, as: 'DATABASE' }),
            });
            const answer = (await res.json()) as { attachment?: { state: string } };
            if (res.status !== 201 || answer.attachment?.state !== 'attached') failed++;
            latencies.push(performance.now() - t);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
      if (failed > 0) ok = false;
      rows.push(
        `| ${kind} | ${apps} | ${(apps / seconds).toFixed(0)} | ${at(0.5).toFixed(1)} / ${at(0.99).toFixed(1)} | ${failed} |`,
      );
    } finally {
      await broker.stop();
      await provider.stop();
    }
  }
  return {
    title: 'Apps: attaches per second',
    ok,
    markdown: [
      `\`POST /v1/apps/:app/attachments\` of one add-on to ${apps} apps, 8 requests at a time, broker and provider each`,
      'in their own process. Each attach binds at the provider over HTTP, seals the credentials, writes the',
      'vars as a release with its diff and snapshot, enqueues webhook deliveries and answers `201` attached.',
      'No target is set for this number; it is reported so that regressions show.',
      '',
      '| database | attaches | attaches/s | p50 / p99 ms | failed |',
      '|---|---:|---:|---:|---:|',
      ...rows,
    ].join('\n'),
  };
}

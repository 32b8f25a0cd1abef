import autocannon from 'autocannon';

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/**
 * Drives one URL with POST requests from a fixed number of keep-alive connections for a
 * fixed time (after a short warm-up), and reports throughput and latency.
 */
export async function postLoad(
  url: string,
  body: string,
  options: { connections?: number; seconds?: number; warmupSeconds?: number; headers?: Record<string, string> } = {},
): Promise<LoadResult> {
  const base = {
    url,
    method: 'POST' as const,
    body,
    headers: { 'content-type': 'application/json', ...options.headers },
    connections: options.connections ?? 16,
  };
  await autocannon({ ...base, duration: options.warmupSeconds ?? 2 });
  const result = await autocannon({ ...base, duration: options.seconds ?? 10 });
  return {
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
}

/** Sequential requests (one at a time) and their latency percentiles, in ms. */
export async function sequentialLatency(send: () => Promise<void>, count: number): Promise<Percentiles> {
  return (await interleavedLatency({ send }, count, 0)).send as Percentiles;
}

/**
 * Sequential requests to several targets in turns (one request to each, then again), and
 * each target's latency percentiles in ms. Taking turns exposes every target to the same
 * drift of a shared machine (a checkpoint, a neighbour's burst), so their difference is
 * fairer than that of two runs one after the other.
 */
export async function interleavedLatency<K extends string>(
  senders: Record<K, () => Promise<void>>,
  count: number,
  warmup = 50,
): Promise<Record<K, Percentiles>> {
  const names = Object.keys(senders) as K[];
  const samples = new Map<K, number[]>(names.map((name) => [name, []]));
  for (let i = 0; i < warmup + count; i++) {
    for (const name of names) {
      const started = performance.now();
      await senders[name]();
      if (i >= warmup) samples.get(name)?.push(performance.now() - started);
    }
  }
  return Object.fromEntries(names.map((name) => [name, percentiles(samples.get(name) ?? [])])) as Record<
    K,
    Percentiles
  >;
}

/** The 50th, 90th and 99th percentiles of `samples`. */
export function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}

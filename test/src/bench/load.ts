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

/** Sequential requests (one at a time) and their latency percentiles, in ms. */
export async function sequentialLatency(
  send: () => Promise<void>,
  count: number,
): Promise<{ p50: number; p90: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await send();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}

/** How long an OSB endpoint has to answer the probe. */
const PROBE_TIMEOUT_MS = 5_000;

/**
 * Whether an OSB endpoint answers: `GET {url}/v2/catalog` without credentials, so a 401 is the
 * expected answer. `problem` names what is wrong: no answer at all (`answered` false), a 404
 * (not the base of the OSB endpoints) or a 5xx; a broker could not provision through any of these.
 */
export async function probeOsbEndpoint(osbUrl: string): Promise<{ answered: boolean; problem?: string }> {
  const url = `${osbUrl.replace(/\/+$/, '')}/v2/catalog`;
  try {
    const response = await fetch(url, {
      headers: { 'X-Broker-API-Version': '2.17' },
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    await response.body?.cancel();
    if (response.status === 404) {
      return { answered: true, problem: `GET ${url} answered 404: is it the base of the OSB endpoints?` };
    }
    if (response.status >= 500) return { answered: true, problem: `GET ${url} answered ${response.status}` };
    return { answered: true };
  } catch (error) {
    return { answered: false, problem: `GET ${url} failed: ${fetchFailure(error, PROBE_TIMEOUT_MS)}` };
  }
}

/** Why a fetch got no answer, in a few words: `ECONNREFUSED`, `no answer within 5 s`... */
export function fetchFailure(error: unknown, timeoutMs: number): string {
  if ((error as Error).name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  // undici's "fetch failed" says nothing; its cause names the network error.
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return (error as Error).message;
}

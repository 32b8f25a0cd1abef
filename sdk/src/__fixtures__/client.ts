import type { ConformanceBroker } from '../conformance/broker.js';

/** A minimal broker-side OSB client for the tests: signs each request with the broker's key. */
export function osbClient(baseUrl: string, broker: ConformanceBroker, audience: string) {
  const basePath = new URL(baseUrl).pathname.replace(/\/+$/, '');
  return async function call(
    method: string,
    path: string,
    options: { body?: unknown; query?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: any; headers: Headers }> {
    const token = await broker.requestToken(audience, method, `${basePath}${path}`);
    const query = options.query ? `?${new URLSearchParams(options.query)}` : '';
    const response = await fetch(`${baseUrl.replace(/\/+$/, '')}${path}${query}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        'X-Broker-API-Version': '2.17',
        ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...(options.headers ?? {}),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  };
}

/** Polls a last_operation path until the state is terminal. */
export async function waitForOperation(
  call: ReturnType<typeof osbClient>,
  path: string,
  query: Record<string, string>,
): Promise<{ status: number; body: any }> {
  for (let i = 0; i < 600; i++) {
    const answer = await call('GET', `${path}/last_operation`, { query });
    if (answer.status !== 200 || answer.body.state !== 'in progress') return answer;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${path} never finished`);
}

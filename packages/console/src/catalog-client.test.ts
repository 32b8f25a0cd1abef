import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDashboardSso, UpstreamError } from './catalog-client.js';

// The console's side of the SSO contract with the broker, against a broker stand-in that
// records what it receives and answers what each test needs.

describe('requestDashboardSso', () => {
  let server: Server;
  let url: string;
  let answer: { status: number; body: unknown } = { status: 201, body: {} };
  const received: { method?: string; path?: string; authorization?: string; body?: unknown }[] = [];
  beforeAll(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      received.push({
        method: req.method,
        path: req.url,
        authorization: req.headers.authorization,
        body: JSON.parse(text || 'null'),
      });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const user = { id: 'u1', email: 'dana@example.com', name: 'Dana' };

  it('posts the add-on, app and user with the session token and returns the URL', async () => {
    answer = { status: 201, body: { url: 'https://kv.example.com/sso?token=abc', expiresAt: '2026-11-27T13:00:00Z' } };
    const result = await requestDashboardSso(url, 'annex_org_token', { addon: 'kv one', app: 'web', user });
    expect(result.url).toBe('https://kv.example.com/sso?token=abc');
    expect(received.at(-1)).toEqual({
      method: 'POST',
      path: '/v1/addons/kv%20one/sso',
      authorization: 'Bearer annex_org_token',
      body: { app: 'web', user },
    });
  });

  it('passes the broker refusal on with its status and message', async () => {
    answer = { status: 404, body: { error: 'not_found', message: 'add-on "kv" not found' } };
    const error = await requestDashboardSso(url, 't', { addon: 'kv', user }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ status: 404, message: 'Opening the dashboard failed: add-on "kv" not found' });
  });

  it('refuses an answer whose URL is not http(s), and an unreachable broker', async () => {
    answer = { status: 201, body: { url: 'javascript:alert(1)' } };
    await expect(requestDashboardSso(url, 't', { addon: 'kv', user })).rejects.toMatchObject({ status: 502 });
    await expect(requestDashboardSso('http://127.0.0.1:1', 't', { addon: 'kv', user })).rejects.toThrow(
      'the broker could not be reached',
    );
  });
});

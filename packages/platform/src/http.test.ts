import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { drainServer } from './http.js';

const get = (port: number, path: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });

describe('drainServer', () => {
  it('lets a request under way finish, refuses new connections, and cuts what outlives the grace', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/slow') setTimeout(() => res.end('finished'), 300);
      else if (req.url === '/stream')
        res.write('open'); // never ends
      else res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const slow = get(port, '/slow');
    const stream = get(port, '/stream').catch((error: Error) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const drained = drainServer(server, 800);
    await expect(get(port, '/')).rejects.toThrow(/ECONNREFUSED/);
    expect(await slow).toEqual({ status: 200, body: 'finished' });
    await drained;
    // The stream held the server open until the grace ran out, then was cut.
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect(await stream).toBeInstanceOf(Error);
  });
});

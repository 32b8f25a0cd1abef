import http, { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  guardedGet,
  guardedLookup,
  isPublicAddress,
  OutboundTimeoutError,
  outboundUrlProblem,
  PrivateAddressError,
} from './outbound.js';

const closed = { allowPrivateNetworks: false };
const open = { allowPrivateNetworks: true };

describe('outbound policy', () => {
  it('tells public addresses from loopback, private, link-local and reserved ones', () => {
    for (const address of [
      '93.184.215.14',
      '8.8.8.8',
      '1.1.1.1',
      '2606:4700:4700::1111',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808', // NAT64 of a public address (DNS64 answers like this): allowed
      '2002:808:808::1',
    ]) {
      expect(isPublicAddress(address), address).toBe(true);
    }
    for (const address of [
      '127.0.0.1',
      '127.255.0.9',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.254',
      '192.168.1.1',
      '169.254.169.254', // cloud metadata
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      'ff02::1',
      '::ffff:127.0.0.1', // IPv4-mapped loopback
      '::ffff:a9fe:a9fe', // IPv4-mapped metadata address, hex form
      '::7f00:1', // IPv4-compatible 127.0.0.1, as URLs write [::127.0.0.1]
      '64:ff9b::a00:5', // NAT64 of 10.0.0.5
      '64:ff9b::169.254.169.254', // NAT64 of the metadata address
      '2002:a00:5::1', // 6to4 of 10.0.0.5
      '::ffff:0:7f00:1', // IPv4-translated 127.0.0.1
      'not-an-address',
    ]) {
      expect(isPublicAddress(address), address).toBe(false);
    }
    expect(isPublicAddress('172.32.0.1')).toBe(true);
  });

  it('refuses address literals and local names up front only when private networks are closed', () => {
    const problem = (url: string) => outboundUrlProblem(new URL(url), closed);
    expect(problem('http://127.0.0.1:8080/hook')).toMatch(/loopback, private or reserved address \(127\.0\.0\.1\)/);
    expect(problem('http://[::1]/hook')).toMatch(/\(::1\)/);
    expect(problem('http://169.254.169.254/latest/meta-data')).toMatch(/169\.254\.169\.254/);
    expect(problem('http://[::ffff:7f00:1]/')).toMatch(/reserved address/);
    expect(problem('http://[::127.0.0.1]/')).toMatch(/reserved address/);
    expect(problem('http://[64:ff9b::169.254.169.254]/')).toMatch(/reserved address/);
    expect(problem('http://localhost:3000/')).toMatch(/local host name \(localhost\)/);
    expect(problem('http://api.localhost./')).toMatch(/local host name/);
    expect(problem('http://metadata.google.internal/')).toMatch(/local host name/);
    expect(problem('https://hooks.example.com/annex')).toBeNull();
    expect(problem('https://93.184.215.14/annex')).toBeNull();
    expect(outboundUrlProblem(new URL('http://127.0.0.1:8080/hook'), open)).toBeNull();
  });

  it('refuses a connection to a name that resolves to a private address, and allows it when open', async () => {
    const server = createServer((_req, res) => res.end('reached'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    let hits = 0;
    server.on('request', () => hits++);
    const get = (policy: { allowPrivateNetworks: boolean }) =>
      new Promise<string>((resolve, reject) => {
        const request = http.get(
          { host: 'localhost', port, family: 4, agent: false, lookup: guardedLookup(policy) },
          (response) => {
            let body = '';
            response.on('data', (chunk) => {
              body += chunk;
            });
            response.on('end', () => resolve(body));
          },
        );
        request.on('error', reject);
      });
    try {
      const refused = await get(closed).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(PrivateAddressError);
      expect((refused as Error).message).toMatch(/^localhost resolves to a loopback, private or reserved address$/);
      expect(hits).toBe(0);
      expect(await get(open)).toBe('reached');
      expect(hits).toBe(1);
    } finally {
      server.close();
    }
  });

  it('guardedGet: refuses up front, returns a redirect unfollowed, stops at its size and time limits', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/moved') return void res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
      if (req.url === '/big') return void res.end('x'.repeat(2048));
      if (req.url === '/slow') return; // never answers
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = (path: string, policy = open) =>
      guardedGet(new URL(`${base}${path}`), { policy, headers: {}, timeoutMs: 300, maxBytes: 1024 });
    try {
      expect(await get('/')).toEqual({ status: 200, body: 'ok' });
      await expect(get('/', closed)).rejects.toThrow(PrivateAddressError);
      expect(await get('/moved')).toMatchObject({ status: 302, body: '' });
      await expect(get('/big')).rejects.toThrow(/larger than 1024 bytes/);
      await expect(get('/slow')).rejects.toBeInstanceOf(OutboundTimeoutError);
      // Refused before sending, and nothing left armed that could fire later.
      const options = { policy: open, headers: {}, timeoutMs: 50, maxBytes: 1024 };
      await expect(guardedGet(new URL('ftp://127.0.0.1/'), options)).rejects.toThrow(/http or https only/);
      await expect(guardedGet(new URL(base), { ...options, headers: { 'x-bad': 'a\nb' } })).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

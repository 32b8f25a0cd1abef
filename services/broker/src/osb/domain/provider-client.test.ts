import dns from 'node:dns';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretBox } from '@annex/platform';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ProviderRow } from '../../shared/db/catalog.js';
import type { RequestSigner } from '../../shared/domain/signing.js';
import { PROVIDER_ANSWER_MAX_BYTES, ProviderClient } from './provider-client.js';

describe('provider client and private networks', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('refuses a provider whose OSB URL points into a private network unless they are allowed', async () => {
    let hits = 0;
    const server = createServer((req, res) => {
      hits++;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"services":[]}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const box = SecretBox.fromSpec(SecretBox.generateSpec());
    const provider = (url: string) =>
      ({
        slug: 'acme',
        osb_url: url,
        osb_auth_kind: 'basic',
        osb_username: 'broker',
        osb_password_secret: box.seal('secret'),
      }) as ProviderRow;
    const signer = {} as RequestSigner; // basic auth: never asked to sign
    const closed = new ProviderClient(signer, box, 2_000, { allowPrivateNetworks: false });
    const open = new ProviderClient(signer, box, 2_000, { allowPrivateNetworks: true });
    const catalog = { method: 'GET', path: '/v2/catalog' } as const;
    try {
      expect(await closed.call(provider(`http://127.0.0.1:${port}`), catalog)).toEqual({
        kind: 'refused',
        message: "provider acme's OSB URL must not point to a loopback, private or reserved address (127.0.0.1)",
      });
      expect(await closed.call(provider(`http://localhost:${port}`), catalog)).toMatchObject({
        kind: 'refused',
        message: "provider acme's OSB URL must not point to a local host name (localhost)",
      });
      // A public-looking name is judged by the address it resolves to when connecting.
      const realLookup = dns.lookup;
      vi.spyOn(dns, 'lookup').mockImplementation(((hostname: string, options: unknown, callback: never) => {
        if (hostname !== 'osb.acme.example')
          return (realLookup as never as (...a: unknown[]) => void)(hostname, options, callback);
        (callback as (e: null, a: dns.LookupAddress[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
      }) as never);
      expect(await closed.call(provider(`http://osb.acme.example:${port}`), catalog)).toEqual({
        kind: 'refused',
        message: "provider acme's OSB URL: osb.acme.example resolves to a loopback, private or reserved address",
      });
      expect(hits).toBe(0);
      expect(await open.call(provider(`http://osb.acme.example:${port}`), catalog)).toMatchObject({ status: 200 });
      expect(hits).toBe(1);
      expect(await open.call(provider(`http://127.0.0.1:${port}`), catalog)).toMatchObject({
        kind: 'answer',
        status: 200,
        body: { services: [] },
      });
      expect(hits).toBe(2);
    } finally {
      closed.close();
      open.close();
      server.close();
    }
  });

  it('reads at most PROVIDER_ANSWER_MAX_BYTES of an answer, and a larger one is no answer; the version header and body are sent', async () => {
    const seen: { version?: string; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        seen.push({ version: req.headers['x-broker-api-version'] as string | undefined, body });
        if (req.url === '/v2/catalog') return void res.end(`{"pad":"${'x'.repeat(PROVIDER_ANSWER_MAX_BYTES)}"}`);
        res.writeHead(202, { 'content-type': 'application/json', 'retry-after': '9' }).end('{"operation":"op"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const box = SecretBox.fromSpec(SecretBox.generateSpec());
    const provider = {
      slug: 'acme',
      osb_url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
      osb_auth_kind: 'basic',
      osb_username: 'broker',
      osb_password_secret: box.seal('secret'),
    } as ProviderRow;
    const client = new ProviderClient({} as RequestSigner, box, 5_000, { allowPrivateNetworks: true });
    try {
      expect(await client.call(provider, { method: 'GET', path: '/v2/catalog' })).toEqual({
        kind: 'unreachable',
        message: `provider acme answered more than ${PROVIDER_ANSWER_MAX_BYTES} bytes`,
      });
      const provision = {
        method: 'PUT',
        path: '/v2/service_instances/i1',
        body: { service_id: 's', plan_id: 'p' },
      } as const;
      expect(await client.call(provider, provision)).toEqual({
        kind: 'answer',
        status: 202,
        body: { operation: 'op' },
        malformed: false,
        retryAfterSeconds: 9,
      });
      expect(seen.at(-1)).toEqual({ version: '2.17', body: '{"service_id":"s","plan_id":"p"}' });
    } finally {
      client.close();
      server.closeAllConnections();
      server.close();
    }
  });
});

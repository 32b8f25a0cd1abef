import http, { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type FinishedSpan, parseTraceparent, Tracer, tracingConfig, withRemoteContext } from '@annex/tracing';
import { describe, expect, it } from 'vitest';
import {
  guardedLookup,
  isPublicAddress,
  OutboundAbortedError,
  type OutboundRequestOptions,
  OutboundTimeoutError,
  outboundRequest,
  outboundUrlProblem,
  PrivateAddressError,
  ResponseTooLargeError,
} from './outbound.js';
import { SPECIAL_ADDRESS_BLOCKS } from './special-addresses.js';

const closed = { allowPrivateNetworks: false };
const open = { allowPrivateNetworks: true };

/**
 * For each block of the table: addresses inside it and the addresses just outside each end
 * of its prefix, each with whether the production guard lets it through. Written out by
 * hand: they are what the registries say, not what the code computes.
 */
const BOUNDARIES: Record<string, Array<[address: string, allowed: boolean]>> = {
  '0.0.0.0/8': [
    ['0.1.2.3', false],
    ['0.255.255.255', false],
    ['1.0.0.0', true],
  ],
  '0.0.0.0/32': [
    ['0.0.0.0', false],
    ['0.0.0.1', false],
  ],
  '10.0.0.0/8': [
    ['10.0.0.0', false],
    ['10.255.255.255', false],
    ['9.255.255.255', true],
    ['11.0.0.0', true],
  ],
  '100.64.0.0/10': [
    ['100.64.0.0', false],
    ['100.127.255.255', false],
    ['100.63.255.255', true],
    ['100.128.0.0', true],
  ],
  '127.0.0.0/8': [
    ['127.0.0.0', false],
    ['127.255.255.255', false],
    ['126.255.255.255', true],
    ['128.0.0.0', true],
  ],
  '169.254.0.0/16': [
    ['169.254.169.254', false],
    ['169.254.255.255', false],
    ['169.253.255.255', true],
    ['169.255.0.0', true],
  ],
  '172.16.0.0/12': [
    ['172.16.0.0', false],
    ['172.31.255.255', false],
    ['172.15.255.255', true],
    ['172.32.0.0', true],
  ],
  '192.0.0.0/24': [
    ['192.0.0.100', false],
    ['192.0.0.255', false],
    ['191.255.255.255', true],
    ['192.0.1.0', true],
  ],
  '192.0.0.0/29': [
    ['192.0.0.0', false],
    ['192.0.0.7', false],
    ['192.0.0.8', false],
  ],
  '192.0.0.8/32': [
    ['192.0.0.8', false],
    ['192.0.0.7', false],
    ['192.0.0.9', true],
  ],
  '192.0.0.9/32': [
    ['192.0.0.9', true],
    ['192.0.0.8', false],
    ['192.0.0.10', true],
  ],
  '192.0.0.10/32': [
    ['192.0.0.10', true],
    ['192.0.0.9', true],
    ['192.0.0.11', false],
  ],
  '192.0.0.170/32': [
    ['192.0.0.170', false],
    ['192.0.0.169', false],
    ['192.0.0.171', false],
  ],
  '192.0.0.171/32': [
    ['192.0.0.171', false],
    ['192.0.0.170', false],
    ['192.0.0.172', false],
  ],
  '192.0.2.0/24': [
    ['192.0.2.0', false],
    ['192.0.2.255', false],
    ['192.0.1.255', true],
    ['192.0.3.0', true],
  ],
  '192.31.196.0/24': [
    ['192.31.196.0', true],
    ['192.31.196.255', true],
    ['192.31.195.255', true],
    ['192.31.197.0', true],
  ],
  '192.52.193.0/24': [
    ['192.52.193.0', true],
    ['192.52.193.255', true],
    ['192.52.192.255', true],
    ['192.52.194.0', true],
  ],
  '192.88.99.0/24': [
    ['192.88.99.0', false],
    ['192.88.99.255', false],
    ['192.88.98.255', true],
    ['192.88.100.0', true],
  ],
  '192.88.99.2/32': [
    ['192.88.99.2', false],
    ['192.88.99.1', false],
    ['192.88.99.3', false],
  ],
  '192.168.0.0/16': [
    ['192.168.1.1', false],
    ['192.168.255.255', false],
    ['192.167.255.255', true],
    ['192.169.0.0', true],
  ],
  '192.175.48.0/24': [
    ['192.175.48.0', true],
    ['192.175.48.255', true],
    ['192.175.47.255', true],
    ['192.175.49.0', true],
  ],
  '198.18.0.0/15': [
    ['198.18.0.0', false],
    ['198.19.255.255', false],
    ['198.17.255.255', true],
    ['198.20.0.0', true],
  ],
  '198.51.100.0/24': [
    ['198.51.100.0', false],
    ['198.51.100.255', false],
    ['198.51.99.255', true],
    ['198.51.101.0', true],
  ],
  '203.0.113.0/24': [
    ['203.0.113.0', false],
    ['203.0.113.255', false],
    ['203.0.112.255', true],
    ['203.0.114.0', true],
  ],
  '240.0.0.0/4': [
    ['240.0.0.0', false],
    ['255.255.255.254', false],
    ['239.255.255.255', false],
  ],
  '255.255.255.255/32': [
    ['255.255.255.255', false],
    ['255.255.255.254', false],
  ],
  '224.0.0.0/4': [
    ['224.0.0.1', false],
    ['239.255.255.255', false],
    ['223.255.255.255', true],
    ['240.0.0.0', false],
  ],

  '::1/128': [
    ['::1', false],
    ['::', false],
    ['::2', false],
  ],
  '::/128': [
    ['::', false],
    ['::1', false],
  ],
  '::ffff:0:0/96': [
    ['::ffff:8.8.8.8', true],
    ['::ffff:127.0.0.1', false],
    ['::ffff:a9fe:a9fe', false],
    ['::ffff:c000:9', true], // 192.0.0.9, globally reachable anycast
    ['::fffe:ffff:ffff', false],
    ['::1:0:0:0', false],
  ],
  '64:ff9b::/96': [
    ['64:ff9b::808:808', true],
    ['64:ff9b::a00:5', false],
    ['64:ff9b::169.254.169.254', false],
    ['64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['64:ff9b::1:0:0', false],
  ],
  '64:ff9b:1::/48': [
    ['64:ff9b:1::', false],
    ['64:ff9b:1::808:808', false],
    ['64:ff9b:1:ffff:ffff:ffff:ffff:ffff', false],
    ['64:ff9b:0:ffff:ffff:ffff:ffff:ffff', false],
    ['64:ff9b:2::', false],
  ],
  '100::/64': [
    ['100::', false],
    ['100::ffff:ffff:ffff:ffff', false],
    ['ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['100:0:0:1::', false],
  ],
  '100:0:0:1::/64': [
    ['100:0:0:1::', false],
    ['100:0:0:1:ffff:ffff:ffff:ffff', false],
    ['100:0:0:2::', false],
  ],
  '2001::/23': [
    ['2001:5::1', false],
    ['2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:200::', true],
  ],
  '2001::/32': [
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', false],
    ['2001::', false],
    ['2001:0:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:1::', false],
  ],
  '2001:1::1/128': [
    ['2001:1::1', true],
    ['2001:1::', false],
    ['2001:1::2', true],
  ],
  '2001:1::2/128': [
    ['2001:1::2', true],
    ['2001:1::1', true],
    ['2001:1::3', true],
  ],
  '2001:1::3/128': [
    ['2001:1::3', true],
    ['2001:1::2', true],
    ['2001:1::4', false],
  ],
  '2001:2::/48': [
    ['2001:2::', false],
    ['2001:2:0:ffff:ffff:ffff:ffff:ffff', false],
    ['2001:1:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['2001:2:1::', false],
  ],
  '2001:3::/32': [
    ['2001:3::', true],
    ['2001:3:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:2:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['2001:4::', false],
  ],
  '2001:4:112::/48': [
    ['2001:4:112::', true],
    ['2001:4:112:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:4:111:ffff:ffff:ffff:ffff:ffff', false],
    ['2001:4:113::', false],
  ],
  '2001:10::/28': [
    ['2001:10::', false],
    ['2001:1f:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['2001:f:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['2001:20::', true],
  ],
  '2001:20::/28': [
    ['2001:20::', true],
    ['2001:2f:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:1f:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['2001:30::', true],
  ],
  '2001:30::/28': [
    ['2001:30::', true],
    ['2001:3f:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:2f:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:40::', false],
  ],
  '2001:db8::/32': [
    ['2001:db8::', false],
    ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:db9::', true],
  ],
  '2002::/16': [
    ['2002:808:808::1', true],
    ['2002:a00:5::1', false],
    ['2002:7f00:1::', false],
    ['2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['2003::', true],
  ],
  '2620:4f:8000::/48': [
    ['2620:4f:8000::', true],
    ['2620:4f:8000:ffff:ffff:ffff:ffff:ffff', true],
    ['2620:4f:7fff:ffff:ffff:ffff:ffff:ffff', true],
    ['2620:4f:8001::', true],
  ],
  '3fff::/20': [
    ['3fff::', false],
    ['3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['3fff:1000::', true],
  ],
  '5f00::/16': [
    ['5f00::', false],
    ['5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['5f01::', false],
  ],
  'fc00::/7': [
    ['fd00::1', false],
    ['fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['fe00::', false],
  ],
  'fe80::/10': [
    ['fe80::1', false],
    ['febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['fec0::', false],
  ],
  '::/0': [
    ['1::1', false],
    ['4000::1', false],
    ['e000::1', false],
    ['::ffff:0:7f00:1', false],
  ],
  '2000::/3': [
    ['2606:4700:4700::1111', true],
    ['2a00:1450:4001:81b::200e', true],
    ['1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['4000::', false],
  ],
  '::/96': [
    ['::808:808', true],
    ['::7f00:1', false],
    ['::a9fe:a9fe', false],
    ['::1:0:0', false],
  ],
  'fec0::/10': [
    ['fec0::1', false],
    ['feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['ff00::', false],
  ],
  'ff00::/8': [
    ['ff02::1', false],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
    ['feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
  ],
};

describe('the special-purpose address table', () => {
  it('has boundary addresses for every block, and no others', () => {
    expect(Object.keys(BOUNDARIES).sort()).toEqual(SPECIAL_ADDRESS_BLOCKS.map((b) => b.prefix).sort());
  });

  it.each(SPECIAL_ADDRESS_BLOCKS.map((block) => [block.prefix, block.name, block] as const))(
    '%s (%s): inside refused or allowed as the table says, and the addresses around it right',
    (prefix, _name, block) => {
      const cases = BOUNDARIES[prefix] ?? [];
      for (const [address, allowed] of cases) expect(isPublicAddress(address), address).toBe(allowed);
      // The first address is inside the block: unless it carries an IPv4 address, the
      // registry's column decides it.
      const [inside] = cases;
      if (inside && block.carriesIpv4At === undefined) expect(inside[1]).toBe(block.globallyReachable === true);
    },
  );
});

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
    expect(problem('http://[fec0::1]/')).toMatch(/reserved address \(fec0::1\)/); // deprecated site-local
    expect(problem('http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/')).toMatch(/reserved address/); // Teredo
    expect(problem('http://[5f00::1]/')).toMatch(/reserved address/); // SRv6 segment identifiers
    expect(problem('http://[2001:4860:4860::8888]/')).toBeNull();
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

  it('outboundRequest: refuses up front, answers a redirect unfollowed, stops at its size and time limits, can be abandoned', async () => {
    const received: { method?: string; body: string }[] = [];
    const server = createServer((req, res) => {
      if (req.url === '/moved') return void res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
      if (req.url === '/big') return void res.end('x'.repeat(2048));
      if (req.url === '/slow') return; // never answers
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        received.push({ method: req.method, body });
        res.setHeader('retry-after', '7');
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = (path: string, policy = open, extra: Partial<OutboundRequestOptions> = {}) =>
      outboundRequest(new URL(`${base}${path}`), { policy, timeoutMs: 300, maxBytes: 1024, ...extra });
    try {
      expect(await get('/')).toMatchObject({ status: 200, body: 'ok', truncated: false });
      expect((await get('/')).headers['retry-after']).toBe('7');
      const posted = await get('/post', open, { method: 'POST', body: '{"a":"é"}' });
      expect(posted.status).toBe(200);
      expect(received.at(-1)).toEqual({ method: 'POST', body: '{"a":"é"}' });
      await expect(get('/', closed)).rejects.toThrow(PrivateAddressError);
      expect(await get('/moved')).toMatchObject({ status: 302, body: '' });
      await expect(get('/big')).rejects.toBeInstanceOf(ResponseTooLargeError);
      expect(await get('/big', open, { overflow: 'truncate', maxBytes: 200 })).toMatchObject({
        status: 200,
        body: 'x'.repeat(200),
        truncated: true,
      });
      await expect(get('/slow')).rejects.toBeInstanceOf(OutboundTimeoutError);
      const abandoned = new AbortController();
      const pending = get('/slow', open, { signal: abandoned.signal, timeoutMs: 5_000 });
      abandoned.abort();
      await expect(pending).rejects.toBeInstanceOf(OutboundAbortedError);
      await expect(get('/', open, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(OutboundAbortedError);
      // Refused before sending, and nothing left armed that could fire later.
      const options = { policy: open, timeoutMs: 50, maxBytes: 1024 };
      await expect(outboundRequest(new URL('ftp://127.0.0.1/'), options)).rejects.toThrow(/http or https only/);
      await expect(outboundRequest(new URL(base), { ...options, headers: { 'x-bad': 'a\nb' } })).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('outboundRequest and the trace', () => {
  it('carries the current trace: its own client span inside a traced span, the caller as it came with tracing off, nothing outside', async () => {
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.traceparent as string | undefined);
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?secret=1`);
    const options = { policy: open, timeoutMs: 2_000, maxBytes: 100 };
    const exported: FinishedSpan[] = [];
    const tracer = new Tracer(
      tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' }, { serviceName: 't' }),
      {
        add: (span) => exported.push(span),
        flush: async () => {},
        shutdown: async () => {},
      },
    );
    try {
      await outboundRequest(url, options);
      let parentSpanId = '';
      await tracer.inSpan('job deliver', {}, async (span) => {
        parentSpanId = span.context.spanId;
        await outboundRequest(url, { ...options, method: 'POST', body: '{}' });
      });
      const caller = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      await withRemoteContext(parseTraceparent(caller) as NonNullable<ReturnType<typeof parseTraceparent>>, () =>
        outboundRequest(url, options),
      );
      expect(seen[0]).toBeUndefined();
      const client = exported.find((span) => span.kind === 'client');
      expect(client).toMatchObject({
        name: 'POST',
        parentSpanId,
        attributes: {
          'http.request.method': 'POST',
          'server.address': '127.0.0.1',
          'url.full': `${url.origin}/hook`,
          'http.response.status_code': 200,
        },
      });
      expect(parseTraceparent(seen[1])).toEqual({
        traceId: client?.context.traceId,
        spanId: client?.context.spanId,
        sampled: true,
      });
      expect(seen[2]).toBe(caller);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

import dns, { type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/**
 * Where Annex may send requests to URLs that its users supplied (webhook receivers,
 * providers' OSB endpoints). With `allowPrivateNetworks` false, a URL whose host is, or
 * resolves to, a loopback, private, link-local (cloud metadata), carrier-grade NAT,
 * multicast or otherwise reserved address is refused, so that such a URL cannot make the
 * broker reach into the network it runs in (server-side request forgery). The check is
 * made on the addresses the connection actually uses (see `guardedLookup`), so a name that
 * resolves elsewhere on the second look (DNS rebinding) is refused too.
 */
export interface OutboundPolicy {
  allowPrivateNetworks: boolean;
}

const blocked = new net.BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use IPv4/IPv6 translation
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

/** The eight 16-bit groups of an IPv6 literal (`::` expanded, a trailing dotted quad folded in). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((group) => Number.parseInt(group, 16));
}

/**
 * The IPv4 address an IPv6 address carries, where its prefix says the packets go to that
 * IPv4 address: IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96), IPv4-translated
 * (::ffff:0:0:0/96), NAT64 (64:ff9b::/96, as DNS64 answers for IPv4-only names) and 6to4
 * (2002::/16). Undefined for any other address.
 */
function embeddedIpv4(groups: readonly number[]): string | undefined {
  const [g0, g1, g2, g3, g4, g5, g6 = 0, g7 = 0] = groups;
  const v4 = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  const zeros = (...values: (number | undefined)[]) => values.every((v) => v === 0);
  if (zeros(g0, g1, g2, g3, g4) && (g5 === 0xffff || g5 === 0)) {
    // ::1 and :: are IPv6's own loopback and unspecified addresses, not IPv4 ones.
    return g5 === 0 && g6 === 0 ? undefined : v4(g6, g7);
  }
  if (zeros(g0, g1, g2, g3) && g4 === 0xffff && g5 === 0) return v4(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && zeros(g2, g3, g4, g5)) return v4(g6, g7);
  if (g0 === 0x2002) return v4(g1 ?? 0, g2 ?? 0);
  return undefined;
}

/** Whether `address` (an IPv4 or IPv6 literal) is one the public internet routes to. */
export function isPublicAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    // Forms that carry an IPv4 address are judged by that address.
    const carried = embeddedIpv4(ipv6Groups(address));
    if (carried) return isPublicAddress(carried);
    return !blocked.check(address, 'ipv6');
  }
  return !blocked.check(address, 'ipv4');
}

/** The host of a URL as a connection sees it: IPv6 literals without their brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * Why `url` may not be called under `policy`, judged without resolving names: an address
 * literal that is not public, or a name that is local by definition (`localhost`,
 * `*.localhost`, `*.local`, `*.internal`). Null when nothing is wrong as far as can be told
 * up front; the addresses a name resolves to are checked when connecting (`guardedLookup`).
 */
export function outboundUrlProblem(url: URL, policy: OutboundPolicy): string | null {
  if (policy.allowPrivateNetworks) return null;
  const host = hostOf(url).toLowerCase().replace(/\.$/, '');
  if (net.isIP(host)) {
    return isPublicAddress(host) ? null : `must not point to a loopback, private or reserved address (${host})`;
  }
  if (host === 'localhost' || /\.(localhost|local|internal)$/.test(host)) {
    return `must not point to a local host name (${host})`;
  }
  return null;
}

/** A refused connection: what `guardedLookup` and `outboundUrlProblem` found. */
export class PrivateAddressError extends Error {
  readonly code = 'EPRIVATEADDRESS';
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for `http.request` / `net.connect` that resolves as usual and refuses the
 * connection (a `PrivateAddressError`) when any address the name resolves to is not
 * public and `policy` does not allow private networks. Address literals never reach a
 * lookup: check them with `outboundUrlProblem` before connecting.
 */
export function guardedLookup(policy: OutboundPolicy) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const refused = policy.allowPrivateNetworks ? undefined : addresses.find((a) => !isPublicAddress(a.address));
      if (refused) {
        // Which address is not said: the message reaches users (delivery logs, OSB errors),
        // and naming internal addresses would map the network for them.
        const message = `${hostname} resolves to a loopback, private or reserved address`;
        return callback(new PrivateAddressError(message), []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}

/** What `guardedGet` read: the status and the body as text. */
export interface GuardedResponse {
  status: number;
  body: string;
}

/** `guardedGet` ran out of time (name `TimeoutError`, as `AbortSignal.timeout` names it). */
export class OutboundTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * A GET of a URL users supplied, under `policy`: the URL is judged up front
 * (`outboundUrlProblem`) and the addresses its name resolves to when connecting
 * (`guardedLookup`), either refusal a `PrivateAddressError`; redirects are not followed
 * (a 3xx is returned as it is); the body is read up to `maxBytes`, and the whole exchange
 * must end within `timeoutMs` (else an `OutboundTimeoutError`).
 */
export function guardedGet(
  url: URL,
  options: { policy: OutboundPolicy; headers: Record<string, string>; timeoutMs: number; maxBytes: number },
): Promise<GuardedResponse> {
  const problem = outboundUrlProblem(url, options.policy);
  if (problem) return Promise.reject(new PrivateAddressError(`${url.origin} ${problem}`));
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new TypeError(`${url.protocol} URLs cannot be fetched (http or https only)`));
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<GuardedResponse>((resolveWith, rejectWith) => {
    let timer: NodeJS.Timeout | undefined;
    // The first outcome stands: an oversized answer still ends, a destroyed request still errs.
    let settled = false;
    const resolve = (value: GuardedResponse) => {
      clearTimeout(timer);
      if (!settled) resolveWith(value);
      settled = true;
    };
    const reject = (error: unknown) => {
      clearTimeout(timer);
      if (!settled) rejectWith(error);
      settled = true;
    };
    let request: http.ClientRequest;
    try {
      request = client.get(
        url,
        { headers: options.headers, lookup: guardedLookup(options.policy), agent: false },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > options.maxBytes) {
              reject(new Error(`the answer is larger than ${options.maxBytes} bytes`));
              request.destroy();
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          response.on('error', reject);
        },
      );
    } catch (error) {
      // Refused before anything was sent (a header value Node will not write, say).
      reject(error);
      return;
    }
    request.on('error', reject);
    timer = setTimeout(
      () => request.destroy(new OutboundTimeoutError(`no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
  });
}

import dns, { type LookupAddress } from 'node:dns';
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

/** Whether `address` (an IPv4 or IPv6 literal) is one the public internet routes to. */
export function isPublicAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    const lower = address.toLowerCase();
    // IPv4-mapped and IPv4-compatible forms carry an IPv4 address: judge that one.
    const mapped = /^::(ffff:)?(\d+\.\d+\.\d+\.\d+)$/.exec(lower)?.[2];
    if (mapped) return isPublicAddress(mapped);
    const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
    if (hex) {
      const high = Number.parseInt(hex[1] as string, 16);
      const low = Number.parseInt(hex[2] as string, 16);
      return isPublicAddress(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`);
    }
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
        const message = `${hostname} resolves to ${refused.address}, a loopback, private or reserved address`;
        return callback(new PrivateAddressError(message), []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}

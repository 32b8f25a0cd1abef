import dns, { type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { traceOutbound } from '@annex/tracing';
import { SPECIAL_ADDRESS_BLOCKS, type SpecialAddressBlock } from './special-addresses.js';

/**
 * Where Annex may send requests to URLs that its users supplied (webhook receivers,
 * providers' OSB endpoints). With `allowPrivateNetworks` false, a URL whose host is, or
 * resolves to, an address that the internet does not route to it (loopback, private,
 * link-local and cloud metadata, carrier-grade NAT, multicast, documentation, reserved...)
 * is refused, so that such a URL cannot make the broker reach into the network it runs in
 * (server-side request forgery). Which addresses those are is the table in
 * `special-addresses.ts`. The check is made on the addresses the connection actually uses
 * (see `guardedLookup`), so a name that resolves elsewhere on the second look (DNS
 * rebinding) is refused too.
 */
export interface OutboundPolicy {
  allowPrivateNetworks: boolean;
}

interface Matcher {
  block: SpecialAddressBlock;
  list: net.BlockList;
}

/** The table's blocks by family, most specific first: the first that holds an address decides. */
const matchers: Record<'ipv4' | 'ipv6', Matcher[]> = { ipv4: [], ipv6: [] };
for (const block of SPECIAL_ADDRESS_BLOCKS) {
  const [network = '', length = ''] = block.prefix.split('/');
  const family = net.isIPv4(network) ? 'ipv4' : 'ipv6';
  const list = new net.BlockList();
  list.addSubnet(network, Number(length), family);
  matchers[family].push({ block, list });
}
const lengthOf = (block: SpecialAddressBlock) => Number(block.prefix.split('/')[1]);
for (const list of Object.values(matchers)) list.sort((a, b) => lengthOf(b.block) - lengthOf(a.block));

/** The most specific block of the table that holds `address` (a literal without a zone). */
function blockOf(address: string, family: 'ipv4' | 'ipv6'): SpecialAddressBlock | undefined {
  // Only the address's own family: a BlockList matches IPv4 rules against IPv4-mapped
  // addresses and back, which would judge every IPv4 address by `::ffff:0:0/96`.
  return matchers[family].find((m) => m.list.check(address, family))?.block;
}

/** An IPv6 literal as a 128-bit number (`::` expanded, a trailing dotted quad folded in). */
function ipv6Value(address: string): bigint {
  let text = address.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill('0'), ...right].reduce(
    (value, group) => (value << 16n) | BigInt(Number.parseInt(group, 16)),
    0n,
  );
}

/** The IPv4 address in bits `at`..`at + 31` of an IPv6 literal. */
function ipv4At(address: string, at: number): string {
  const bits = (ipv6Value(address) >> BigInt(96 - at)) & 0xffffffffn;
  return [24n, 16n, 8n, 0n].map((shift) => String((bits >> shift) & 255n)).join('.');
}

/**
 * Whether `address` (an IPv4 or IPv6 literal) is one the public internet routes to: its
 * most specific block in `SPECIAL_ADDRESS_BLOCKS` is globally reachable (an IPv4 address
 * in none is), or, for the forms that are routed to the IPv4 address they carry, that
 * IPv4 address is public.
 */
export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/%.*$/, '');
  const family = net.isIP(bare);
  if (family === 0) return false;
  const block = blockOf(bare, family === 4 ? 'ipv4' : 'ipv6');
  if (!block) return true;
  if (block.carriesIpv4At !== undefined) return isPublicAddress(ipv4At(bare, block.carriesIpv4At));
  return block.globallyReachable === true;
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

/** What an outbound request read: the status, the headers and the body as text. */
export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body was longer than `maxBytes` and was cut there (only with `overflow: 'truncate'`). */
  truncated: boolean;
}

/** An outbound request ran out of time (name `TimeoutError`, as `AbortSignal.timeout` names it). */
export class OutboundTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** An outbound request's caller gave up (its `signal` was aborted). */
export class OutboundAbortedError extends Error {
  override readonly name = 'AbortError';
}

/** The answer was larger than the caller would read. */
export class ResponseTooLargeError extends Error {
  readonly code = 'ERESPONSETOOLARGE';
}

export interface OutboundRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as it is, with its `content-length`. */
  body?: string;
  /** Where the URL may point; a refusal is a `PrivateAddressError`. */
  policy: OutboundPolicy;
  /** The whole exchange, body read included, ends within this (else an `OutboundTimeoutError`). */
  timeoutMs: number;
  /** The most of the body that is read. */
  maxBytes: number;
  /** Past `maxBytes`: `reject` (a `ResponseTooLargeError`, the default) or `truncate` (stop reading, answer what was read). */
  overflow?: 'reject' | 'truncate';
  /** Keep-alive agents by protocol; by default a connection of its own, closed afterwards. */
  agents?: { 'http:': http.Agent; 'https:': https.Agent };
  /** Aborting it ends the exchange with an `OutboundAbortedError`. */
  signal?: AbortSignal;
}

/**
 * The one way Annex calls a URL that its users or providers supplied (providers' OSB APIs,
 * webhook receivers, OSB brokers being imported): the URL is judged up front
 * (`outboundUrlProblem`) and the addresses its name resolves to when connecting
 * (`guardedLookup`), either refusal a `PrivateAddressError`; only http and https; redirects
 * are not followed (a 3xx is answered as it is); the body is read up to `maxBytes`; the
 * whole exchange ends within `timeoutMs`. The first outcome stands: an oversized answer
 * still ends, a destroyed request still errs, and nothing settles twice. Inside a traced
 * request or job the call carries the trace (`traceparent`) and has a client span of its own.
 */
export function outboundRequest(url: URL, options: OutboundRequestOptions): Promise<OutboundResponse> {
  return traceOutbound(options.method ?? 'GET', url, { ...options.headers }, (headers) =>
    guardedRequest(url, options, headers),
  );
}

function guardedRequest(
  url: URL,
  options: OutboundRequestOptions,
  headers: Record<string, string>,
): Promise<OutboundResponse> {
  const problem = outboundUrlProblem(url, options.policy);
  if (problem) return Promise.reject(new PrivateAddressError(`${url.origin} ${problem}`));
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new TypeError(`${url.protocol} URLs cannot be fetched (http or https only)`));
  }
  if (options.signal?.aborted) return Promise.reject(new OutboundAbortedError('the request was abandoned'));
  const secure = url.protocol === 'https:';
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise<OutboundResponse>((resolveWith, rejectWith) => {
    let timer: NodeJS.Timeout | undefined;
    let request: http.ClientRequest | undefined;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', abandon);
      outcome();
    };
    const reject = (error: unknown) => settle(() => rejectWith(error));
    const abandon = () => {
      reject(new OutboundAbortedError('the request was abandoned'));
      request?.destroy();
    };
    try {
      request = (secure ? https : http).request(
        url,
        {
          method: options.method ?? 'GET',
          headers,
          lookup: guardedLookup(options.policy),
          agent: options.agents ? options.agents[secure ? 'https:' : 'http:'] : false,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const answer = (truncated: boolean) =>
            settle(() =>
              resolveWith({
                status: response.statusCode ?? 0,
                headers: response.headers,
                body: Buffer.concat(chunks).toString('utf8'),
                truncated,
              }),
            );
          response.on('data', (chunk: Buffer) => {
            if (settled) return;
            const room = options.maxBytes - size;
            size += chunk.length;
            if (size <= options.maxBytes) {
              chunks.push(chunk);
              return;
            }
            if (options.overflow === 'truncate') {
              chunks.push(chunk.subarray(0, room));
              answer(true);
            } else {
              reject(new ResponseTooLargeError(`the answer is larger than ${options.maxBytes} bytes`));
            }
            request?.destroy();
          });
          response.on('end', () => answer(false));
          response.on('error', reject);
        },
      );
    } catch (error) {
      // Refused before anything was sent (a header value Node will not write, say).
      reject(error);
      return;
    }
    request.on('error', reject);
    options.signal?.addEventListener('abort', abandon, { once: true });
    timer = setTimeout(() => {
      reject(new OutboundTimeoutError(`no answer within ${options.timeoutMs} ms`));
      request?.destroy();
    }, options.timeoutMs);
    request.end(options.body);
  });
}

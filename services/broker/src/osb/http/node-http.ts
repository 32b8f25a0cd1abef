import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';

/**
 * The request as the OSB handlers see it. The OSB API is served by node:http directly,
 * without express: on a 2-core machine express's per-request work (prototype swaps,
 * layered routing, body-parser, ETags) cost about as much CPU as the broker's own
 * provisioning logic (docs/broker.md, "Performance").
 */
export interface OsbRequest {
  readonly method: string;
  /** The path without the query string, e.g. `/v2/service_instances/abc`. */
  readonly path: string;
  /** Decoded path parameters (`instance_id`, `binding_id`). */
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed JSON body; undefined when there was none or it was not `application/json`. */
  body: unknown;
  /** The peer's address (the failed-login throttle counts per address). */
  readonly remoteAddress: string;
  header(name: string): string | undefined;
}

/** What the OSB handlers answer through. Express's Response fits it too (the provider API uses it). */
export interface OsbResponse {
  status(code: number): OsbResponse;
  json(body: unknown): void;
  setHeader(name: string, value: string): void;
  readonly locals: Record<string, unknown>;
  readonly headersSent: boolean;
}

export class NodeOsbRequest implements OsbRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  params: Readonly<Record<string, string>> = {};
  body: unknown;
  readonly remoteAddress: string;
  readonly #raw: IncomingMessage;

  constructor(raw: IncomingMessage) {
    this.#raw = raw;
    this.method = raw.method ?? 'GET';
    this.remoteAddress = raw.socket.remoteAddress ?? 'unknown';
    const url = raw.url ?? '/';
    const mark = url.indexOf('?');
    this.path = mark < 0 ? url : url.slice(0, mark);
    this.query = mark < 0 ? {} : (parseQuery(url.slice(mark + 1)) as Record<string, string | string[] | undefined>);
  }

  header(name: string): string | undefined {
    const value = this.#raw.headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(', ') : value;
  }
}

export class NodeOsbResponse implements OsbResponse {
  readonly locals: Record<string, unknown> = {};
  #status = 200;
  readonly #raw: ServerResponse;

  constructor(raw: ServerResponse) {
    this.#raw = raw;
  }

  get headersSent(): boolean {
    return this.#raw.headersSent;
  }

  status(code: number): this {
    this.#status = code;
    return this;
  }

  setHeader(name: string, value: string): void {
    this.#raw.setHeader(name, value);
  }

  json(body: unknown): void {
    const payload = JSON.stringify(body) ?? 'null';
    this.#raw.setHeader('content-type', 'application/json; charset=utf-8');
    this.#raw.setHeader('content-length', Buffer.byteLength(payload));
    this.#raw.statusCode = this.#status;
    this.#raw.end(payload);
  }
}

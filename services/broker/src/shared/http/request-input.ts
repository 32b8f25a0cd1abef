import type { IncomingMessage } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { CONTROL_CHARACTER_PROBLEM, idString, isCleanId } from '@annex/contracts/v1';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

// What every API of the broker (OSB under /v2, the /v1 REST API, provider callbacks)
// refuses before any handler runs: JSON bodies too large, too deep or carrying NUL
// characters or unpaired surrogates, and ids or names carrying control characters.
// PostgreSQL stores neither NUL in text nor `\u0000` in jsonb, its jsonb refuses an escaped
// unpaired surrogate (`"\ud800"`, which JSON allows) and a text column would silently keep
// U+FFFD in its place; JSON.stringify overflows the stack on deep nesting: each would
// otherwise surface as a 500 halfway through a request, or as a value not the one sent.

/** How deep a request's JSON may nest (objects and arrays, the body itself counting as one). */
export const MAX_JSON_DEPTH = 64;

/**
 * A request refused before any handler ran: its status, the OSB error key, the field at
 * fault and what is wrong with it. Each API answers it in its own error shape.
 */
export class RequestFailure extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'RequestFailure';
  }
}

export { CONTROL_CHARACTER_PROBLEM, idString, isCleanId };

const NUL = 'NUL characters (\\u0000)';
const UNPAIRED_SURROGATES = 'unpaired surrogates (\\ud800-\\udfff), which are not Unicode text';
// With the `u` flag a surrogate pair is one code point, so only an unpaired half matches.
const UNPAIRED_SURROGATE = /[\ud800-\udfff]/u;

/** What a string anywhere in a JSON body must not contain, if it does: NUL or an unpaired surrogate. */
function forbiddenText(value: string): string | undefined {
  if (value.includes('\u0000')) return NUL;
  if (UNPAIRED_SURROGATE.test(value)) return UNPAIRED_SURROGATES;
  return undefined;
}

/** Refuses an id or name (from a path, a query or a header) that carries a control character. */
export function requireCleanId(field: string, value: string): string {
  if (!isCleanId(value)) throw new RequestFailure(400, 'BadRequest', field, CONTROL_CHARACTER_PROBLEM);
  return value;
}

/**
 * The first thing in a parsed JSON value the broker refuses, as a failure naming its field
 * (`parameters.db.password`): nesting deeper than MAX_JSON_DEPTH, or a NUL character or an
 * unpaired surrogate in any string or key. Recursion stops at MAX_JSON_DEPTH, so it cannot overflow the stack.
 */
export function jsonValueFailure(value: unknown, field = 'body'): RequestFailure | undefined {
  const path: string[] = [];
  const named = () => (path.length === 0 ? field : field === 'body' ? path.join('.') : `${field}.${path.join('.')}`);
  const visit = (current: unknown, depth: number): RequestFailure | undefined => {
    if (typeof current === 'string') {
      const forbidden = forbiddenText(current);
      return forbidden ? new RequestFailure(400, 'BadRequest', named(), `must not contain ${forbidden}`) : undefined;
    }
    if (typeof current !== 'object' || current === null) return undefined;
    if (depth > MAX_JSON_DEPTH) {
      const top = path.length === 0 ? field : field === 'body' ? (path[0] as string) : `${field}.${path[0]}`;
      return new RequestFailure(400, 'BadRequest', top, `nests deeper than ${MAX_JSON_DEPTH} levels`);
    }
    const entries: [string, unknown][] = Array.isArray(current)
      ? current.map((item, index) => [String(index), item])
      : Object.entries(current);
    for (const [key, item] of entries) {
      const forbidden = forbiddenText(key);
      if (forbidden)
        return new RequestFailure(400, 'BadRequest', named(), `must not have a key containing ${forbidden}`);
      path.push(key);
      const failure = visit(item, depth + 1);
      path.pop();
      if (failure) return failure;
    }
    return undefined;
  };
  return visit(value, 1);
}

/**
 * Reads a JSON body: only with an `application/json` content type (otherwise the body
 * stays undefined), any JSON value, UTF-8, identity-encoded, at most `limit` bytes, then
 * refused whole when `jsonValueFailure` finds a problem in it. The one body reader of the
 * broker: the OSB router calls it directly, express routers through `jsonBody`.
 */
export function readJsonBody(raw: IncomingMessage, limit: number): Promise<unknown> {
  const type = raw.headers['content-type'];
  const declared = raw.headers['content-length'];
  const chunked = raw.headers['transfer-encoding'] !== undefined;
  const media = type?.split(';', 1)[0]?.trim().toLowerCase();
  if (media !== 'application/json' || (!chunked && (declared === undefined || declared === '0'))) {
    raw.resume();
    return Promise.resolve(undefined);
  }
  const refuse = (status: number, error: string, problem: string) => {
    raw.resume();
    return Promise.reject(new RequestFailure(status, error, 'body', problem));
  };
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type ?? '')?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    return refuse(415, 'UnsupportedMediaType', `unsupported charset "${charset}"; send UTF-8`);
  }
  const encoding = raw.headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    return refuse(415, 'UnsupportedMediaType', `unsupported content encoding "${encoding}"`);
  }
  const tooLarge = `too large (at most ${limit} bytes)`;
  if (declared !== undefined && Number(declared) > limit) return refuse(413, 'PayloadTooLarge', tooLarge);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    raw.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new RequestFailure(413, 'PayloadTooLarge', 'body', tooLarge));
        return;
      }
      chunks.push(chunk);
    });
    raw.on('error', (error) => {
      if (!failed) reject(error);
      failed = true;
    });
    raw.on('end', () => {
      if (failed) return;
      const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString('utf8');
      if (text.trim() === '') return resolve(undefined);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        reject(new RequestFailure(400, 'MalformedBody', 'body', 'not valid JSON'));
        return;
      }
      const failure = jsonValueFailure(value);
      if (failure) reject(failure);
      else resolve(value);
    });
  });
}

/** Express middleware: `readJsonBody` into `req.body`; its failures go to the router's error handler. */
export function jsonBody(limit: number): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    readJsonBody(req, limit).then(
      (body) => {
        req.body = body;
        next();
      },
      (error: unknown) => next(error),
    );
  };
}

/**
 * Refuses a path whose segments carry control characters once decoded (or are not valid
 * percent-encoding). Every path segment of the broker's APIs is an id or a name.
 */
export function pathFailure(path: string): RequestFailure | undefined {
  for (const segment of path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return new RequestFailure(400, 'BadRequest', 'path', `"${segment}" is not valid percent-encoding`);
    }
    if (!isCleanId(decoded)) return new RequestFailure(400, 'BadRequest', 'path', CONTROL_CHARACTER_PROBLEM);
  }
  return undefined;
}

/** Refuses query parameters whose names or values carry control characters (all are ids, names or flags). */
export function queryFailure(query: Readonly<Record<string, unknown>>): RequestFailure | undefined {
  for (const [name, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value];
    const clean = isCleanId(name) && values.every((item) => typeof item !== 'string' || isCleanId(item));
    if (!clean)
      return new RequestFailure(400, 'BadRequest', isCleanId(name) ? name : 'query', CONTROL_CHARACTER_PROBLEM);
  }
  return undefined;
}

/** Express middleware over `pathFailure` and `queryFailure`, for the routers under `/v1`. */
export const cleanRequestTarget: RequestHandler = (req, _res, next) => {
  const url = req.originalUrl;
  const mark = url.indexOf('?');
  next(
    pathFailure(mark < 0 ? url : url.slice(0, mark)) ??
      (mark < 0 ? undefined : queryFailure(parseQuery(url.slice(mark + 1)))),
  );
};

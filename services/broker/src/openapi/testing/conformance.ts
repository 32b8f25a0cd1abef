/**
 * Holds the broker's REST traffic in tests to its OpenAPI document: every `/v1` request a test
 * makes and its answer are checked against the operation they belong to (Ajv, JSON Schema
 * 2020-12). `startTestBroker` routes its server through `conformance.listener`, so each suite
 * that calls the broker checks the document; a problem fails the suite when it closes the broker.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { type OpenApiDocument, type OpenApiOperation, openApiDocument } from '../domain/document.js';

// ajv-formats is CommonJS: its default export is the function under ESM interop.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

/** One request to the broker and its answer, as they went over the wire. */
export interface Exchange {
  method: string;
  /** The request target: path and query. */
  url: string;
  requestBody: string;
  requestContentType: string | undefined;
  status: number;
  responseBody: string;
  responseContentType: string | undefined;
}

interface CompiledOperation {
  method: string;
  pattern: RegExp;
  operation: OpenApiOperation;
}

let compiled: { operations: CompiledOperation[]; ajv: Ajv2020 } | undefined;
const validators = new Map<unknown, ValidateFunction>();

/** The document's operations and an Ajv holding its components, made once per process. */
function documentChecker() {
  if (compiled) return compiled;
  const document: OpenApiDocument = openApiDocument({ serverUrl: 'http://127.0.0.1' });
  const ajv = new Ajv2020({ strict: true, allErrors: false });
  addFormats(ajv);
  ajv.addSchema({ $id: 'components', $defs: pointedAtComponents(document.components.schemas) });
  const operations: CompiledOperation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    const pattern = new RegExp(`^${path.replace(/\{[A-Za-z]+\}/g, '[^/]+')}$`);
    for (const [method, operation] of Object.entries(methods)) {
      operations.push({ method: method.toUpperCase(), pattern, operation });
    }
  }
  compiled = { operations, ajv };
  return compiled;
}

function pointedAtComponents<T>(schema: T): T {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"components#/$defs/')) as T;
}

function validatorOf(schema: unknown): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) {
    validate = documentChecker().ajv.compile(pointedAtComponents(schema as object));
    validators.set(schema, validate);
  }
  return validate;
}

function firstError(validate: ValidateFunction): string {
  const error = validate.errors?.[0];
  return error ? `${error.instancePath || '(root)'} ${error.message ?? 'invalid'}` : 'invalid';
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/**
 * What is wrong with an exchange against the document, or undefined when it conforms. Only
 * `/v1` is checked (OSB has its own specification). A path the document does not have must be
 * answered 404; an answer's status must be one its operation lists, with the body it
 * documents; a request answered with success must have carried a body and query the
 * operation documents (a request refused with a 4xx may be anything: tests send bad input).
 */
export function conformanceProblem(exchange: Exchange): string | undefined {
  const mark = exchange.url.indexOf('?');
  const path = mark < 0 ? exchange.url : exchange.url.slice(0, mark);
  if (!path.startsWith('/v1/') && path !== '/v1') return undefined;
  const what = `${exchange.method} ${exchange.url} → ${exchange.status}`;
  const { operations } = documentChecker();
  const found = operations.find((op) => op.method === exchange.method && op.pattern.test(path));
  if (!found) {
    return exchange.status === 404 ? undefined : `${what}: no operation of the document has this method and path`;
  }
  const { operation } = found;
  const documented = operation.responses[String(exchange.status)];
  if (!documented) {
    return `${what}: ${operation['x-annex-route']} documents no ${exchange.status} answer (it documents ${Object.keys(operation.responses).join(', ')})`;
  }
  const response =
    '$ref' in documented
      ? {
          content: {
            'application/json': { schema: { $ref: `#/components/schemas/${documented.$ref.split('/').pop()}` } },
          },
        }
      : documented;
  const schema = response.content?.['application/json'].schema;
  if (schema === undefined) {
    if (exchange.responseBody !== '') return `${what}: answered a body where the document has none`;
  } else {
    if (!exchange.responseContentType?.startsWith('application/json')) {
      return `${what}: answered ${exchange.responseContentType ?? 'no content type'}, not application/json`;
    }
    const body = parseJson(exchange.responseBody);
    if (!body.ok) return `${what}: the answer is not JSON`;
    const validate = validatorOf(schema);
    if (!validate(body.value)) return `${what}: the answer is outside the document: ${firstError(validate)}`;
  }

  if (exchange.status >= 400) return undefined;
  const query = mark < 0 ? {} : parseQuery(exchange.url.slice(mark + 1));
  for (const [name, value] of Object.entries(query)) {
    const parameter = operation.parameters?.find((p) => p.in === 'query' && p.name === name);
    if (!parameter) return `${what}: accepted the query parameter "${name}", which the document does not have`;
    const validate = validatorOf(parameter.schema);
    if (typeof value !== 'string' || !validate(value)) {
      return `${what}: accepted the query parameter "${name}" outside the document`;
    }
  }
  for (const parameter of operation.parameters ?? []) {
    if (parameter.in === 'query' && parameter.required && !(parameter.name in query)) {
      return `${what}: accepted a request without the required query parameter "${parameter.name}"`;
    }
  }
  const requestSchema = operation.requestBody?.content['application/json'].schema;
  const sent = exchange.requestBody.trim() !== '' && exchange.requestContentType?.startsWith('application/json');
  if (requestSchema === undefined) {
    if (sent && exchange.requestBody.trim() !== '{}') {
      return `${what}: accepted a request body where the document has none`;
    }
    return undefined;
  }
  if (!sent) {
    return operation.requestBody?.required ? `${what}: accepted a request without its required body` : undefined;
  }
  const body = parseJson(exchange.requestBody);
  if (!body.ok) return `${what}: accepted a request body that is not JSON`;
  const validate = validatorOf(requestSchema);
  if (!validate(body.value)) return `${what}: accepted a request body outside the document: ${firstError(validate)}`;
  return undefined;
}

/**
 * Records what goes through a request listener and checks each exchange when its answer has
 * been sent. `problems` lists what did not conform, in order.
 *
 * @example
 * const conformance = new ConformanceRecorder();
 * server.on('request', conformance.listener(broker.app));
 * // … requests …
 * expect(conformance.problems).toEqual([]);
 */
export class ConformanceRecorder {
  readonly problems: string[] = [];
  /** How many `/v1` exchanges were checked. */
  checked = 0;

  listener(inner: RequestListener): RequestListener {
    return (req: IncomingMessage, res: ServerResponse) => {
      if (!req.url?.startsWith('/v1')) {
        inner(req, res);
        return;
      }
      const requestChunks: Buffer[] = [];
      const responseChunks: Buffer[] = [];
      // The body as the broker reads it: each chunk its reader is handed, without changing
      // when or whether it reads.
      const emit = req.emit.bind(req);
      req.emit = ((event: string, ...args: unknown[]) => {
        if (event === 'data') requestChunks.push(Buffer.from(args[0] as Buffer));
        return emit(event, ...args);
      }) as typeof req.emit;
      const write = res.write.bind(res) as (...args: unknown[]) => boolean;
      const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
      const keep = (chunk: unknown, encoding: unknown) => {
        if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
        responseChunks.push(
          Buffer.isBuffer(chunk)
            ? chunk
            : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'),
        );
      };
      res.write = ((chunk: unknown, encoding?: unknown, callback?: unknown) => {
        keep(chunk, encoding);
        return write(chunk, encoding, callback);
      }) as typeof res.write;
      res.end = ((chunk?: unknown, encoding?: unknown, callback?: unknown) => {
        keep(chunk, encoding);
        return end(chunk, encoding, callback);
      }) as typeof res.end;
      res.on('finish', () => {
        this.record({
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          requestBody: Buffer.concat(requestChunks).toString('utf8'),
          requestContentType: req.headers['content-type'],
          status: res.statusCode,
          responseBody: Buffer.concat(responseChunks).toString('utf8'),
          responseContentType: res.getHeader('content-type')?.toString(),
        });
      });
      inner(req, res);
    };
  }

  /** Checks one exchange, keeping its problem if it has one. */
  record(exchange: Exchange): void {
    this.checked++;
    const problem = conformanceProblem(exchange);
    if (problem) this.problems.push(problem);
  }
}

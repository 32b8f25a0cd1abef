import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CliError } from './client.js';
import { EXIT_CODES } from './exit-codes.js';

// An app's config vars for a runtime: read from the broker's pull endpoint
// (`GET /v1/apps/:app/config-vars`, with its ETag), printed or written as env, JSON or YAML.
// `annex run`, `config:pull` and `config:watch` all read them here.

export const DEFAULT_API_URL = 'http://127.0.0.1:4001';

/** The broker did not answer, or answered with a server error: asking again later may work (exit 3). */
export class BrokerUnavailableError extends CliError {
  constructor(message: string) {
    super(message, EXIT_CODES.unreachable);
    this.name = 'BrokerUnavailableError';
  }
}

/** An app's config vars at a release, and the ETag to ask with next time. */
export interface PulledConfig {
  app: string;
  release: number;
  vars: Record<string, string>;
  etag: string | null;
}

/**
 * Reads the app's config vars from the broker's `/v1` API (the token needs `config:read`).
 * With the ETag of a previous answer, resolves `unchanged` when the app has no newer
 * release. Errors are CliErrors naming what is wrong: the broker unreachable or the token
 * refused (exit 3), the app not found or the scope missing (exit 1).
 */
export function pullConfig(apiUrl: string, token: string | undefined, app: string): Promise<PulledConfig>;
export function pullConfig(
  apiUrl: string,
  token: string | undefined,
  app: string,
  options: { etag: string | null; signal?: AbortSignal },
): Promise<PulledConfig | 'unchanged'>;
export async function pullConfig(
  apiUrl: string,
  token: string | undefined,
  app: string,
  options: { etag?: string | null; signal?: AbortSignal } = {},
): Promise<PulledConfig | 'unchanged'> {
  const url = `${apiUrl.replace(/\/+$/, '')}/v1/apps/${encodeURIComponent(app)}/config-vars`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: {
        accept: 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(options.etag ? { 'if-none-match': options.etag } : {}),
      },
      signal: options.signal
        ? AbortSignal.any([options.signal, AbortSignal.timeout(30_000)])
        : AbortSignal.timeout(30_000),
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    // fetch says only "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND, a timeout).
    const cause = (error as Error & { cause?: NodeJS.ErrnoException }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new BrokerUnavailableError(
      `cannot reach the broker's API at ${apiUrl}: ${reason} (set it with --api or ANNEX_API_URL)`,
    );
  }
  if (response.status === 304) return 'unchanged';
  const text = await response.text();
  let body: { release?: number; vars?: Record<string, string>; error?: string; message?: string };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new BrokerUnavailableError(
      `the broker's API at ${apiUrl} answered ${response.status} with something that is not JSON (is --api the broker?)`,
    );
  }
  if (response.status === 401) {
    throw new CliError(body.message ?? 'the token was refused (401); run `annex login`', EXIT_CODES.unreachable);
  }
  if (response.status === 404) throw new CliError(`app "${app}" not found`, EXIT_CODES.refused);
  if (response.status >= 500)
    throw new BrokerUnavailableError(body.message ?? `the broker answered ${response.status}`);
  if (!response.ok) throw new CliError(body.message ?? `the broker answered ${response.status}`, EXIT_CODES.refused);
  if (typeof body.release !== 'number' || typeof body.vars !== 'object' || body.vars === null) {
    throw new BrokerUnavailableError(`the broker's API at ${apiUrl} answered without config vars`);
  }
  return { app, release: body.release, vars: body.vars, etag: response.headers.get('etag') };
}

export const CONFIG_FORMATS = ['env', 'json', 'yaml'] as const;
export type ConfigFormat = (typeof CONFIG_FORMATS)[number];

export function parseConfigFormat(value: string | undefined): ConfigFormat {
  const format = value ?? 'env';
  if (!(CONFIG_FORMATS as readonly string[]).includes(format)) {
    throw new CliError(`--format must be one of ${CONFIG_FORMATS.join(', ')} (got "${format}")`, EXIT_CODES.usage);
  }
  return format as ConfigFormat;
}

// The first line of an env or YAML file annex wrote; a JSON file says so in its `annex` key.
const HEADER = '# Config vars of app';
const headerLine = (config: PulledConfig) =>
  `${HEADER} ${config.app}, release ${config.release}, written by annex; changes here are overwritten`;

// A value that needs no quotes in any dotenv reader, nor in a shell that sources the file.
const BARE = /^[\w./:@%+,=-]*$/;

/**
 * A value as dotenv readers (Node's --env-file, dotenv, Docker Compose) read it back: bare
 * when it can be; else in single quotes (taken literally, newlines included); else double
 * quotes (which expand `\n`, so only without one) or backticks. A value holding all three
 * quote characters has no env form.
 */
function envValue(name: string, value: string): string {
  if (BARE.test(value)) return value;
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"') && !value.includes('\\n')) return `"${value}"`;
  if (!value.includes('`')) return `\`${value}\``;
  throw new CliError(
    `${name} cannot be written as env: its value holds ', " and \` at once; use --format json or yaml`,
    EXIT_CODES.refused,
  );
}

/**
 * The vars in `format`, as annex writes them: env (`NAME=value` lines, quoted where needed,
 * under a header comment), YAML (the same header, then `"NAME": "value"` with JSON string
 * escapes, which YAML reads alike) or JSON (`{annex: {app, release}, vars: {...}}`: JSON
 * has no comments, so the `annex` key marks the file). Names are sorted.
 */
export function formatConfig(config: PulledConfig, format: ConfigFormat): string {
  const names = Object.keys(config.vars).sort();
  if (format === 'json') {
    const vars = Object.fromEntries(names.map((name) => [name, config.vars[name]]));
    return `${JSON.stringify({ annex: { app: config.app, release: config.release }, vars }, null, 2)}\n`;
  }
  const line =
    format === 'env'
      ? (name: string) => `${name}=${envValue(name, config.vars[name] as string)}`
      : (name: string) => `${JSON.stringify(name)}: ${JSON.stringify(config.vars[name])}`;
  return `${[headerLine(config), ...names.map(line)].join('\n')}\n`;
}

/** Whether `start` (the beginning of a file) is one that annex wrote. */
function writtenByAnnex(start: string): boolean {
  if (start.startsWith(HEADER)) return true;
  // JSON: the `annex` key comes first, as formatConfig writes it.
  return /^\{\s*"annex":\s*\{\s*"app":/.test(start);
}

function readStart(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`, EXIT_CODES.refused);
  }
  try {
    const buffer = Buffer.alloc(256);
    return buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0)).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `content` to `path` in one step: a temporary file beside it (mode 0600, flushed to
 * disk) renamed over it, so a reader sees the old file or the new one, never half of one.
 * Refuses (exit 1) to replace an existing file that annex did not write, unless `force`.
 */
export function writeConfigFile(path: string, content: string, options: { force?: boolean } = {}): void {
  const existing = readStart(path);
  if (existing !== undefined && !options.force && !writtenByAnnex(existing)) {
    throw new CliError(`${path} exists and was not written by annex; pass --force to replace it`, EXIT_CODES.refused);
  }
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temporary, 'wx', 0o600);
    writeSync(fd, content);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temporary, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    throw new CliError(`cannot write ${path}: ${(error as Error).message}`, EXIT_CODES.refused);
  }
}

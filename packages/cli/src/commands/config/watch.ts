import { CliError } from '../../client.js';
import { defineCommand } from '../../command.js';
import {
  BrokerUnavailableError,
  formatConfig,
  type PulledConfig,
  parseConfigFormat,
  pullConfig,
  writeConfigFile,
} from '../../config-pull.js';
import { EXIT_CODES } from '../../exit-codes.js';
import { API_FLAG, APP_FLAG, FORMAT_FLAG } from '../../flags.js';

/** Waits at most this long between two tries while the broker cannot be reached. */
const MAX_BACKOFF_MS = 60_000;

function parseInterval(value: string | undefined): number {
  if (value === undefined) return 10_000;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds < 0.05 || seconds > 3600) {
    throw new CliError(`--interval must be a number of seconds from 0.05 to 3600 (got "${value}")`, EXIT_CODES.usage);
  }
  return Math.round(seconds * 1000);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export default defineCommand({
  id: 'config:watch',
  summary: "keep a file of APP's config vars current until stopped (token scope config:read)",
  description: [
    'Writes the file as config:pull does (mode 0600, replaced in one step, refused over a',
    'file annex did not write unless --force), then asks the broker every --interval',
    'seconds whether the app has a newer release (If-None-Match on the ETag: an unchanged',
    'app costs no values sent) and rewrites the file when it has. While the broker cannot',
    'be reached it retries with a doubling wait (at most 60 s); a refusal (app not found,',
    'token refused, no config:read) ends it. SIGINT or SIGTERM stops it with exit code 0.',
  ].join('\n'),
  args: {},
  flags: {
    app: { ...APP_FLAG, required: true },
    output: { type: 'string', value: 'FILE', short: 'o', required: true, description: 'the file to keep current' },
    format: FORMAT_FLAG,
    interval: { type: 'string', value: 'SECONDS', description: 'how often to ask for a newer release (default 10)' },
    force: { type: 'boolean', description: 'replace FILE even if annex did not write it' },
    api: API_FLAG,
  },
  examples: [
    'config:watch --app web --output .env',
    'config:watch --app web --output config.json --format json --interval 30',
  ],
  async run(ctx) {
    const { app, output, force } = ctx.flags;
    const format = parseConfigFormat(ctx.flags.format);
    const intervalMs = parseInterval(ctx.flags.interval);
    const apiUrl = ctx.flags.api ?? ctx.apiUrl;
    const stop = new AbortController();
    const stopListening = ctx.onSignal(() => stop.abort());
    let etag: string | null = null;
    let waitMs = intervalMs;
    try {
      while (!stop.signal.aborted) {
        try {
          const pulled: PulledConfig | 'unchanged' = await pullConfig(apiUrl, ctx.token, app, {
            etag,
            signal: stop.signal,
          });
          if (pulled !== 'unchanged') {
            writeConfigFile(output, formatConfig(pulled, format), { force });
            etag = pulled.etag;
            const written = { app, release: pulled.release, output, vars: Object.keys(pulled.vars).length };
            if (ctx.json) ctx.print(JSON.stringify(written));
            else ctx.print(`Wrote ${written.vars} config vars of ${app} (v${pulled.release}) to ${output}`);
          }
          waitMs = intervalMs;
        } catch (error) {
          if (stop.signal.aborted) break;
          if (!(error instanceof BrokerUnavailableError)) throw error;
          ctx.warn(`warning: ${error.message}; trying again in ${waitMs / 1000} s`);
          await sleep(waitMs, stop.signal);
          waitMs = Math.min(waitMs * 2, MAX_BACKOFF_MS);
          continue;
        }
        await sleep(intervalMs, stop.signal);
      }
    } finally {
      stopListening();
    }
    return EXIT_CODES.ok;
  },
});

import { CliError, graphqlClient } from './client.js';
import { type Command, type CommandContext, commands } from './commands.js';
import { type CliConfig, DEFAULT_CATALOG_URL } from './config.js';
import { readLogin, writeLogin } from './credentials.js';
import { quietSpinner, terminalSpinner } from './spinner.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Standard error when it is a terminal: where the spinner draws. Absent for pipes and tests. */
  terminal?: { write(chunk: string): unknown };
  /** Whether standard input is a terminal, so a person can answer a question. */
  interactive?: boolean;
}

/** Options that never take a value, so `--wait ai-gateway:starter` keeps the positional. */
const BOOLEAN_OPTIONS = new Set(['json', 'free', 'help', 'wait', 'replace', 'dry-run', 'reveal']);

/** Splits argv into positional arguments and `--name value` / `--name=value` / `--flag` options. */
export function parseArgv(argv: readonly string[]): {
  args: string[];
  options: Record<string, string | string[] | boolean>;
} {
  const args: string[] = [];
  const options: Record<string, string | string[] | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (!token.startsWith('--')) {
      args.push(token);
      continue;
    }
    const [name, inline] = token.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    let value: string | boolean;
    if (inline !== undefined) value = inline;
    else if (BOOLEAN_OPTIONS.has(name) || argv[i + 1] === undefined || argv[i + 1]?.startsWith('--')) value = true;
    else value = argv[++i] as string;
    const previous = options[name];
    options[name] =
      previous === undefined || typeof previous === 'boolean' || typeof value === 'boolean'
        ? value
        : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return { args, options };
}

function help(): string {
  const rows = Object.entries(commands).map(([, c]) => `  ${c.usage}\n      ${c.summary}`);
  return [
    'annex: the Annex marketplace from a terminal',
    '',
    'Usage:',
    '  annex login [--token TOKEN] [--catalog URL]',
    '      store a token (reads it from standard input when --token is absent)',
    ...rows,
    '',
    '--wait polls until the operation ends (exit 1 when it fails or after --timeout SECONDS, default 300).',
    'Every command takes --json. The catalog URL comes from --catalog, ANNEX_CATALOG_URL or the',
    `stored login (default ${DEFAULT_CATALOG_URL}); the token from --token, ANNEX_TOKEN or \`annex login\`.`,
    'Exit codes: 0 done, 1 refused by the API, 2 bad usage, 3 unreachable or unauthenticated.',
  ].join('\n');
}

/**
 * Runs one command line; returns the exit code. `stdin` reads one answer (a line from a
 * terminal, everything from a pipe), after showing `prompt` on a terminal.
 */
export async function runCli(
  argv: readonly string[],
  config: CliConfig,
  io: CliIo,
  stdin?: (prompt?: string) => Promise<string>,
  pollIntervalMs = 500,
): Promise<number> {
  const { args, options } = parseArgv(argv);
  const json = options.json === true;
  const [first, second, ...rest] = args;
  if (!first || first === 'help' || options.help === true) {
    io.stdout(help());
    return first || options.help === true ? 0 : 2;
  }
  const stored = readLogin(config.configDir);
  const catalogUrl =
    (typeof options.catalog === 'string' ? options.catalog : undefined) ??
    config.catalogUrl ??
    stored?.catalogUrl ??
    DEFAULT_CATALOG_URL;
  try {
    if (first === 'login') {
      let token = typeof options.token === 'string' ? options.token : undefined;
      if (!token && stdin) token = (await stdin()).trim();
      if (!token || !/^annex_[a-z]+_/.test(token))
        throw new CliError('expected an Annex token (annex_…) with --token or on standard input', 2);
      // Check the token before storing it: a typo should fail now, not at the next command.
      await graphqlClient(catalogUrl, token).request('{ categories { slug } }');
      const file = writeLogin(config.configDir, { catalogUrl, token });
      if (json) io.stdout(JSON.stringify({ catalogUrl, stored: file }));
      else io.stdout(`Logged in to ${catalogUrl} (token stored in ${file}).`);
      return 0;
    }
    const key = first === 'admin' ? `admin:${second ?? ''}` : first;
    const command: Command | undefined = commands[key];
    if (!command)
      throw new CliError(
        `unknown command "${[first, first === 'admin' ? second : undefined].filter(Boolean).join(' ')}"; see \`annex help\``,
        2,
      );
    const token = (typeof options.token === 'string' ? options.token : undefined) ?? config.token ?? stored?.token;
    const ctx: CommandContext = {
      args: first === 'admin' ? rest : [second, ...rest].filter((a): a is string => a !== undefined),
      options,
      json,
      client: () => graphqlClient(catalogUrl, token),
      print: (text) => io.stdout(text),
      printJson: (value) => {
        io.stdout(JSON.stringify(value, null, 2));
        return undefined;
      },
      spinner: (label) => (io.terminal && !json ? terminalSpinner(io.terminal, label) : quietSpinner),
      ask: io.interactive && stdin ? (question) => stdin(question) : undefined,
      pollIntervalMs,
    };
    return (await command.run(ctx)) ?? 0;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    if (json) io.stdout(JSON.stringify({ error: error.message, details: error.details }));
    else io.stderr([`error: ${error.message}`, ...error.details.map((d) => `  ${d}`)].join('\n'));
    return error.exitCode;
  }
}

import { CliError, graphqlClient } from './client.js';
import type { Command, CommandContext, GLOBAL_FLAGS, Runtime } from './command.js';
import { commands, findCommand } from './commands/index.js';
import { type CliConfig, DEFAULT_CATALOG_URL } from './config.js';
import { DEFAULT_API_URL } from './config-pull.js';
import { readLogin } from './credentials.js';
import { EXIT_CODES, type ExitCode } from './exit-codes.js';
import { commandHelp, overview } from './help.js';
import { closest, parseCommandLine } from './parse.js';
import { quietSpinner, terminalSpinner } from './spinner.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Standard error when it is a terminal: where the spinner draws. Absent for pipes and tests. */
  terminal?: { write(chunk: string): unknown };
  /** Whether standard input is a terminal, so a person can answer a question. */
  interactive?: boolean;
  /**
   * Opens a URL in a browser; resolves false when that failed. Absent where none can be
   * opened (standard output is not a terminal, or there is no graphical session).
   */
  openUrl?: (url: string) => Promise<boolean>;
  /** Where SIGINT, SIGTERM and SIGHUP are heard (the process's signals in `annex`; a fake in tests). */
  signals?: {
    on(signal: NodeJS.Signals, handler: () => void): unknown;
    off(signal: NodeJS.Signals, handler: () => void): unknown;
  };
}

const HANDLED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Reads one answer from standard input, after showing `prompt` on a terminal (no echo when `secret`). */
export type ReadInput = (prompt?: string, options?: { secret?: boolean }) => Promise<string>;

/**
 * Runs one command line; returns the exit code. `stdin` reads one answer (a line from a
 * terminal, everything from a pipe).
 */
export async function runCli(
  argv: readonly string[],
  config: CliConfig,
  io: CliIo,
  stdin?: ReadInput,
  pollIntervalMs = 500,
): Promise<ExitCode | number> {
  // Known before parsing, so that even a usage error is reported as JSON; what follows `--`
  // belongs to the program `annex run` starts.
  const terminator = argv.indexOf('--');
  const json = (terminator === -1 ? argv : argv.slice(0, terminator)).includes('--json');
  try {
    const found = resolveCommand(argv);
    if ('help' in found) {
      io.stdout(found.help);
      return found.code;
    }
    const { command, rest } = found;
    const parsed = parseCommandLine(command, rest);
    if (parsed.help) {
      io.stdout(commandHelp(command));
      return EXIT_CODES.ok;
    }
    const flag = (name: keyof typeof GLOBAL_FLAGS) => parsed.flags[name] as string | undefined;
    const stored = readLogin(config.configDir);
    const catalogUrl = flag('catalog') ?? config.catalogUrl ?? stored?.catalogUrl ?? DEFAULT_CATALOG_URL;
    const token = flag('token') ?? config.token ?? stored?.token;
    const runtime: Runtime = {
      json,
      client: () => graphqlClient(catalogUrl, token),
      catalogUrl,
      configDir: config.configDir,
      print: (text) => io.stdout(text),
      warn: (text) => io.stderr(text),
      printJson: (value) => {
        io.stdout(JSON.stringify(value, null, 2));
        return undefined;
      },
      spinner: (label) => (io.terminal && !json ? terminalSpinner(io.terminal, label) : quietSpinner),
      ask: io.interactive && stdin ? (question) => stdin(question) : undefined,
      readInput: stdin ? (prompt, options) => stdin(prompt, options) : undefined,
      openUrl: io.openUrl,
      pollIntervalMs,
      token,
      apiUrl: config.apiUrl ?? DEFAULT_API_URL,
      environment: config.environment ?? {},
      onSignal: (handler) => {
        const signals = io.signals ?? process;
        const listeners = HANDLED_SIGNALS.map((signal) => [signal, () => handler(signal)] as const);
        for (const [signal, listener] of listeners) signals.on(signal, listener);
        return () => {
          for (const [signal, listener] of listeners) signals.off(signal, listener);
        };
      },
    };
    return (await command.run({ ...runtime, args: parsed.args, flags: parsed.flags } as CommandContext)) ?? 0;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    if (json) io.stdout(JSON.stringify({ error: error.message, details: error.details }));
    else io.stderr([`error: ${error.message}`, ...error.details.map((d) => `  ${d}`)].join('\n'));
    return error.exitCode;
  }
}

/**
 * Finds the command named at the start of `argv` (global flags may come before it):
 * `addons:create`, or `admin` and its own command. `help`, `--help` and no command at all
 * answer help text instead.
 */
function resolveCommand(
  argv: readonly string[],
): { command: Command; rest: string[] } | { help: string; code: ExitCode } {
  const words: number[] = [];
  for (let i = 0; i < argv.length && words.length < 3; i++) {
    const token = argv[i] as string;
    if (!token.startsWith('-')) {
      words.push(i);
      continue;
    }
    if (words.length > 0) break;
    const name = token.replace(/^-+/, '');
    // A global flag's value is not a command name.
    if ((name === 'token' || name === 'catalog') && !token.includes('=')) i++;
  }
  const word = (n: number) => (words[n] === undefined ? undefined : (argv[words[n] as number] as string));
  const first = word(0);
  if (first === undefined) {
    const asked = argv.includes('--help') || argv.includes('-h');
    return { help: overview(commands), code: asked ? EXIT_CODES.ok : EXIT_CODES.usage };
  }
  if (first === 'help') {
    const target = word(1);
    if (target === undefined) return { help: overview(commands), code: EXIT_CODES.ok };
    const id = target === 'admin' ? `admin ${word(2) ?? ''}`.trim() : target;
    return { help: commandHelp(lookup(id)), code: EXIT_CODES.ok };
  }
  const id = first === 'admin' ? `admin ${word(1) ?? ''}`.trim() : first;
  const command = lookup(id);
  const taken = new Set(words.slice(0, first === 'admin' ? 2 : 1));
  return { command, rest: argv.filter((_, i) => !taken.has(i)) };
}

function lookup(id: string): Command {
  const command = findCommand(id);
  if (command) return command;
  const nearest = closest(
    id,
    commands.map((c) => c.id),
  );
  throw new CliError(
    `unknown command "${id}"; ${nearest ? `did you mean \`annex ${nearest}\`? ` : ''}see \`annex help\``,
    EXIT_CODES.usage,
  );
}

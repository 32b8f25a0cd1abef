import type { GraphQLClient } from './client.js';
import type { ExitCode } from './exit-codes.js';
import type { Spinner } from './spinner.js';

// What a command declares (its positional arguments and flags, for parsing and for its
// help) and what it gets when it runs. Parsing is done before `run`, so a misspelled flag
// or a missing argument never reaches the catalog.

/** A flag: `--name` (boolean), or `--name VALUE` (string, repeatable with `multiple`). */
export type FlagSpec =
  | { type: 'boolean'; short?: string; description: string }
  | {
      type: 'string';
      /** The placeholder in usage lines: `--app APP`. */
      value: string;
      short?: string;
      description: string;
      required?: boolean;
      /** Repeatable; every value is kept, in order. */
      multiple?: boolean;
    };

/** A positional argument; the declaration's key is its name in usage lines (`ADDON`). */
export interface ArgSpec {
  description: string;
  optional?: boolean;
  /** Takes every remaining positional; the command checks how many it needs. */
  variadic?: boolean;
}

export type FlagSpecs = Record<string, FlagSpec>;
export type ArgSpecs = Record<string, ArgSpec>;

/** Flags every command takes, declared once. */
export const GLOBAL_FLAGS = {
  json: { type: 'boolean', description: 'print JSON instead of text' },
  token: {
    type: 'string',
    value: 'TOKEN',
    description: 'the API token to use (else ANNEX_TOKEN, else the one `annex login` stored)',
  },
  catalog: {
    type: 'string',
    value: 'URL',
    description: 'the catalog GraphQL endpoint (else ANNEX_CATALOG_URL, else the stored login)',
  },
  help: { type: 'boolean', short: 'h', description: "show this command's usage" },
} as const satisfies FlagSpecs;

type FlagValue<S> = S extends { type: 'boolean' }
  ? boolean
  : S extends { multiple: true }
    ? string[]
    : S extends { required: true }
      ? string
      : string | undefined;

type ArgValue<S> = S extends { variadic: true } ? string[] : S extends { optional: true } ? string | undefined : string;

export type FlagValues<F extends FlagSpecs> = { [K in keyof F]: FlagValue<F[K]> };
export type ArgValues<A extends ArgSpecs> = { [K in keyof A]: ArgValue<A[K]> };

/** What every command may use, whatever it declares. */
export interface Runtime {
  json: boolean;
  /** The catalog client, with the token from --token, ANNEX_TOKEN or the stored login. */
  client(): GraphQLClient;
  /** Where the catalog is, and where `annex login` keeps its credentials. */
  catalogUrl: string;
  configDir: string;
  print(text: string): void;
  /** Prints a line on standard error (a warning the command goes on after). */
  warn(text: string): void;
  /** Prints JSON; returns nothing, so a command can `return ctx.printJson(x)`. */
  printJson(value: unknown): undefined;
  /** A spinner on standard error; inert unless stderr is a terminal and --json is absent. */
  spinner(label: string): Spinner;
  /** Asks a person one question; `undefined` when standard input is not a terminal. */
  ask: ((question: string) => Promise<string>) | undefined;
  /**
   * Reads standard input: one line from a terminal (without echo when `secret`), everything
   * from a pipe. `undefined` when the caller gave no standard input.
   */
  readInput: ((prompt: string, options?: { secret?: boolean }) => Promise<string>) | undefined;
  /** Opens a URL in a browser; `undefined` where none can be opened. Resolves false when it failed. */
  openUrl: ((url: string) => Promise<boolean>) | undefined;
  /** How often `--wait` polls; 500 ms unless a test shortens it. */
  pollIntervalMs: number;
  /** The token from --token, ANNEX_TOKEN or the stored login (for the broker's `/v1` API). */
  token: string | undefined;
  /** The broker's `/v1` API: ANNEX_API_URL, else http://127.0.0.1:4001 (a command's --api wins). */
  apiUrl: string;
  /** The environment annex runs in (empty in tests unless given), for the commands it starts. */
  environment: Readonly<Record<string, string | undefined>>;
  /**
   * Calls `handler` on SIGINT, SIGTERM or SIGHUP instead of ending the process, until the
   * returned function is called.
   */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void;
}

export interface CommandContext<F extends FlagSpecs = FlagSpecs, A extends ArgSpecs = ArgSpecs> extends Runtime {
  args: ArgValues<A>;
  flags: FlagValues<F & typeof GLOBAL_FLAGS>;
}

export interface Command<F extends FlagSpecs = FlagSpecs, A extends ArgSpecs = ArgSpecs> {
  /** What is typed after `annex`: `addons:create`, `admin orgs:create`. */
  id: string;
  /** One line, lower case, for the command list and the top of the command's help. */
  summary: string;
  /** More lines for the command's help, when the summary is not enough. */
  description?: string;
  args: A;
  flags: F;
  /** Whole command lines, without the leading `annex`. */
  examples: string[];
  /**
   * Resolves to the exit code; nothing (`EXIT_CODES.ok`) when the command did what it was
   * asked. A command that runs another program (`run`) resolves to that program's code.
   */
  run(ctx: CommandContext<F, A>): Promise<ExitCode | number | undefined>;
}

/** Declares a command; the declaration types `ctx.args` and `ctx.flags` in its `run`. */
export function defineCommand<const F extends FlagSpecs, const A extends ArgSpecs>(
  command: Command<F, A>,
): Command<F, A> {
  return command;
}

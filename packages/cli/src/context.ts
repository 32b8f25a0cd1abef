import { CliError, expectSuccess, type GraphQLClient } from './client.js';
import type { Spinner } from './spinner.js';

/** What a command gets: its arguments, options, the catalog client and where to write. */
export interface CommandContext {
  args: string[];
  options: Record<string, string | string[] | boolean | undefined>;
  json: boolean;
  client(): GraphQLClient;
  print(text: string): void;
  /** Prints JSON; returns nothing, so a command can `return ctx.printJson(x)`. */
  printJson(value: unknown): undefined;
  /** A spinner on standard error; inert unless stderr is a terminal and --json is absent. */
  spinner(label: string): Spinner;
  /** Asks a person one question; `undefined` when standard input is not a terminal. */
  ask: ((question: string) => Promise<string>) | undefined;
  /** How often `--wait` polls; 500 ms unless a test shortens it. */
  pollIntervalMs: number;
}

export interface Command {
  usage: string;
  summary: string;
  /** Resolves to the exit code; nothing (0) when the command did what it was asked. */
  run(ctx: CommandContext): Promise<number | undefined>;
}

// Only members of a result union may be spread in it, so each mutation names the error
// types it can return that carry a problem list.
export const ERROR = '... on Error { message }';
export const INVALID_INPUT = '... on InvalidInput { problems { path message } }';

/** The last value of `--name`; a usage error (exit 2) naming it when required and absent. */
export function one(ctx: CommandContext, name: string, required = true): string | undefined {
  const value = ctx.options[name];
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  if (typeof last === 'string' && last !== '') return last;
  if (value === true) throw new CliError(`--${name} needs a value`, 2);
  if (required) throw new CliError(`--${name} is required`, 2);
  return undefined;
}

/** Every value of a repeatable `--name`. */
export function many(ctx: CommandContext, name: string): string[] {
  const value = ctx.options[name];
  if (value === undefined) return [];
  if (typeof value === 'boolean') throw new CliError(`--${name} needs a value`, 2);
  return Array.isArray(value) ? value : [value];
}

/** Whether a flag is set (`--name` or `--name=true`). */
export function flag(ctx: CommandContext, name: string): boolean {
  const value = ctx.options[name];
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new CliError(`--${name} takes no value (got "${String(value)}")`, 2);
}

/** The positional argument at `index`, named in the usage error when absent. */
export function arg(ctx: CommandContext, index: number, name: string): string {
  const value = ctx.args[index];
  if (!value) throw new CliError(`missing ${name}`, 2);
  return value;
}

/** Runs a mutation whose field is a result union; throws the typed error as a CliError. */
export async function mutate<T extends { __typename: string }>(
  ctx: CommandContext,
  field: string,
  query: string,
  variables: Record<string, unknown>,
  success: string,
): Promise<T> {
  const data = await ctx.client().request<Record<string, T>>(query, variables);
  return expectSuccess(data[field] as T, success);
}

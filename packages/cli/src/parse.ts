import { parseArgs } from 'node:util';
import { CliError } from './client.js';
import { type Command, type FlagSpec, GLOBAL_FLAGS } from './command.js';
import { EXIT_CODES } from './exit-codes.js';
import { usageLine } from './help.js';

export interface ParsedCommandLine {
  /** `--help` or `-h` was given: the caller prints the command's help and nothing else counts. */
  help: boolean;
  flags: Record<string, string | string[] | boolean | undefined>;
  args: Record<string, string | string[] | undefined>;
}

/**
 * Reads a command's arguments (what follows its name) against its declaration. Every bad
 * input is a usage error (exit 2) naming what is wrong: an unknown flag (with the nearest
 * declared one), a flag without its value or with one it does not take, a missing
 * argument or required flag, a surplus argument.
 *
 * `util.parseArgs` splits the tokens (`--name value`, `--name=value`, `-a value`, `--`);
 * it runs non-strict so that each problem is reported here in the CLI's own words, and
 * nothing it would refuse in strict mode is let through. One difference: a value may start
 * with a single dash (`--grace -1`), so that the value's own check can say what is wrong.
 */
export function parseCommandLine(command: Command, argv: readonly string[]): ParsedCommandLine {
  const specs: Record<string, FlagSpec> = { ...GLOBAL_FLAGS, ...command.flags };
  const { tokens } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(
      Object.entries(specs).map(([name, spec]) => [
        name,
        {
          type: spec.type,
          ...(spec.short ? { short: spec.short } : {}),
          ...(spec.type === 'string' && spec.multiple ? { multiple: true } : {}),
        },
      ]),
    ),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const options = tokens.filter((t) => t.kind === 'option');
  if (options.some((t) => t.name === 'help')) return { help: true, flags: {}, args: {} };

  const flags: ParsedCommandLine['flags'] = {};
  for (const [name, spec] of Object.entries(specs)) {
    flags[name] = spec.type === 'boolean' ? false : spec.multiple ? [] : undefined;
  }
  for (const token of options) {
    const spec = specs[token.name];
    if (!spec) throw unknownFlag(command, token.rawName, Object.keys(specs));
    const shown = token.rawName.startsWith('--') ? token.rawName : `${token.rawName} (--${token.name})`;
    if (spec.type === 'boolean') {
      if (token.value !== undefined)
        throw new CliError(`${shown} takes no value (got "${token.value}")`, EXIT_CODES.usage);
      flags[token.name] = true;
      continue;
    }
    // A value taken from the next token that is itself a flag means this one was given none.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
      throw new CliError(`${shown} needs a value: ${usageFlag(token.name, spec)}`, EXIT_CODES.usage);
    }
    if (spec.multiple) (flags[token.name] as string[]).push(token.value);
    else flags[token.name] = token.value;
  }

  const positionals = tokens.flatMap((t) => (t.kind === 'positional' ? [t.value] : []));
  const args: ParsedCommandLine['args'] = {};
  let next = 0;
  for (const [name, spec] of Object.entries(command.args)) {
    if (spec.variadic) {
      args[name] = positionals.slice(next);
      next = positionals.length;
      continue;
    }
    const value = positionals[next];
    if (value === undefined || value === '') {
      if (!spec.optional) throw new CliError(`missing ${name}; usage: ${usageLine(command)}`, EXIT_CODES.usage);
      args[name] = undefined;
    } else args[name] = value;
    next++;
  }
  const surplus = positionals[next];
  if (surplus !== undefined)
    throw new CliError(`unexpected argument "${surplus}"; usage: ${usageLine(command)}`, EXIT_CODES.usage);

  for (const [name, spec] of Object.entries(command.flags)) {
    const value = flags[name];
    if (spec.type === 'string' && spec.required && (value === undefined || (Array.isArray(value) && !value.length))) {
      throw new CliError(`--${name} is required`, EXIT_CODES.usage);
    }
  }
  return { help: false, flags, args };
}

function usageFlag(name: string, spec: FlagSpec): string {
  return spec.type === 'string' ? `--${name} ${spec.value}` : `--${name}`;
}

function unknownFlag(command: Command, raw: string, known: string[]): CliError {
  const name = raw.replace(/^-+/, '');
  const nearest = closest(name, known);
  return new CliError(
    nearest
      ? `unknown flag ${raw}; did you mean --${nearest}?`
      : `unknown flag ${raw}; see \`annex ${command.id} --help\` for the flags it takes`,
    EXIT_CODES.usage,
  );
}

/**
 * The candidate nearest to `word` when it is near enough to be a typo: within one edit for
 * short words, two for longer ones (adjacent letters swapped count as one edit).
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = word.length <= 4 ? 1 : 2;
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && (!best || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and transpositions. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => rows[i]?.[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, at(i - 2, j - 2) + 1);
      }
      (rows[i] as number[])[j] = distance;
    }
  }
  return at(a.length, b.length);
}

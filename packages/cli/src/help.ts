import { type Command, type FlagSpec, GLOBAL_FLAGS } from './command.js';
import { DEFAULT_CATALOG_URL } from './config.js';
import { scopeHelp } from './scopes.js';

// Help is written from the commands' declarations, so it cannot drift from what is parsed.

/** `annex addons:create SERVICE:PLAN --app APP [--as NAME] [--param KEY=VALUE]... [--wait]` */
export function usageLine(command: Command): string {
  const args = Object.entries(command.args).map(([name, spec]) => {
    const shown = spec.variadic ? `${name}...` : name;
    return spec.optional ? `[${shown}]` : shown;
  });
  const flags = Object.entries(command.flags).map(([name, spec]) => {
    if (spec.type === 'boolean') return `[--${name}]`;
    const shown = `--${name} ${spec.value}`;
    return spec.required ? shown : `[${shown}]${spec.multiple ? '...' : ''}`;
  });
  return ['annex', command.id, ...args, ...flags].join(' ');
}

function flagRows(flags: Record<string, FlagSpec>): [string, string][] {
  return Object.entries(flags).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : '    ';
    const value = spec.type === 'string' ? ` ${spec.value}` : '';
    const notes = [
      ...(spec.type === 'string' && spec.required ? ['required'] : []),
      ...(spec.type === 'string' && spec.multiple ? ['repeatable'] : []),
    ];
    return [`${short}--${name}${value}`, `${spec.description}${notes.length ? ` (${notes.join(', ')})` : ''}`];
  });
}

function aligned(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}

/** One command's help: usage, what it does, its arguments, flags and examples. */
export function commandHelp(command: Command): string {
  const args = Object.entries(command.args).map(([name, spec]): [string, string] => [name, spec.description]);
  const summary = `${command.summary.charAt(0).toUpperCase()}${command.summary.slice(1)}.`;
  const lines = [`Usage: ${usageLine(command)}`, '', summary];
  if (command.description) lines.push('', command.description);
  if (args.length > 0) lines.push('', 'Arguments:', ...aligned(args));
  const own = flagRows(command.flags);
  const global = flagRows(GLOBAL_FLAGS);
  const rows = aligned([...own, ...global]);
  if (own.length > 0) lines.push('', 'Flags:', ...rows.slice(0, own.length));
  lines.push('', 'Global flags:', ...rows.slice(own.length));
  lines.push('', 'Examples:', ...command.examples.map((e) => `  annex ${e}`));
  return lines.join('\n');
}

/** `annex help`: every command with its summary, and what holds for all of them. */
export function overview(commands: readonly Command[]): string {
  return [
    'annex: the Annex marketplace from a terminal',
    '',
    'Usage: annex COMMAND [ARGUMENTS] [FLAGS]',
    '',
    'Commands:',
    ...aligned(commands.map((c) => [c.id, c.summary])),
    '',
    '`annex help COMMAND` or `annex COMMAND --help` shows a command’s arguments, flags and examples.',
    'Every command takes --json, --token TOKEN and --catalog URL. The catalog URL comes from --catalog,',
    `ANNEX_CATALOG_URL or the stored login (default ${DEFAULT_CATALOG_URL}); the token from --token,`,
    'ANNEX_TOKEN or `annex login`.',
    'Exit codes: 0 done, 1 refused by the API, 2 bad usage, 3 unreachable or unauthenticated.',
    '',
    ...scopeHelp(),
  ].join('\n');
}

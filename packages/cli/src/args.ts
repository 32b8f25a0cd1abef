import { CliError } from './client.js';
import { EXIT_CODES } from './exit-codes.js';

// Pure parsing of the apps verbs' arguments: each bad input is a usage error (exit 2)
// naming what is wrong, found before anything is sent.

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `SERVICE:PLAN` → the same string, checked; the catalog resolves the slugs. */
export function parseServicePlan(value: string): string {
  if (!/^[a-z0-9][a-z0-9-]*:[a-z0-9][a-z0-9-]*$/.test(value)) {
    throw new CliError(`expected SERVICE:PLAN such as ai-gateway:starter (got "${value}")`, EXIT_CODES.usage);
  }
  return value;
}

/** A plan slug for `addons:upgrade` (`PLAN` or `SERVICE:PLAN`; the service must then be the add-on's). */
export function parsePlanSlug(value: string): { service?: string; plan: string } {
  const match = /^(?:([a-z0-9][a-z0-9-]*):)?([a-z0-9][a-z0-9-]*)$/.exec(value);
  if (!match) throw new CliError(`expected PLAN or SERVICE:PLAN such as scale (got "${value}")`, EXIT_CODES.usage);
  return match[1] ? { service: match[1], plan: match[2] as string } : { plan: match[2] as string };
}

/**
 * `--param k=v` values → provisioning parameters. A value that is valid JSON is taken as
 * JSON (`size=10` is a number, `ha=true` a boolean, `tags=["a"]` an array), else as a string.
 */
export function parseParams(values: readonly string[]): Record<string, unknown> {
  const parameters: Record<string, unknown> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    const key = eq === -1 ? '' : value.slice(0, eq);
    if (eq === -1 || key.trim() === '')
      throw new CliError(`--param expects KEY=VALUE (got "${value}")`, EXIT_CODES.usage);
    if (Object.hasOwn(parameters, key)) throw new CliError(`--param ${key} is given twice`, EXIT_CODES.usage);
    const raw = value.slice(eq + 1);
    let parsed: unknown = raw;
    try {
      parsed = JSON.parse(raw);
    } catch {
      // not JSON: the string as typed
    }
    parameters[key] = parsed;
  }
  return parameters;
}

/** `config:set` arguments `K=V ...` → vars; values stay strings, `=` may appear in them. */
export function parseAssignments(values: readonly string[]): Record<string, string> {
  if (values.length === 0) throw new CliError('expected at least one KEY=VALUE', EXIT_CODES.usage);
  const vars: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq === -1) throw new CliError(`expected KEY=VALUE (got "${value}")`, EXIT_CODES.usage);
    const name = value.slice(0, eq);
    checkVarName(name);
    if (Object.hasOwn(vars, name)) throw new CliError(`${name} is given twice`, EXIT_CODES.usage);
    vars[name] = value.slice(eq + 1);
  }
  return vars;
}

/** `config:unset` arguments → names, checked. */
export function parseVarNames(values: readonly string[]): string[] {
  if (values.length === 0) throw new CliError('expected at least one config var name', EXIT_CODES.usage);
  for (const name of values) checkVarName(name);
  return [...new Set(values)];
}

function checkVarName(name: string): void {
  if (!VAR_NAME.test(name)) {
    throw new CliError(
      `"${name}" is not a config var name (letters, digits and _, not starting with a digit)`,
      EXIT_CODES.usage,
    );
  }
}

/** A release version: `v3` or `3`. */
export function parseVersion(value: string): number {
  const match = /^v?(\d{1,9})$/i.exec(value);
  const version = match ? Number(match[1]) : 0;
  if (version < 1) throw new CliError(`expected a release version such as v3 or 3 (got "${value}")`, EXIT_CODES.usage);
  return version;
}

/** A whole number for an option such as `--timeout` (seconds) or `--limit`, within bounds. */
export function parseWholeNumber(option: string, value: string, min: number, max: number, unit = ''): number {
  const number = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= min && number <= max)) {
    const what = unit ? `whole ${unit}` : 'a whole number';
    throw new CliError(`--${option} expects ${what} from ${min} to ${max} (got "${value}")`, EXIT_CODES.usage);
  }
  return number;
}

/** An attachment name for `--as`: what prefixes the service's vars (`DATABASE` → `DATABASE_URL`). */
export function parseAttachmentName(value: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(value)) {
    throw new CliError(
      `--as expects a name such as DATABASE (letters, digits and _) (got "${value}")`,
      EXIT_CODES.usage,
    );
  }
  return value.toUpperCase();
}

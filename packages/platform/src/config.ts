import { type TracingConfig, TracingConfigError, tracingConfig } from '@annex/tracing';
import * as z from 'zod';
import type { OutboundPolicy } from './outbound.js';
import { SecretBox } from './secrets.js';

/** Start-up stops with this when the environment is wrong; the message names each variable. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly { variable: string; message: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * A process's start-up configuration: `load()`'s result, or — when it throws a
 * `ConfigError` — the message naming each wrong variable on stderr and exit code 1.
 *
 * @example
 * const config = configOrExit(() => loadCatalogConfig(process.env));
 */
export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * Parses environment variables once, with a zod object schema whose keys are the
 * variable names, and freezes the result. Empty strings count as unset.
 *
 * @example
 * const env = parseEnvironment(z.object({ PORT: port(4000) }), process.env);
 */
export function parseEnvironment<S extends z.ZodObject>(
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
): Readonly<z.infer<S>> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '(environment)'),
        message: issue.message,
      })),
    );
  }
  return Object.freeze(result.data);
}

/** A TCP port with a default. */
export function port(defaultPort: number) {
  return z.coerce.number().int().min(0).max(65535).default(defaultPort);
}

const booleanText = () =>
  z
    .enum(['true', 'false', '1', '0'], { message: 'expected true or false' })
    .transform((v) => v === 'true' || v === '1');

/** `true`/`false`/`1`/`0` with a default. */
export function flag(defaultValue: boolean) {
  return booleanText().default(defaultValue);
}

/** `true`/`false`/`1`/`0`, or unset: the caller decides what unset means (e.g. "follow NODE_ENV"). */
export function optionalFlag() {
  return booleanText().optional();
}

/**
 * Where URLs that users supply may point (`ANNEX_ALLOW_PRIVATE_NETWORKS`, shared by the
 * broker and the catalog): as set, else open except under NODE_ENV=production.
 */
export function outboundPolicyOf(allowPrivateNetworks: boolean | undefined, nodeEnv: string): OutboundPolicy {
  return Object.freeze({ allowPrivateNetworks: allowPrivateNetworks ?? nodeEnv !== 'production' });
}

export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

/** A PostgreSQL connection URL. */
export const postgresUrl = z
  .string()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), { message: 'expected a postgres:// or postgresql:// URL' });

/** `ANNEX_ENCRYPTION_KEYS`: SecretBox keys, `id:base64key[,id:base64key...]`, the first one sealing. */
export const encryptionKeySpec = z.string().refine(
  (spec) => {
    try {
      SecretBox.fromSpec(spec);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected id:base64key[,id:base64key...] with 32-byte keys (see SecretBox.generateSpec)' },
);

/**
 * The `OTEL_*` variables (`tracingConfig` of @annex/tracing) as part of a service's
 * configuration: a wrong one is a `ConfigError` naming it. `serviceName` is the default
 * `service.name`.
 *
 * @example
 * const tracing = tracingFromEnvironment(env, 'annex-broker');
 */
export function tracingFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  serviceName: string,
): TracingConfig {
  try {
    return tracingConfig(env, { serviceName });
  } catch (error) {
    if (error instanceof TracingConfigError) {
      throw new ConfigError([{ variable: error.variable, message: error.problem }]);
    }
    throw error;
  }
}

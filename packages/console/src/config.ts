import { ConfigError, encryptionKeySpec, logLevel, parseEnvironment, port, postgresUrl } from '@annex/platform';
import * as z from 'zod';

const httpUrl = z
  .string()
  .refine((v) => /^https?:\/\/[^/]/.test(v) && URL.canParse(v), { message: 'expected an http:// or https:// URL' })
  .transform((v) => v.replace(/\/+$/, ''));

const schema = z.object({
  CONSOLE_HOST: z.string().min(1).default('127.0.0.1'),
  CONSOLE_PORT: port(4002),
  /** The console's URL as browsers reach it: the OIDC redirect URI base, cookie security. */
  CONSOLE_PUBLIC_URL: httpUrl.optional(),
  /** The catalog's GraphQL API, which the console calls with the session's token. */
  CONSOLE_CATALOG_URL: httpUrl.default('http://127.0.0.1:4000'),
  /** Lifetime of a session and of the API token it holds. */
  CONSOLE_SESSION_TTL_SECONDS: z.coerce.number().int().min(60).max(604_800).default(28_800),
  /** The organization a new OIDC user joins when the ID token has no `annex_orgs` claim. */
  CONSOLE_DEFAULT_ORG: z.string().min(1).optional(),
  /**
   * The providers (slugs, comma-separated) whose portal the development sign-in's user sees,
   * as their admin; `npm start` names the demo catalog's. Ignored with an identity provider.
   */
  CONSOLE_DEVELOPMENT_PROVIDERS: z
    .string()
    .optional()
    .transform((v) => (v === undefined ? undefined : v.split(/[\s,]+/).filter(Boolean))),
  OIDC_ISSUER_URL: httpUrl.optional(),
  OIDC_CLIENT_ID: z.string().min(1).optional(),
  OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  NODE_ENV: z.string().default('development'),
  /** The console alone (`npm run start -w @annex/console`): the catalog's PostgreSQL and keys. */
  DATABASE_URL: postgresUrl.optional(),
  ANNEX_ENCRYPTION_KEYS: encryptionKeySpec.optional(),
  LOG_LEVEL: logLevel,
});

export interface ConsoleConfig {
  host: string;
  port: number;
  /** Unset: `http://<host>:<port>` once listening. */
  publicUrl: string | undefined;
  catalogUrl: string;
  sessionTtlSeconds: number;
  defaultOrganization: string | undefined;
  /** Providers the development sign-in's user is an admin of (unset: none). */
  developmentProviders: readonly string[] | undefined;
  /** Null: the development sign-in is offered instead (never in production). */
  oidc: { issuerUrl: string; clientId: string; clientSecret: string } | null;
  /** Read by the console's own process only; `npm start` shares its database and keys. */
  databaseUrl: string | undefined;
  encryptionKeys: string | undefined;
  logLevel: z.infer<typeof logLevel>;
}

/**
 * Reads the console's environment once. With `OIDC_ISSUER_URL` the client id and secret
 * are required; without it the console offers the development sign-in, which production
 * refuses.
 */
export function loadConsoleConfig(env: Readonly<Record<string, string | undefined>>): Readonly<ConsoleConfig> {
  const e = parseEnvironment(schema, env);
  const problems: { variable: string; message: string }[] = [];
  if (e.OIDC_ISSUER_URL) {
    if (!e.OIDC_CLIENT_ID) problems.push({ variable: 'OIDC_CLIENT_ID', message: 'required with OIDC_ISSUER_URL' });
    if (!e.OIDC_CLIENT_SECRET)
      problems.push({ variable: 'OIDC_CLIENT_SECRET', message: 'required with OIDC_ISSUER_URL' });
  } else if (e.NODE_ENV === 'production') {
    problems.push({
      variable: 'OIDC_ISSUER_URL',
      message: 'required when NODE_ENV=production (the development sign-in is for development only)',
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    host: e.CONSOLE_HOST,
    port: e.CONSOLE_PORT,
    publicUrl: e.CONSOLE_PUBLIC_URL,
    catalogUrl: e.CONSOLE_CATALOG_URL,
    sessionTtlSeconds: e.CONSOLE_SESSION_TTL_SECONDS,
    defaultOrganization: e.CONSOLE_DEFAULT_ORG ?? (e.OIDC_ISSUER_URL ? undefined : 'demo'),
    developmentProviders: e.CONSOLE_DEVELOPMENT_PROVIDERS,
    oidc: e.OIDC_ISSUER_URL
      ? {
          issuerUrl: e.OIDC_ISSUER_URL,
          clientId: e.OIDC_CLIENT_ID as string,
          clientSecret: e.OIDC_CLIENT_SECRET as string,
        }
      : null,
    databaseUrl: e.DATABASE_URL,
    encryptionKeys: e.ANNEX_ENCRYPTION_KEYS,
    logLevel: e.LOG_LEVEL,
  });
}

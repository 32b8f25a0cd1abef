import { parseEnvironment, port, postgresUrl } from '@annex/platform';
import * as z from 'zod';

const schema = z.object({
  /** The PostgreSQL server the provider creates databases on, as a role that may create databases and roles. */
  EXAMPLE_POSTGRES_URL: z
    .string({ error: 'required: the PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres' })
    .pipe(postgresUrl),
  /** Where the provider listens (on 127.0.0.1). */
  EXAMPLE_POSTGRES_PORT: port(4101),
  /** The Annex broker whose signed requests the provider accepts. */
  ANNEX_BROKER_URL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).default('http://127.0.0.1:4001'),
});

export type PostgresExampleConfig = Readonly<z.infer<typeof schema>>;

/** Reads the example's environment once; throws a ConfigError naming each bad variable. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): PostgresExampleConfig {
  return parseEnvironment(schema, env);
}

import { flag, logLevel, parseEnvironment, port, postgresUrl } from '@annex/platform';
import * as z from 'zod';

const schema = z.object({
  /** Where the embedded database and its encryption keys live. */
  ANNEX_DATA_DIR: z.string().min(1).default('.annex'),
  /** PostgreSQL instead of the embedded database. */
  DATABASE_URL: postgresUrl.optional(),
  /** Publish the demo catalog on start (idempotent: an unchanged manifest is not republished). */
  ANNEX_SEED_DEMO: flag(true),
  LOG_LEVEL: logLevel,
  /** Where the example providers listen (127.0.0.1); the demo catalog points at these ports. */
  EXAMPLE_POSTGRES_PORT: port(4101),
  EXAMPLE_REDIS_PORT: port(4102),
  EXAMPLE_AI_PORT: port(4103),
  /** Runs the PostgreSQL example provider, creating databases on this server (as a role that may create databases and roles). */
  EXAMPLE_POSTGRES_URL: postgresUrl.optional(),
  /** Runs the Redis example provider on this server (Redis 6+ with ACLs, as a user that may manage them). */
  EXAMPLE_REDIS_URL: z
    .string()
    .refine((v) => /^rediss?:\/\//.test(v), { message: 'expected a redis:// or rediss:// URL' })
    .optional(),
  /** Runs the AI gateway example (it needs no server of its own). */
  EXAMPLE_AI_ENABLED: flag(true),
});

export type LocalConfig = Readonly<z.infer<typeof schema>>;

/** The all-in-one process's own settings; each service still reads its own config. */
export function loadLocalConfig(env: Readonly<Record<string, string | undefined>>): LocalConfig {
  return parseEnvironment(schema, env);
}

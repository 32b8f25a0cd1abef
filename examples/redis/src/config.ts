import { parseEnvironment, port } from '@annex/platform';
import * as z from 'zod';

const schema = z.object({
  /** The Redis server (≥ 6, ACLs) the provider creates users and key spaces on, as an admin user. */
  EXAMPLE_REDIS_URL: z
    .string({ error: 'required: the Redis server, e.g. redis://127.0.0.1:6379' })
    .refine((v) => /^rediss?:\/\//.test(v), { message: 'expected a redis:// or rediss:// URL' }),
  /** Where the provider listens (on 127.0.0.1). */
  EXAMPLE_REDIS_PORT: port(4102),
  /** The Annex broker whose signed requests the provider accepts. */
  ANNEX_BROKER_URL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).default('http://127.0.0.1:4001'),
});

export type RedisExampleConfig = Readonly<z.infer<typeof schema>>;

/** Reads the example's environment once; throws a ConfigError naming each bad variable. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): RedisExampleConfig {
  return parseEnvironment(schema, env);
}

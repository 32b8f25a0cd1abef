import type { Redis } from 'ioredis';
import { aclRules } from './acl.js';
import { keyPrefix, userPrefix } from './names.js';
import type { RedisPlan } from './plans.js';

/**
 * What the provider does in Redis, as its admin connection: ACL users per binding, the
 * instance's keys, memory measurement. Every step is idempotent.
 */
export class Keyspace {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** The ACL users of an instance (found by their name prefix). */
  async users(instanceId: string): Promise<string[]> {
    const all = (await this.#redis.call('ACL', 'USERS')) as string[];
    return all.filter((name) => name.startsWith(userPrefix(instanceId))).sort();
  }

  /** Creates (or, on a retry, resets) a binding's user with a new password. */
  async createUser(instanceId: string, user: string, password: string, plan: RedisPlan): Promise<void> {
    await this.#redis.call(
      'ACL',
      'SETUSER',
      user,
      'reset',
      'on',
      `>${password}`,
      ...aclRules(keyPrefix(instanceId), plan),
    );
    await this.#persist();
  }

  /** Applies a plan to every user of the instance (passwords kept). */
  async applyPlan(instanceId: string, plan: RedisPlan): Promise<void> {
    for (const user of await this.users(instanceId)) {
      await this.#redis.call('ACL', 'SETUSER', user, ...aclRules(keyPrefix(instanceId), plan));
    }
    await this.#persist();
  }

  /** Deletes users; Redis also closes the connections they authenticated. */
  async deleteUsers(users: string[]): Promise<void> {
    if (users.length === 0) return;
    await this.#redis.call('ACL', 'DELUSER', ...users);
    await this.#persist();
  }

  /** Deletes every key of the instance; returns how many. */
  async deleteKeys(instanceId: string): Promise<number> {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', `${keyPrefix(instanceId)}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await this.#redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  }

  /**
   * The instance's memory as `MEMORY USAGE` reports it, summed over at most `maxKeys` keys
   * (`complete: false` when there were more). Redis cannot cap memory per key prefix: this
   * measures, it does not enforce.
   */
  async memoryUsage(instanceId: string, maxKeys = 10_000): Promise<{ bytes: number; keys: number; complete: boolean }> {
    let bytes = 0;
    let keys = 0;
    let cursor = '0';
    do {
      const [next, batch] = await this.#redis.scan(cursor, 'MATCH', `${keyPrefix(instanceId)}:*`, 'COUNT', 1000);
      cursor = next;
      const measured = batch.slice(0, maxKeys - keys);
      const pipeline = this.#redis.pipeline();
      for (const key of measured) pipeline.call('MEMORY', 'USAGE', key);
      for (const [error, used] of (await pipeline.exec()) ?? []) {
        if (!error && typeof used === 'number') bytes += used;
      }
      keys += measured.length;
      if (measured.length < batch.length || (keys >= maxKeys && cursor !== '0')) {
        return { bytes, keys, complete: false };
      }
    } while (cursor !== '0');
    return { bytes, keys, complete: true };
  }

  // With an `aclfile`, users survive a Redis restart only once saved; without one, ACL SAVE
  // fails and users live as long as the server process (see the README).
  async #persist(): Promise<void> {
    try {
      await this.#redis.call('ACL', 'SAVE');
    } catch (error) {
      if (!/not configured to use an ACL file/i.test((error as Error).message)) throw error;
    }
  }
}

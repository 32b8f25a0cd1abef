import type { BindingRecord, InstanceRecord, OperationRecord, ProviderStore, ReplayStore } from '@annex/sdk';
import type { Redis } from 'ioredis';

// Insert unless a record that is not `deleted` exists, atomically (the SDK's insert contract).
const INSERT_UNLESS_LIVE = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and decoded.state ~= 'deleted' then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1`;

/**
 * The SDK's protocol state (instances, bindings, operations) kept in Redis itself, under a
 * reserved prefix no binding's ACL user can reach, so a restart of the provider loses nothing.
 *
 * @example
 * const store = new RedisStore(new Redis(redisUrl), 'annex-redis-provider');
 * defineProvider({ manifest, store, ...handlers });
 */
export class RedisStore implements ProviderStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(prefix)) throw new TypeError(`invalid store prefix "${prefix}"`);
    this.#redis = redis;
    this.#prefix = prefix;
  }

  // Ids are the broker's and may hold any character: encode them so keys cannot collide.
  #key(kind: 'instance' | 'binding' | 'operation', ...ids: string[]): string {
    return `${this.#prefix}:${kind}:${ids.map(encodeURIComponent).join('/')}`;
  }

  async #get<T>(key: string): Promise<T | undefined> {
    const text = await this.#redis.get(key);
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  async #insert(key: string, record: unknown): Promise<boolean> {
    return (await this.#redis.eval(INSERT_UNLESS_LIVE, 1, key, JSON.stringify(record))) === 1;
  }

  getInstance(id: string) {
    return this.#get<InstanceRecord>(this.#key('instance', id));
  }
  insertInstance(record: InstanceRecord) {
    return this.#insert(this.#key('instance', record.id), record);
  }
  async saveInstance(record: InstanceRecord) {
    await this.#redis.set(this.#key('instance', record.id), JSON.stringify(record));
  }
  async removeInstance(id: string) {
    await this.#redis.del(this.#key('instance', id));
  }
  getBinding(instanceId: string, bindingId: string) {
    return this.#get<BindingRecord>(this.#key('binding', instanceId, bindingId));
  }
  insertBinding(record: BindingRecord) {
    return this.#insert(this.#key('binding', record.instanceId, record.id), record);
  }
  async saveBinding(record: BindingRecord) {
    await this.#redis.set(this.#key('binding', record.instanceId, record.id), JSON.stringify(record));
  }
  async removeBinding(instanceId: string, bindingId: string) {
    await this.#redis.del(this.#key('binding', instanceId, bindingId));
  }
  getOperation(instanceId: string, bindingId: string | null, operation: string) {
    return this.#get<OperationRecord>(this.#key('operation', instanceId, bindingId ?? '', operation));
  }
  async saveOperation(record: OperationRecord) {
    await this.#redis.set(
      this.#key('operation', record.instanceId, record.bindingId ?? '', record.operation),
      JSON.stringify(record),
    );
  }
}

/**
 * Remembers each accepted request token id (`jti`) in Redis until the token expires, so that a
 * token is refused after a restart of the provider, or by another replica, too.
 *
 * @example
 * defineProvider({ manifest, broker: { url, replayStore: new RedisReplayStore(redis, 'annex-redis-provider') }, ...handlers });
 */
export class RedisReplayStore implements ReplayStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async claim(jti: string, expiresAt: number): Promise<boolean> {
    const seconds = Math.max(1, Math.ceil(expiresAt - Date.now() / 1000));
    const set = await this.#redis.set(`${this.#prefix}:jti:${encodeURIComponent(jti)}`, '1', 'EX', seconds, 'NX');
    return set === 'OK';
  }
}

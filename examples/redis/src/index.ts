export { aclRules } from './acl.js';
export { Keyspace } from './keyspace.js';
export { manifest } from './manifest.js';
export { bindingUser, keyPrefix, userPrefix } from './names.js';
export { PLANS, planById, type RedisPlan } from './plans.js';
export { createRedisProvider, type RedisProviderOptions, type RunningExample, startExample } from './provider.js';
export { RedisReplayStore, RedisStore } from './store.js';

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BindResult, defineProvider, type Provider, type ProviderManifestInput } from '@annex/sdk';
import express from 'express';
import { Redis } from 'ioredis';
import { Keyspace } from './keyspace.js';
import { manifest } from './manifest.js';
import { bindingUser, keyPrefix } from './names.js';
import { planById } from './plans.js';
import { RedisReplayStore, RedisStore } from './store.js';

export interface RedisProviderOptions {
  /** The provider's public URL (its manifest's `osb.url`). */
  url: string;
  /** The Annex broker whose signed requests the provider accepts. */
  brokerUrl: string;
  /** The Redis server (≥ 6, with ACLs) as a user that may run ACL, SCAN and UNLINK on every key. */
  redisUrl: string;
  /** Where the provider keeps its own state in that Redis (default `annex-redis-provider`). */
  stateKeyPrefix?: string;
}

/**
 * The Redis provider: each instance a key prefix, each binding an ACL user limited to it.
 * Its protocol state lives in the same Redis under a reserved prefix, so a restart loses nothing.
 *
 * @example
 * const { provider, close } = createRedisProvider({ url, brokerUrl, redisUrl: 'redis://127.0.0.1:6379' });
 * app.use(provider.router());
 */
export function createRedisProvider(options: RedisProviderOptions): {
  provider: Provider;
  redis: Redis;
  keyspace: Keyspace;
  connect(): Promise<void>;
  close(): Promise<void>;
} {
  const endpoint = new URL(options.redisUrl);
  if (!['redis:', 'rediss:'].includes(endpoint.protocol)) {
    throw new TypeError(`the Redis URL must start with redis:// or rediss://, not ${endpoint.protocol}//`);
  }
  // Binding users may not SELECT (it would let them leave their key space), so apps land in database 0.
  if (!['', '/', '/0'].includes(endpoint.pathname)) {
    throw new TypeError(`the Redis example serves database 0 only, not ${endpoint.pathname.slice(1)}`);
  }
  const redis = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  // Once connected, ioredis reconnects by itself; say so when the connection drops.
  let connected = false;
  redis.on('error', (error: Error) => {
    if (connected) console.error(`[annex-redis] Redis connection: ${error.message}`);
  });
  const keyspace = new Keyspace(redis);
  const stateKeyPrefix = options.stateKeyPrefix ?? 'annex-redis-provider';
  const host = endpoint.hostname;
  const port = endpoint.port ? Number(endpoint.port) : 6379;

  const deprovision = async (instanceId: string) => {
    // Users first: that closes their connections, so no key is written after the sweep.
    await keyspace.deleteUsers(await keyspace.users(instanceId));
    await keyspace.deleteKeys(instanceId);
  };

  const provider = defineProvider({
    manifest: manifest(options.url),
    broker: { url: options.brokerUrl, replayStore: new RedisReplayStore(redis, stateKeyPrefix) },
    store: new RedisStore(redis, stateKeyPrefix),

    // Nothing to create: the key prefix exists as soon as the instance does; users come with bindings.
    provision: async ({ instanceId, plan }) => {
      const limits = planById(plan.id);
      return { metadata: { keyPrefix: `${keyPrefix(instanceId)}:`, memoryBytes: limits.memoryBytes } };
    },

    update: async ({ instanceId, plan, planChanged }) => {
      if (planChanged) await keyspace.applyPlan(instanceId, planById(plan.id));
    },

    deprovision: ({ instanceId }) => deprovision(instanceId),

    bind: async ({ instanceId, bindingId, instance }): Promise<BindResult> => {
      const username = bindingUser(instanceId, bindingId);
      const password = randomBytes(32).toString('hex');
      await keyspace.createUser(instanceId, username, password, planById(instance.planId));
      const url = new URL(`${endpoint.protocol}//${host}`);
      url.port = String(port);
      url.username = username;
      url.password = password;
      const prefix = `${keyPrefix(instanceId)}:`;
      return {
        credentials: { REDIS_URL: url.toString(), REDIS_KEY_PREFIX: prefix, host, port, username, password },
        endpoints: [{ host, ports: [String(port)], protocol: 'tcp' }],
      };
    },

    unbind: async ({ instanceId, bindingId }) => {
      await keyspace.deleteUsers([bindingUser(instanceId, bindingId)]);
    },

    // The memory figure, measured now: Redis has no per-prefix limit to read back.
    getInstance: async ({ instance }) => {
      const plan = planById(instance.planId);
      const used = await keyspace.memoryUsage(instance.id);
      return {
        metadata: {
          ...(instance.metadata ?? {}),
          memory: {
            limitBytes: plan.memoryBytes,
            usedBytes: used.bytes,
            keys: used.keys,
            complete: used.complete,
            enforced: false,
          },
        },
      };
    },
  });

  return {
    provider,
    redis,
    keyspace,
    /** Connects to Redis; rejects when the server cannot be reached. */
    async connect() {
      await redis.connect();
      await redis.ping();
      connected = true;
    },
    async close() {
      connected = false;
      await provider.close();
      redis.disconnect();
    },
  };
}

/** What {@link startExample} serves, and how to stop it. */
export interface RunningExample {
  url: string;
  manifest: ProviderManifestInput;
  close(): Promise<void>;
}

/**
 * Serves the Redis provider on `host:port` (default 127.0.0.1; port 0 picks a free one).
 *
 * @example
 * const running = await startExample({ port: 4102, brokerUrl: 'http://127.0.0.1:4001', redisUrl: 'redis://127.0.0.1:6379' });
 * console.log(running.url);
 * await running.close();
 */
export async function startExample(options: {
  host?: string;
  port: number;
  brokerUrl: string;
  redisUrl: string;
  stateKeyPrefix?: string;
}): Promise<RunningExample> {
  const host = options.host ?? '127.0.0.1';
  const app = express();
  app.disable('x-powered-by');
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  const closeServer = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  let example: ReturnType<typeof createRedisProvider>;
  try {
    example = createRedisProvider({ ...options, url });
  } catch (error) {
    await closeServer();
    throw error;
  }
  try {
    await example.connect();
  } catch (error) {
    await example.close().catch(() => {});
    await closeServer();
    throw new Error(`cannot reach the Redis server: ${(error as Error).message}`);
  }
  app.use(example.provider.router());
  return {
    url,
    manifest: manifest(url),
    async close() {
      await closeServer();
      await example.close();
    },
  };
}

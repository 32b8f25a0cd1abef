import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type BindResult,
  defineProvider,
  inProgress,
  type OperationOutcome,
  type Provider,
  ProviderError,
  type ProviderManifestInput,
} from '@annex/sdk';
import { PostgresReplayStore, PostgresStore } from '@annex/sdk/postgres';
import express from 'express';
import { AdminDatabase } from './database.js';
import { manifest } from './manifest.js';
import { bindingRole, instanceNames } from './names.js';
import { planById } from './plans.js';

/** Tables of the SDK's protocol state in the admin database: `annex_example_pg_instances`... */
const TABLE_PREFIX = 'annex_example_pg';

export interface PostgresProviderOptions {
  /** The provider's public URL (its manifest's `osb.url`). */
  url: string;
  /** The Annex broker whose signed requests the provider accepts. */
  brokerUrl: string;
  /** A role on the PostgreSQL server (14 or later) that may create databases and roles (a superuser works). */
  adminUrl: string;
  /** `Retry-After` of an "in progress" last_operation, in seconds (default 2). */
  retryAfterSeconds?: number;
}

/**
 * The PostgreSQL provider: each instance a database and its owner role on the admin URL's
 * server, each binding a login role acting as that owner. Its protocol state lives in the
 * same server (the SDK's PostgresStore), so a restart loses nothing.
 *
 * @example
 * const { provider, close } = createPostgresProvider({ url, brokerUrl, adminUrl: process.env.EXAMPLE_POSTGRES_URL! });
 * app.use(provider.router());
 */
export function createPostgresProvider(options: PostgresProviderOptions): {
  provider: Provider;
  admin: AdminDatabase;
  close(): Promise<void>;
} {
  const admin = new AdminDatabase(options.adminUrl);
  // Provisions running in this process, so that a delete during provisioning waits for its last step.
  const provisioning = new Map<string, Promise<unknown>>();

  const createInstance = (instanceId: string, planId: string, signal?: AbortSignal) => {
    const names = instanceNames(instanceId);
    const created = admin.createInstance(names, planById(planId), signal).then(
      () => ({ metadata: { database: names.database } }),
      (error) => {
        // Halted by a delete during provisioning: expected, and that delete drops what exists.
        if (signal?.aborted) throw ProviderError.internal('halted: the instance was deprovisioned');
        throw error;
      },
    );
    provisioning.set(instanceId, created);
    const forget = () => {
      if (provisioning.get(instanceId) === created) provisioning.delete(instanceId);
    };
    created.then(forget, forget);
    return created;
  };
  const dropInstance = async (instanceId: string) => {
    await provisioning.get(instanceId)?.catch(() => {});
    await admin.dropInstance(instanceNames(instanceId));
  };

  const provider = defineProvider({
    manifest: manifest(options.url),
    broker: {
      url: options.brokerUrl,
      replayStore: new PostgresReplayStore({ pool: admin.pool, tablePrefix: TABLE_PREFIX }),
    },
    store: new PostgresStore({ pool: admin.pool, tablePrefix: TABLE_PREFIX }),
    retryAfterSeconds: options.retryAfterSeconds ?? 2,

    provision: async ({ instanceId, plan, acceptsIncomplete, signal }) => {
      // A broker that cannot poll gets the database at once: creating one takes well under a second.
      if (!acceptsIncomplete) return createInstance(instanceId, plan.id, signal);
      return inProgress({
        description: 'creating the database and its owner role',
        work: (workSignal) => createInstance(instanceId, plan.id, workSignal),
      });
    },

    update: async ({ instanceId, plan, planChanged }) => {
      if (planChanged) await admin.applyPlan(instanceNames(instanceId), planById(plan.id));
    },

    deprovision: async ({ instanceId, acceptsIncomplete }) => {
      if (!acceptsIncomplete) return dropInstance(instanceId);
      return inProgress({ description: 'dropping the database and its roles', work: () => dropInstance(instanceId) });
    },

    bind: async ({ instanceId, bindingId, instance }): Promise<BindResult> => {
      const names = instanceNames(instanceId);
      const plan = planById(instance.planId);
      const username = bindingRole(instanceId, bindingId);
      const password = randomBytes(24).toString('base64url');
      await admin.createLoginRole(names, username, password, plan);
      const { host, port } = admin.endpoint();
      const url = new URL(`postgres://${host}`);
      url.port = String(port);
      url.username = username;
      url.password = password;
      url.pathname = `/${names.database}`;
      return {
        credentials: {
          DATABASE_URL: url.toString(),
          host,
          port,
          database: names.database,
          username,
          password,
        },
        endpoints: [{ host, ports: [String(port)], protocol: 'tcp' }],
      };
    },

    unbind: async ({ instanceId, bindingId }) => {
      await admin.dropLoginRole(instanceNames(instanceId), bindingRole(instanceId, bindingId));
    },

    // Polled only when no process is running the operation's work: the provider restarted
    // (or another replica answered the 202). The real database says where it stands, and
    // every step is idempotent, so an unfinished operation is finished here.
    lastOperation: async ({ operation }): Promise<OperationOutcome> => {
      const names = instanceNames(operation.instanceId);
      try {
        if (operation.kind === 'provision') {
          if ((await admin.instanceState(names)) !== 'ready') {
            const instance = await provider.store.getInstance(operation.instanceId);
            if (!instance) return { state: 'failed', description: 'the instance record is gone' };
            await admin.createInstance(names, planById(instance.planId));
          }
          return { state: 'succeeded', result: { metadata: { database: names.database } } };
        }
        if (operation.kind === 'deprovision') {
          await admin.dropInstance(names);
          return { state: 'succeeded' };
        }
      } catch (error) {
        return { state: 'failed', description: `could not finish after a restart: ${(error as Error).message}` };
      }
      return { state: 'failed', description: 'the operation was interrupted by a provider restart' };
    },
  });

  return {
    provider,
    admin,
    async close() {
      await provider.close();
      await admin.close();
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
 * Serves the PostgreSQL provider on `host:port` (default 127.0.0.1; port 0 picks a free one).
 *
 * @example
 * const running = await startExample({ port: 4101, brokerUrl: 'http://127.0.0.1:4001', adminUrl: 'postgres://postgres@127.0.0.1:5432/postgres' });
 * console.log(running.url);
 * await running.close();
 */
export async function startExample(options: {
  host?: string;
  port: number;
  brokerUrl: string;
  adminUrl: string;
  retryAfterSeconds?: number;
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
  let example: ReturnType<typeof createPostgresProvider>;
  try {
    example = createPostgresProvider({ ...options, url });
  } catch (error) {
    server.close();
    throw error;
  }
  try {
    await example.admin.pool.query('select 1');
  } catch (error) {
    await example.close().catch(() => {});
    server.close();
    throw new Error(`cannot reach the PostgreSQL server (admin URL): ${(error as Error).message}`);
  }
  app.use(example.provider.router());
  return {
    url,
    manifest: manifest(url),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await example.close();
    },
  };
}

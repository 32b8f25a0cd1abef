import type { AddressInfo } from 'node:net';
import express from 'express';
import type { OsbCatalog } from './catalog.js';
import { type ProviderManifest, validateManifest } from './manifest.js';
import { createBindingEndpoints } from './osb/bindings.js';
import { createInstanceEndpoints } from './osb/instances.js';
import { createRouterFactory } from './osb/router.js';
import { createRuntime } from './osb/runtime.js';
import type { ProviderStore } from './store.js';
import type { OperationOutcome, OperationRef, ProviderDefinition, RunningProvider } from './types.js';

/**
 * A defined provider: serve it with `router()` or `listen()`.
 *
 * @example
 * const provider: Provider = defineProvider({ manifest, broker: { url }, ...handlers });
 * app.use('/osb', provider.router());
 */
export interface Provider {
  /** The validated manifest. */
  readonly manifest: ProviderManifest;
  readonly store: ProviderStore;
  /** The OSB catalog served at `/v2/catalog`. */
  catalog(): OsbCatalog;
  /** The OSB endpoints (and SSO) as an express router; mount it at the provider's OSB URL. */
  router(): express.Router;
  /** Serves the router on its own (default host 127.0.0.1; port 0 picks a free one). */
  listen(port?: number, host?: string): Promise<RunningProvider>;
  /** Ends an async operation from outside its `work` (a queue worker, a webhook). */
  completeOperation(ref: OperationRef, outcome: OperationOutcome): Promise<void>;
  /** Waits for background work and closes the store. */
  close(): Promise<void>;
}

/**
 * Defines a provider from its manifest and handlers. The SDK serves the whole OSB 2.17
 * protocol: authentication, version header, validation against the plans' schemas,
 * status codes, idempotent re-deliveries, async operations and `last_operation`.
 *
 * @example
 * const provider = defineProvider({
 *   manifest,
 *   broker: { url: 'http://127.0.0.1:4001' },
 *   provision: async ({ instanceId }) => ({ dashboardUrl: `https://acme.example/${instanceId}` }),
 *   deprovision: async () => {},
 *   bind: async ({ bindingId }) => ({ credentials: { ACME_URL: `https://${bindingId}@acme.example` } }),
 *   unbind: async () => {},
 * });
 * await provider.listen(4100);
 */
export function defineProvider<P = Record<string, unknown>, U = Record<string, unknown>, B = Record<string, unknown>>(
  definition: ProviderDefinition<P, U, B>,
): Provider {
  const validation = validateManifest(definition.manifest);
  if (!validation.ok) {
    throw new TypeError(
      `invalid provider manifest:\n${validation.problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`,
    );
  }
  const manifest = validation.manifest;
  if (!definition.basicAuth && !definition.broker) {
    throw new TypeError('defineProvider needs `broker: { url }` (JWT mode) or `basicAuth` (plain OSB mode)');
  }
  if (
    manifest.services.some((s) => s.bindable || s.plans.some((p) => p.bindable)) &&
    !(definition.bind && definition.unbind)
  ) {
    throw new TypeError('a bindable service needs `bind` and `unbind` handlers');
  }
  const rt = createRuntime(definition, manifest);
  const { store, catalog, init, running, finishOperation } = rt;
  const { router } = createRouterFactory(rt, createInstanceEndpoints(rt), createBindingEndpoints(rt));

  return {
    manifest,
    store,
    catalog: () => structuredClone(catalog),
    router,
    async listen(port = 0, host = '127.0.0.1') {
      await init();
      const app = express();
      app.disable('x-powered-by');
      app.use(router());
      const server = app.listen(port, host);
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve);
        server.once('error', reject);
      });
      const address = server.address() as AddressInfo;
      return {
        url: `http://${host}:${address.port}`,
        port: address.port,
        close: () =>
          new Promise<void>((resolve, reject) => {
            server.close((error) => (error ? reject(error) : resolve()));
            server.closeAllConnections();
          }),
      };
    },
    completeOperation: finishOperation,
    async close() {
      await Promise.allSettled([...running.values()].map((r) => r.done));
      await store.close?.();
      // A tracer made here from OTEL_* is this provider's to stop; one passed in is not.
      if (!definition.tracer) await rt.tracer.shutdown();
    },
  };
}

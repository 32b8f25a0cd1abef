import type { AddressInfo } from 'node:net';
import { currentContext, type FinishedSpan } from '@annex/tracing';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { osbClient, waitForOperation } from './__fixtures__/client.js';
import { widgetsManifest, widgetsProvider } from './__fixtures__/widgets.js';
import { type ConformanceBroker, startConformanceBroker } from './conformance/index.js';
import { defineProvider, inProgress, type RunningProvider, Tracer, tracingConfig } from './index.js';

const small = { service_id: 'svc-widgets', plan_id: 'plan-small', organization_guid: 'org', space_guid: 'space' };
const large = { ...small, plan_id: 'plan-large' };
const ids = { service_id: 'svc-widgets', plan_id: 'plan-small' };
let counter = 0;
const fresh = () => `instance-${process.pid}-${++counter}`;

describe('a provider defined with the SDK', () => {
  let broker: ConformanceBroker;
  let running: RunningProvider;
  let call: ReturnType<typeof osbClient>;
  let widgets: ReturnType<typeof widgetsProvider>;
  const errors: unknown[] = [];

  beforeAll(async () => {
    broker = await startConformanceBroker();
    widgets = widgetsProvider({ brokerUrl: broker.url, workMs: 200 });
    running = await widgets.provider.listen(0);
    call = osbClient(running.url, broker, 'widgets-inc');
  });
  afterAll(async () => {
    await running.close();
    await widgets.provider.close();
    await broker.close();
    expect(errors).toEqual([]);
  });

  it('rejects parameters that fail the plan schema, naming the field, and keeps no state', async () => {
    const id = fresh();
    const bad = await call('PUT', `/v2/service_instances/${id}`, { body: { ...small, parameters: { size: 'big' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.description).toContain('/size');
    const extra = await call('PUT', `/v2/service_instances/${id}`, {
      body: { ...small, parameters: { size: 2, shape: 'round' } },
    });
    expect(extra.status).toBe(400);
    expect(extra.body.description).toContain('/shape');
    const good = await call('PUT', `/v2/service_instances/${id}`, { body: { ...small, parameters: { size: 2 } } });
    expect(good.status).toBe(201);
    expect(good.body).toEqual({ dashboard_url: `https://widgets.example/${id}`, metadata: { size: 2 } });
  });

  it('provisions once when the same request arrives twice at the same moment', async () => {
    const id = fresh();
    const before = widgets.log.provisioned.length;
    const body = { ...small, parameters: { size: 4 } };
    const answers = await Promise.all([
      call('PUT', `/v2/service_instances/${id}`, { body }),
      call('PUT', `/v2/service_instances/${id}`, { body }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 201]);
    expect(answers[0]?.body).toEqual(answers[1]?.body);
    expect(widgets.log.provisioned.length - before).toBe(1);
  });

  it('turns a thrown ProviderError into its status and body, changing nothing', async () => {
    const id = fresh();
    const refused = await call('PUT', `/v2/service_instances/${id}`, {
      body: { ...small, parameters: { size: 1, color: 'plaid' } },
    });
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({ description: 'plaid widgets are sold out' });
    expect((await call('GET', `/v2/service_instances/${id}`)).status).toBe(404);
    expect((await call('DELETE', `/v2/service_instances/${id}`, { query: ids })).status).toBe(410);
  });

  it('answers an unexpected handler failure with 500 and a request id, and lets the broker clean up', async () => {
    const id = fresh();
    const provider = defineProvider({
      manifest: widgetsManifest(),
      broker: { url: broker.url },
      onError: (error) => errors.length >= 0 && void error,
      provision: () => {
        throw new Error('the widget press jammed at /srv/press.ts:42');
      },
      deprovision: () => {
        cleaned.push(id);
      },
      bind: () => ({}),
      unbind: () => {},
    });
    const cleaned: string[] = [];
    const server = await provider.listen(0);
    try {
      const local = osbClient(server.url, broker, 'widgets-inc');
      const failed = await local('PUT', `/v2/service_instances/${id}`, {
        body: { ...small, parameters: { size: 1 } },
        headers: { 'X-Broker-API-Request-Identity': 'req-123' },
      });
      expect(failed.status).toBe(500);
      expect(failed.body.description).toContain('req-123');
      expect(JSON.stringify(failed.body)).not.toContain('jammed');
      expect(failed.headers.get('X-Broker-API-Request-Identity')).toBe('req-123');
      // Orphan mitigation: the broker deprovisions after a 5xx; the handler must run.
      const mitigated = await local('DELETE', `/v2/service_instances/${id}`, { query: ids });
      expect(mitigated.status).toBe(200);
      expect(cleaned).toEqual([id]);
    } finally {
      await server.close();
      await provider.close();
    }
  });

  it('answers 422 AsyncRequired when the handler needs async and the broker did not allow it', async () => {
    const id = fresh();
    const sync = await call('PUT', `/v2/service_instances/${id}`, { body: large });
    expect(sync.status).toBe(422);
    expect(sync.body.error).toBe('AsyncRequired');
    const async = await call('PUT', `/v2/service_instances/${id}`, {
      body: large,
      query: { accepts_incomplete: 'true' },
    });
    expect(async.status).toBe(202);
    expect(typeof async.body.operation).toBe('string');
  });

  it('serves last_operation with Retry-After, refuses concurrent changes, and keeps the terminal state', async () => {
    const id = fresh();
    const path = `/v2/service_instances/${id}`;
    const started = await call('PUT', path, { body: large, query: { accepts_incomplete: 'true' } });
    const operation = started.body.operation as string;
    const polled = await call('GET', `${path}/last_operation`, { query: { ...ids, operation } });
    expect(polled.status).toBe(200);
    expect(polled.body).toEqual({ state: 'in progress', description: 'pressing the widget' });
    expect(polled.headers.get('Retry-After')).toBe('1');
    const bind = await call('PUT', `${path}/service_bindings/b1`, { body: large });
    expect(bind.status).toBe(422);
    expect(bind.body.error).toBe('ConcurrencyError');
    const update = await call('PATCH', path, { body: { service_id: 'svc-widgets', parameters: {} } });
    expect(update.body.error).toBe('ConcurrencyError');
    const done = await waitForOperation(call, path, { ...ids, operation });
    expect(done.body.state).toBe('succeeded');
    const again = await call('GET', `${path}/last_operation`, { query: { ...ids, operation } });
    expect(again.body.state).toBe('succeeded');
    const fetched = await call('GET', path);
    expect(fetched.body).toMatchObject({ plan_id: 'plan-large', dashboard_url: `https://widgets.example/${id}` });
  });

  it('reports a provision halted by a delete as failed, without logging the aborted work as an error', async () => {
    const logged: unknown[] = [];
    let workEnded!: () => void;
    const ended = new Promise<void>((resolve) => {
      workEnded = resolve;
    });
    const provider = defineProvider({
      manifest: widgetsManifest(),
      broker: { url: broker.url },
      onError: (error) => void logged.push(error),
      provision: () =>
        inProgress({
          work: async (signal) => {
            try {
              await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
            } finally {
              workEnded();
            }
          },
        }),
      deprovision: () => {},
      bind: () => ({}),
      unbind: () => {},
    });
    const server = await provider.listen(0);
    try {
      const local = osbClient(server.url, broker, 'widgets-inc');
      const path = `/v2/service_instances/${fresh()}`;
      const started = await local('PUT', path, { body: large, query: { accepts_incomplete: 'true' } });
      expect(started.status).toBe(202);
      expect((await local('DELETE', path, { query: { ...ids, accepts_incomplete: 'true' } })).status).toBe(200);
      await ended;
      await new Promise((resolve) => setImmediate(resolve)); // the SDK handles the work's rejection after it
      const halted = await local('GET', `${path}/last_operation`, {
        query: { ...ids, operation: started.body.operation },
      });
      expect(halted.body.state).toBe('failed');
      expect(logged).toEqual([]);
    } finally {
      await server.close();
      await provider.close();
    }
  });

  it('refuses maintenance_info that does not match the plan, and an unsupported version header', async () => {
    const conflict = await call('PUT', `/v2/service_instances/${fresh()}`, {
      body: { ...small, parameters: { size: 1 }, maintenance_info: { version: '9.9.9' } },
    });
    expect(conflict.status).toBe(422);
    expect(conflict.body.error).toBe('MaintenanceInfoConflict');
    const old = await call('GET', '/v2/catalog', { headers: { 'X-Broker-API-Version': '2.13' } });
    expect(old.status).toBe(412);
    expect(old.body.description).toContain('2.13');
  });

  it('rotates a binding from its predecessor where the plan allows it', async () => {
    const id = fresh();
    const path = `/v2/service_instances/${id}`;
    expect((await call('PUT', path, { body: { ...small, parameters: { size: 1 } } })).status).toBe(201);
    const first = await call('PUT', `${path}/service_bindings/old`, {
      body: { ...ids, parameters: { readonly: true } },
    });
    expect(first.status).toBe(201);
    expect(first.body.credentials.readonly).toBe(true);
    const rotated = await call('PUT', `${path}/service_bindings/new`, {
      body: { ...ids, predecessor_binding_id: 'old' },
    });
    expect(rotated.status).toBe(201);
    // The successor inherits the predecessor's parameters.
    expect(rotated.body.credentials.readonly).toBe(true);
    const missing = await call('PUT', `${path}/service_bindings/x`, {
      body: { ...ids, predecessor_binding_id: 'nope' },
    });
    expect(missing.status).toBe(400);
  });

  it('mounts as an express router under a prefix, with tokens bound to the full path', async () => {
    const app = express();
    app.get('/health', (_req, res) => void res.send('ok'));
    app.use('/osb', widgets.provider.router());
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const prefixed = osbClient(`${base}/osb`, broker, 'widgets-inc');
      const catalog = await prefixed('GET', '/v2/catalog');
      expect(catalog.status).toBe(200);
      expect(catalog.body.services[0].plans.map((p: { name: string }) => p.name)).toEqual(['small', 'large']);
      const token = await broker.requestToken('widgets-inc', 'GET', '/v2/catalog');
      const wrongPath = await fetch(`${base}/osb/v2/catalog`, {
        headers: { Authorization: `Bearer ${token}`, 'X-Broker-API-Version': '2.17' },
      });
      expect(wrongPath.status).toBe(401);
      expect(((await wrongPath.json()) as { description: string }).description).toContain('path');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('mounted at the root, guards only the OSB endpoints and leaves the rest of the app alone', async () => {
    const app = express();
    app.use(widgets.provider.router());
    app.get('/health', (_req, res) => void res.send('ok'));
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const health = await fetch(`${base}/health`);
      expect(health.status).toBe(200);
      expect(await health.text()).toBe('ok');
      expect((await fetch(`${base}/v2/catalog`, { headers: { 'X-Broker-API-Version': '2.17' } })).status).toBe(401);
      expect((await osbClient(base, broker, 'widgets-inc')('GET', '/v2/catalog')).status).toBe(200);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('async operations finished outside their work', () => {
  let broker: ConformanceBroker;
  beforeAll(async () => {
    broker = await startConformanceBroker();
  });
  afterAll(async () => {
    await broker.close();
  });

  it("continues the broker's trace in a server span named by the OSB route, its handlers inside it", async () => {
    const exported: FinishedSpan[] = [];
    const tracer = new Tracer(
      tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' }, { serviceName: 'widgets' }),
      {
        add: (span) => exported.push(span),
        flush: async () => {},
        shutdown: async () => {},
      },
    );
    const seenInHandler: (string | undefined)[] = [];
    const provider = defineProvider({
      manifest: widgetsManifest(),
      broker: { url: broker.url },
      tracer,
      provision: () => {
        seenInHandler.push(currentContext()?.traceId);
        return {};
      },
      deprovision: () => {},
      bind: () => ({ credentials: {} }),
      unbind: () => {},
    });
    const server = await provider.listen(0);
    try {
      const call = osbClient(server.url, broker, 'widgets-inc');
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      expect(
        (
          await call('PUT', '/v2/service_instances/traced', {
            body: { ...small, parameters: { size: 1 } },
            headers: { traceparent },
          })
        ).status,
      ).toBe(201);
      // A malformed header starts a trace of its own instead of failing the request.
      expect(
        (
          await call('PUT', '/v2/service_instances/untraced', {
            body: { ...small, parameters: { size: 1 } },
            headers: { traceparent: 'junk' },
          })
        ).status,
      ).toBe(201);
    } finally {
      await server.close();
      await provider.close();
    }
    const [traced, untraced] = exported.filter((span) => span.kind === 'server');
    expect(traced).toMatchObject({
      name: 'PUT /v2/service_instances/:instanceId',
      parentSpanId: '00f067aa0ba902b7',
      context: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736' },
      attributes: { 'http.route': '/v2/service_instances/:instanceId', 'http.response.status_code': 201 },
    });
    expect(seenInHandler).toEqual(['4bf92f3577b34da6a3ce929d0e0e4736', untraced?.context.traceId]);
    expect(untraced?.parentSpanId).toBeUndefined();
    expect(untraced?.context.traceId).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('ends through completeOperation and through a lastOperation handler, with typed zod parameters', async () => {
    const polls: string[] = [];
    const provider = defineProvider({
      manifest: widgetsManifest(),
      broker: { url: broker.url },
      parameters: { provision: z.object({ size: z.number().int().max(5), color: z.string().optional() }) },
      provision: ({ parameters }) => {
        const size: number = parameters.size; // typed by the zod schema
        return inProgress({ operation: `press-${size}` });
      },
      deprovision: () => {},
      bind: () => inProgress({ description: 'issuing keys', work: async () => ({ credentials: { KEY: 'k' } }) }),
      unbind: () => {},
      lastOperation: async ({ operation }) => {
        polls.push(operation.operation);
        return operation.operation === 'press-3'
          ? { state: 'failed', description: 'press broke' }
          : { state: 'in progress' };
      },
    });
    const server = await provider.listen(0);
    try {
      const call = osbClient(server.url, broker, 'widgets-inc');
      const tooBig = await call('PUT', '/v2/service_instances/z', { body: { ...small, parameters: { size: 7 } } });
      expect(tooBig.status).toBe(400);
      expect(tooBig.body.description).toMatch(/\/size .*5/);

      const a = await call('PUT', '/v2/service_instances/a', {
        body: { ...small, parameters: { size: 2 } },
        query: { accepts_incomplete: 'true' },
      });
      expect(a.body.operation).toBe('press-2');
      await provider.completeOperation(
        { instanceId: 'a', operation: 'press-2' },
        { state: 'succeeded', result: { dashboardUrl: 'https://x/a' } },
      );
      const aDone = await call('GET', '/v2/service_instances/a/last_operation', {
        query: { ...ids, operation: 'press-2' },
      });
      expect(aDone.body.state).toBe('succeeded');
      expect((await call('GET', '/v2/service_instances/a')).body.dashboard_url).toBe('https://x/a');

      await call('PUT', '/v2/service_instances/b', {
        body: { ...small, parameters: { size: 3 } },
        query: { accepts_incomplete: 'true' },
      });
      const bDone = await call('GET', '/v2/service_instances/b/last_operation', {
        query: { ...ids, operation: 'press-3' },
      });
      expect(bDone.body).toEqual({ state: 'failed', description: 'press broke' });
      expect(polls).toContain('press-3');
      // A failed provision leaves an instance the broker must delete (orphan mitigation).
      expect((await call('DELETE', '/v2/service_instances/b', { query: ids })).status).toBe(200);

      const bound = await call('PUT', '/v2/service_instances/a/service_bindings/k1', {
        body: ids,
        query: { accepts_incomplete: 'true' },
      });
      expect(bound.status).toBe(202);
      const boundDone = await waitForOperation(call, '/v2/service_instances/a/service_bindings/k1', {
        ...ids,
        operation: bound.body.operation,
      });
      expect(boundDone.body.state).toBe('succeeded');
      const fetched = await call('GET', '/v2/service_instances/a/service_bindings/k1');
      expect(fetched.body.credentials).toEqual({ KEY: 'k' });
    } finally {
      await server.close();
      await provider.close();
    }
  });

  it('refuses an invalid manifest and a missing trust configuration at definition time', () => {
    expect(() =>
      defineProvider({
        manifest: { ...widgetsManifest(), slug: 'Bad Slug' },
        broker: { url: broker.url },
        provision: () => {},
        deprovision: () => {},
      }),
    ).toThrow(/slug: must be lowercase/);
    expect(() =>
      defineProvider({
        manifest: widgetsManifest(),
        provision: () => {},
        deprovision: () => {},
        bind: () => ({}),
        unbind: () => {},
      }),
    ).toThrow(/broker/);
  });
});

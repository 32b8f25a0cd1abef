import type { AddressInfo } from 'node:net';
import express from 'express';

/**
 * A small hand-written OSB broker (no SDK), synchronous only, with basic auth. `broken`
 * turns it into the deliberately wrong provider of the tests: it accepts any credentials
 * and any JWT, ignores the version header, accepts unknown plans, has no idempotency (every
 * PUT answers 201, identical or conflicting) and answers 200 to a repeated delete.
 */
export async function startPlainBroker(options: { username: string; password: string; broken?: boolean }) {
  const broken = options.broken ?? false;
  const plan = { id: 'plain-plan', name: 'basic', description: 'The only plan' };
  const catalog = {
    services: [{ id: 'plain-svc', name: 'plain-kv', description: 'A key-value store', bindable: true, plans: [plan] }],
  };
  const instances = new Map<string, { body: string }>();
  const bindings = new Map<string, { body: string }>();
  const app = express();
  app.use((req, res, next) => {
    if (broken) return next();
    const expected = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
    if (req.headers.authorization !== expected) return void res.status(401).json({ description: 'unauthorized' });
    if (req.headers['x-broker-api-version'] !== '2.17') return void res.status(412).json({ description: 'version' });
    next();
  });
  app.use(express.json());
  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    if (error) res.status(400).json({ description: 'malformed JSON' });
  });
  app.get('/v2/catalog', (_req, res) => void res.json(catalog));
  const key = (b: Record<string, unknown>) =>
    JSON.stringify([b.service_id, b.plan_id, b.organization_guid, b.space_guid, b.parameters ?? {}]);
  app.put('/v2/service_instances/:id', (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (broken) {
      instances.set(req.params.id, { body: key(body) });
      return void res.status(201).json({});
    }
    for (const field of ['service_id', 'plan_id', 'organization_guid', 'space_guid']) {
      if (typeof body[field] !== 'string') return void res.status(400).json({ description: `${field} missing` });
    }
    if (body.service_id !== 'plain-svc' || body.plan_id !== plan.id) {
      return void res.status(400).json({ description: 'unknown service or plan' });
    }
    const existing = instances.get(req.params.id);
    if (existing) {
      return void (existing.body === key(body)
        ? res.status(200).json({})
        : res.status(409).json({ description: 'conflict' }));
    }
    instances.set(req.params.id, { body: key(body) });
    res.status(201).json({});
  });
  app.patch('/v2/service_instances/:id', (req, res) => {
    if (!instances.has(req.params.id)) return void res.status(404).json({ description: 'not found' });
    res.status(200).json({});
  });
  app.delete('/v2/service_instances/:id', (req, res) => {
    if (broken) return void res.status(200).json({});
    if (!req.query.service_id || !req.query.plan_id) return void res.status(400).json({ description: 'ids' });
    if (!instances.delete(req.params.id)) return void res.status(410).json({});
    res.status(200).json({});
  });
  app.get('/v2/service_instances/:id/last_operation', (req, res) => {
    if (!instances.has(req.params.id)) return void res.status(404).json({ description: 'not found' });
    res.json({ state: 'succeeded' });
  });
  app.put('/v2/service_instances/:id/service_bindings/:bid', (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const k = `${req.params.id}/${req.params.bid}`;
    const fingerprint = JSON.stringify([body.plan_id, body.bind_resource ?? null, body.parameters ?? {}]);
    const credentials = { credentials: { KV_URL: `kv://${req.params.bid}@127.0.0.1` } };
    if (broken) return void res.status(200).json(credentials);
    if (!instances.has(req.params.id)) return void res.status(404).json({ description: 'no instance' });
    const existing = bindings.get(k);
    if (existing) {
      return void (existing.body === fingerprint
        ? res.status(200).json(credentials)
        : res.status(409).json({ description: 'conflict' }));
    }
    bindings.set(k, { body: fingerprint });
    res.status(201).json(credentials);
  });
  app.delete('/v2/service_instances/:id/service_bindings/:bid', (req, res) => {
    if (broken) return void res.status(200).json({});
    if (!bindings.delete(`${req.params.id}/${req.params.bid}`)) return void res.status(410).json({});
    res.status(200).json({});
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

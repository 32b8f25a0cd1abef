/**
 * Test and benchmark helpers: a controllable OSB provider, catalog fixtures, and an
 * in-process broker on an ephemeral port. Not part of the built package.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DB } from '@annex/platform';
import { createLogger, type Database, hashPassword, type Logger, SecretBox } from '@annex/platform';
import express from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Kysely } from 'kysely';
import { type Broker, createBroker } from './app.js';
import { loadBrokerConfig } from './config.js';
import type { ConformanceRecorder } from './openapi/testing/conformance.js';

/** How the fake provider answers for a plan. */
export type ProviderMode =
  | 'sync' // 201 at once
  | 'async' // 202, then `in progress` for `asyncPolls` polls, then succeeded
  | 'async-fail' // 202, then failed
  | 'fail500' // creates, then answers 500
  | 'timeout' // creates, then answers after `hangMs`
  | 'malformed' // creates, then answers 201 with a body that is not JSON
  | 'ok200' // answers 200 for a create
  | 'reject400' // 400 BadRequest, creates nothing
  | 'slow'; // creates, answers 201 after `slowMs`

export interface FakeProviderOptions {
  auth: { kind: 'basic'; username: string; password: string } | { kind: 'jwt'; audience: string };
  /** Set once the broker's URL is known (JWT issuer and JWKS). */
  brokerUrl?: string;
  modes?: Record<string, ProviderMode>;
  bindModes?: Record<string, ProviderMode>;
  asyncPolls?: number;
  /** Polls an async delete stays in progress (default 1). */
  deletePolls?: number;
  retryAfterSeconds?: number;
  hangMs?: number;
  slowMs?: number;
  /** The first this-many instance DELETEs answer 500 (orphan mitigation must retry). */
  failDeletes?: number;
  /**
   * DELETEs of these provider-side instance ids answer 500, this many times each: failures
   * aimed at one test's instance, which the broker's background DELETEs of other instances
   * (orphan mitigation) cannot use up.
   */
  failDeletesOf?: Map<string, number>;
  /** Delay before answering any provision PUT (the crash test uses it to keep calls in flight). */
  putDelayMs?: () => number;
}

interface FakeInstance {
  id: string;
  planId: string;
  body: string;
  state: 'in progress' | 'succeeded' | 'failed';
  pollsLeft: number;
  deleting: boolean;
  mode: ProviderMode;
}

export interface FakeProvider {
  url: string;
  options: FakeProviderOptions;
  /** How many times each provider-side instance id was created. */
  creations: Map<string, number>;
  /** Live instances at the provider. */
  instances: Map<string, FakeInstance>;
  bindings: Map<string, { instanceId: string; body: string; pollsLeft: number }>;
  bindingCreations: Map<string, number>;
  /** Every request, in order: method, path, the headers that matter, and its JSON body if any. */
  requests: { method: string; path: string; originatingIdentity?: string; version?: string; body?: string }[];
  authFailures: string[];
  close(): Promise<void>;
}

/** Starts an OSB provider on 127.0.0.1 whose behaviour per plan the test controls. */
export async function startFakeProvider(options: FakeProviderOptions): Promise<FakeProvider> {
  const app = express();
  app.use(express.json());
  const creations = new Map<string, number>();
  const instances = new Map<string, FakeInstance>();
  const bindings = new Map<string, { instanceId: string; body: string; pollsLeft: number }>();
  const bindingCreations = new Map<string, number>();
  const requests: FakeProvider['requests'] = [];
  const authFailures: string[] = [];
  const seenJti = new Set<string>();
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  app.use(async (req, res, next) => {
    requests.push({
      method: req.method,
      path: req.path,
      ...(req.header('x-broker-api-originating-identity')
        ? { originatingIdentity: req.header('x-broker-api-originating-identity') as string }
        : {}),
      ...(req.header('x-broker-api-version') ? { version: req.header('x-broker-api-version') as string } : {}),
      ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
    });
    const header = req.header('authorization') ?? '';
    if (options.auth.kind === 'basic') {
      const expected = `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`;
      if (header !== expected) {
        authFailures.push('basic credentials mismatch');
        res.status(401).json({ description: 'unauthorized' });
        return;
      }
      next();
      return;
    }
    try {
      if (!options.brokerUrl) throw new Error('broker URL unknown');
      jwks ??= createRemoteJWKSet(new URL(`${options.brokerUrl}/.well-known/jwks.json`));
      const token = header.replace(/^Bearer /, '');
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: options.brokerUrl,
        audience: options.auth.audience,
        algorithms: ['ES256'],
      });
      if (!protectedHeader.kid) throw new Error('no kid');
      if (payload.htm !== req.method) throw new Error(`htm ${String(payload.htm)} != ${req.method}`);
      if (payload.htp !== req.path) throw new Error(`htp ${String(payload.htp)} != ${req.path}`);
      if (!payload.iat || !payload.exp || payload.exp - payload.iat > 300) throw new Error('lifetime');
      if (!payload.jti || seenJti.has(payload.jti)) throw new Error('jti missing or replayed');
      seenJti.add(payload.jti);
      next();
    } catch (error) {
      authFailures.push((error as Error).message);
      res.status(401).json({ description: 'unauthorized' });
    }
  });

  const modeOf = (planId: string) => options.modes?.[planId] ?? 'sync';

  app.put('/v2/service_instances/:id', (req, res) => {
    const id = req.params.id;
    const planId = String(req.body?.plan_id ?? '');
    const body = JSON.stringify({ ...req.body, context: undefined });
    const mode = modeOf(planId);
    const answer = () => {
      const existing = instances.get(id);
      if (existing) {
        if (existing.body !== body) {
          res.status(409).json({ description: 'exists with other attributes' });
        } else if (existing.state === 'in progress') {
          res.status(202).json({ operation: `provision-${id}` });
        } else {
          res.status(200).json({ dashboard_url: `http://dashboard.test/${id}` });
        }
        return;
      }
      if (mode === 'reject400') {
        res.status(400).json({ error: 'BadRequest', description: 'the provider rejects this plan' });
        return;
      }
      const isAsync = mode === 'async' || mode === 'async-fail';
      if (isAsync && req.query.accepts_incomplete !== 'true') {
        res.status(422).json({ error: 'AsyncRequired', description: 'this plan needs accepts_incomplete' });
        return;
      }
      creations.set(id, (creations.get(id) ?? 0) + 1);
      instances.set(id, {
        id,
        planId,
        body,
        state: isAsync ? 'in progress' : 'succeeded',
        pollsLeft: options.asyncPolls ?? 2,
        deleting: false,
        mode,
      });
      switch (mode) {
        case 'async':
        case 'async-fail':
          // As OSB allows: the dashboard's address and metadata from the start.
          res.status(202).json({
            operation: `provision-${id}`,
            dashboard_url: `http://dashboard.test/${id}`,
            metadata: { labels: { tier: 'test' } },
          });
          return;
        case 'fail500':
          res.status(500).json({ description: 'internal error after creating' });
          return;
        case 'timeout':
          later(options.hangMs ?? 5_000, () => {
            if (!res.writableEnded) res.status(201).json({});
          });
          return;
        case 'slow':
          later(options.slowMs ?? 1_000, () => res.status(201).json({ dashboard_url: `http://dashboard.test/${id}` }));
          return;
        case 'malformed':
          res.status(201).type('application/json').send('{"dashboard_url": ');
          return;
        case 'ok200':
          res.status(200).json({ dashboard_url: `http://dashboard.test/${id}` });
          return;
        default:
          res.status(201).json({ dashboard_url: `http://dashboard.test/${id}` });
      }
    };
    const delay = options.putDelayMs?.() ?? 0;
    if (delay > 0) later(delay, answer);
    else answer();
  });

  app.patch('/v2/service_instances/:id', (req, res) => {
    const instance = instances.get(req.params.id);
    if (!instance) {
      res.status(404).json({ description: 'no such instance' });
      return;
    }
    const target = typeof req.body?.plan_id === 'string' ? req.body.plan_id : instance.planId;
    if (modeOf(target) === 'fail500') {
      res.status(500).json({ description: 'update failed' });
      return;
    }
    instance.planId = target;
    res.status(200).json({});
  });

  let deleteFailures = 0;
  app.delete('/v2/service_instances/:id', (req, res) => {
    const aimed = options.failDeletesOf?.get(req.params.id) ?? 0;
    if (aimed > 0) {
      options.failDeletesOf?.set(req.params.id, aimed - 1);
      res.status(500).json({ description: 'delete failed' });
      return;
    }
    if (deleteFailures < (options.failDeletes ?? 0)) {
      deleteFailures += 1;
      res.status(500).json({ description: 'delete failed' });
      return;
    }
    const instance = instances.get(req.params.id);
    if (!instance) {
      res.status(410).json({});
      return;
    }
    if ((instance.mode === 'async' || instance.mode === 'async-fail') && req.query.accepts_incomplete === 'true') {
      instance.deleting = true;
      instance.state = 'in progress';
      instance.pollsLeft = options.deletePolls ?? 1;
      res.status(202).json({ operation: `deprovision-${instance.id}` });
      return;
    }
    instances.delete(instance.id);
    res.status(200).json({});
  });

  // Fetch instance (for services that are instances_retrievable): 404 once it is gone.
  app.get('/v2/service_instances/:id', (req, res) => {
    const instance = instances.get(req.params.id);
    if (!instance || instance.deleting || instance.state !== 'succeeded') {
      res.status(404).json({ description: 'no such instance' });
      return;
    }
    res.status(200).json({ plan_id: instance.planId, parameters: {} });
  });

  app.get('/v2/service_instances/:id/last_operation', (req, res) => {
    const instance = instances.get(req.params.id);
    if (!instance) {
      res.status(410).json({});
      return;
    }
    if (options.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(options.retryAfterSeconds));
    if (instance.state === 'in progress') {
      if (instance.pollsLeft > 0) {
        instance.pollsLeft -= 1;
        res.json({ state: 'in progress', description: 'working' });
        return;
      }
      if (instance.deleting) {
        instances.delete(instance.id);
        res.json({ state: 'succeeded' });
        return;
      }
      instance.state = instance.mode === 'async-fail' ? 'failed' : 'succeeded';
    }
    res.json({
      state: instance.state,
      description: instance.state === 'failed' ? 'the database did not start' : 'done',
    });
  });

  app.put('/v2/service_instances/:id/service_bindings/:bid', (req, res) => {
    const instance = instances.get(req.params.id);
    if (!instance) {
      res.status(404).json({ description: 'no such instance' });
      return;
    }
    const body = JSON.stringify({ ...req.body, context: undefined });
    const existing = bindings.get(req.params.bid);
    if (existing) {
      res.status(existing.body === body ? 200 : 409).json({ credentials: { uri: `fake://${req.params.bid}` } });
      return;
    }
    const mode = options.bindModes?.[instance.planId] ?? 'sync';
    bindingCreations.set(req.params.bid, (bindingCreations.get(req.params.bid) ?? 0) + 1);
    bindings.set(req.params.bid, {
      instanceId: req.params.id,
      body,
      pollsLeft: mode === 'async' ? (options.asyncPolls ?? 2) : 0,
    });
    if (mode === 'async') {
      res.status(202).json({ operation: `bind-${req.params.bid}` });
      return;
    }
    if (mode === 'fail500') {
      res.status(500).json({ description: 'failed after creating the binding' });
      return;
    }
    res.status(201).json({
      credentials: {
        uri: `fake://user:secret@db.test/${req.params.bid}`,
        predecessor: req.body?.predecessor_binding_id,
      },
      endpoints: [{ host: 'db.test', ports: ['5432'], protocol: 'tcp' }],
    });
  });

  app.get('/v2/service_instances/:id/service_bindings/:bid/last_operation', (req, res) => {
    const binding = bindings.get(req.params.bid);
    if (!binding) {
      res.status(410).json({});
      return;
    }
    if (binding.pollsLeft > 0) {
      binding.pollsLeft -= 1;
      res.json({ state: 'in progress' });
      return;
    }
    res.json({ state: 'succeeded' });
  });

  app.get('/v2/service_instances/:id/service_bindings/:bid', (req, res) => {
    const binding = bindings.get(req.params.bid);
    if (!binding || binding.pollsLeft > 0) {
      res.status(404).json({});
      return;
    }
    res.json({ credentials: { uri: `fake://user:secret@db.test/${req.params.bid}` } });
  });

  app.delete('/v2/service_instances/:id/service_bindings/:bid', (req, res) => {
    if (!bindings.delete(req.params.bid)) {
      res.status(410).json({});
      return;
    }
    res.status(200).json({});
  });

  const server = await listen(app);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    options,
    creations,
    instances,
    bindings,
    bindingCreations,
    requests,
    authFailures,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function listen(app: express.Express): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(app);
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

export interface CatalogFixture {
  providerId: string;
  providerSlug: string;
  serviceId: string;
  serviceOsbId: string;
  plans: Record<string, { id: string; osbId: string }>;
  platformId: string;
  osbUsername: string;
  osbPassword: string;
  /** A platform that acts for no organization (sees no private plan). */
  otherPlatform: { id: string; osbUsername: string; osbPassword: string };
}

export interface PlanFixture {
  slug: string;
  free?: boolean;
  bindable?: boolean | null;
  planUpdateable?: boolean | null;
  bindingRotatable?: boolean | null;
  maintenanceInfo?: { version: string; description?: string } | null;
  maximumPollingDuration?: number | null;
  schemas?: Record<string, unknown> | null;
  visibility?: 'public' | 'private';
  allowedOrganizations?: string[];
  status?: 'active' | 'deprecated';
  metadata?: Record<string, unknown>;
}

let fixtureCounter = 0;

/**
 * Inserts a provider (at `providerUrl`), one service with the given plans, an organization
 * `acme`, a platform acting for it and one acting for nobody, with OSB basic credentials.
 * Plan OSB ids are `<prefix>-<slug>`.
 */
export async function seedCatalog(
  db: Kysely<DB>,
  secretBox: SecretBox,
  input: {
    providerUrl: string;
    auth: { kind: 'basic'; username: string; password: string } | { kind: 'jwt' };
    plans: PlanFixture[];
    service?: Partial<{
      instancesRetrievable: boolean;
      bindingsRetrievable: boolean;
      planUpdateable: boolean;
      bindable: boolean;
    }>;
  },
): Promise<CatalogFixture> {
  fixtureCounter += 1;
  const prefix = `fx${fixtureCounter}${Math.random().toString(36).slice(2, 7)}`;
  const provider = await db
    .insertInto('providers')
    .values({
      slug: `${prefix}-provider`,
      name: 'Fixture provider',
      osb_url: input.providerUrl,
      osb_auth_kind: input.auth.kind,
      osb_username: input.auth.kind === 'basic' ? input.auth.username : null,
      osb_password_secret: input.auth.kind === 'basic' ? secretBox.seal(input.auth.password) : null,
    })
    .returning(['id', 'slug'])
    .executeTakeFirstOrThrow();
  const serviceOsbId = `${prefix}-service`;
  const service = await db
    .insertInto('services')
    .values({
      provider_id: provider.id,
      osb_id: serviceOsbId,
      slug: `${prefix}-db`,
      name: 'Fixture DB',
      description: 'A database for tests',
      category: 'databases',
      tags: ['sql'],
      bindable: input.service?.bindable ?? true,
      plan_updateable: input.service?.planUpdateable ?? true,
      instances_retrievable: input.service?.instancesRetrievable ?? true,
      bindings_retrievable: input.service?.bindingsRetrievable ?? true,
      requires: [],
      config_vars: ['DATABASE_URL'],
      regions: [],
      metadata: '{}',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const plans: CatalogFixture['plans'] = {};
  let position = 0;
  for (const plan of input.plans) {
    const osbId = `${prefix}-${plan.slug}`;
    const row = await db
      .insertInto('plans')
      .values({
        service_id: service.id,
        osb_id: osbId,
        slug: plan.slug,
        name: plan.slug,
        description: `plan ${plan.slug}`,
        free: plan.free ?? true,
        price_cents: plan.free === false ? 1500 : 0,
        currency: 'usd',
        metered: '[]',
        bindable: plan.bindable ?? null,
        plan_updateable: plan.planUpdateable ?? null,
        binding_rotatable: plan.bindingRotatable ?? null,
        maintenance_info: plan.maintenanceInfo ? JSON.stringify(plan.maintenanceInfo) : null,
        maximum_polling_duration: plan.maximumPollingDuration ?? null,
        schemas: plan.schemas ? JSON.stringify(plan.schemas) : null,
        visibility: plan.visibility ?? 'public',
        allowed_organizations: plan.allowedOrganizations ?? [],
        regions: [],
        metadata: JSON.stringify(plan.metadata ?? {}),
        status: plan.status ?? 'active',
        position: position++,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    plans[plan.slug] = { id: row.id, osbId };
  }
  const org = await db
    .insertInto('organizations')
    .values({ slug: `${prefix}-acme`, name: 'Acme' })
    .returning('id')
    .executeTakeFirstOrThrow();
  // Private plans name organizations by slug; fixtures say "acme".
  for (const [slug, plan] of Object.entries(plans)) {
    const fixture = input.plans.find((p) => p.slug === slug);
    if (fixture?.allowedOrganizations?.includes('acme')) {
      await db
        .updateTable('plans')
        .set({ allowed_organizations: [`${prefix}-acme`] })
        .where('id', '=', plan.id)
        .execute();
    }
  }
  const osbPassword = `pw-${prefix}`;
  const platform = await db
    .insertInto('platforms')
    .values({
      slug: `${prefix}-platform`,
      name: 'Fixture platform',
      osb_username: `${prefix}-user`,
      osb_password_hash: await hashPassword(osbPassword),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db.insertInto('platform_organizations').values({ platform_id: platform.id, organization_id: org.id }).execute();
  const otherPassword = `pw2-${prefix}`;
  const other = await db
    .insertInto('platforms')
    .values({
      slug: `${prefix}-other`,
      name: 'Other platform',
      osb_username: `${prefix}-other`,
      osb_password_hash: await hashPassword(otherPassword),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return {
    providerId: provider.id,
    providerSlug: provider.slug,
    serviceId: service.id,
    serviceOsbId,
    plans,
    platformId: platform.id,
    osbUsername: `${prefix}-user`,
    osbPassword,
    otherPlatform: { id: other.id, osbUsername: `${prefix}-other`, osbPassword: otherPassword },
  };
}

/**
 * `apps` apps of an organization, each owning `addonsPerApp` provisioned add-ons of the
 * fixture's plan, each attached to its app as `DB<i>` with one config var `DB<i>_URL`:
 * written straight to the database, as a provider would have left them, for reads at scale.
 */
export async function seedAppsWithAddons(
  db: Kysely<DB>,
  secretBox: SecretBox,
  input: {
    fixture: CatalogFixture;
    plan: string;
    organizationId: string;
    prefix: string;
    apps: number;
    addonsPerApp: number;
  },
): Promise<{ apps: string[] }> {
  const planId = input.fixture.plans[input.plan]?.id;
  if (!planId) throw new Error(`the fixture has no plan ${input.plan}`);
  const apps = await db
    .insertInto('apps')
    .values(
      Array.from({ length: input.apps }, (_, i) => ({
        name: `${input.prefix}-${i}`,
        organization_id: input.organizationId,
      })),
    )
    .returning(['id', 'name'])
    .execute();
  // One creation time each, a millisecond apart, so that "oldest first" is their order here.
  const start = Date.now() - 60_000;
  const addons = apps.flatMap((app, a) =>
    Array.from({ length: input.addonsPerApp }, (_, i) => ({
      created_at: new Date(start + a * input.addonsPerApp + i),
      id: crypto.randomUUID(),
      name: `${app.name}-db${i}`,
      organization_id: input.organizationId,
      app_id: app.id,
      service_id: input.fixture.serviceId,
      plan_id: planId,
      state: 'provisioned' as const,
      attachment: `DB${i}`,
    })),
  );
  if (addons.length === 0) return { apps: apps.map((a) => a.name) };
  await db
    .insertInto('addons')
    .values(addons.map(({ attachment: _, ...addon }) => addon))
    .execute();
  const attachments = await db
    .insertInto('attachments')
    .values(
      addons.map((addon) => ({
        created_at: addon.created_at,
        addon_id: addon.id,
        app_id: addon.app_id,
        name: addon.attachment,
        binding_id: crypto.randomUUID(),
        state: 'attached' as const,
      })),
    )
    .returning(['id', 'app_id', 'name'])
    .execute();
  await db
    .insertInto('config_vars')
    .values(
      attachments.map((a) => ({
        app_id: a.app_id,
        name: `${a.name}_URL`,
        value_sealed: secretBox.seal(`postgres://${a.name.toLowerCase()}.example.test/db`),
        attachment_id: a.id,
      })),
    )
    .execute();
  return { apps: apps.map((a) => a.name) };
}

export interface TestBroker {
  url: string;
  broker: Broker;
  secretBox: SecretBox;
  /**
   * Every `/v1` request the test makes and its answer, checked against the broker's OpenAPI
   * document; `close()` fails when any did not conform.
   */
  conformance: ConformanceRecorder;
  close(): Promise<void>;
}

/**
 * Starts a broker in process on 127.0.0.1 (ephemeral port) over `database`, with short
 * deadlines suited to tests. `env` overrides configuration variables; `logger` replaces
 * the one made from `LOG_LEVEL` (a test that reads the logs passes `captureLogs(…).logger`).
 */
export async function startTestBroker(
  database: Database,
  env: Record<string, string> = {},
  secretBox: SecretBox = SecretBox.fromSpec(SecretBox.generateSpec()),
  logger?: Logger,
): Promise<TestBroker> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const config = loadBrokerConfig({
    BROKER_PUBLIC_URL: url,
    BROKER_PROVIDER_TIMEOUT_MS: '3000',
    BROKER_SYNC_WAIT_MS: '400',
    BROKER_LEASE_MS: '6000',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    ...env,
  });
  const broker = createBroker(config, {
    database,
    logger: logger ?? createLogger('broker', config.logLevel),
    secretBox,
    checkAnswers: true,
  });
  // Loaded here, not with this module: the benchmark servers import it and need no Ajv.
  const { ConformanceRecorder } = await import('./openapi/testing/conformance.js');
  const conformance = new ConformanceRecorder();
  server.on('request', conformance.listener(broker.app));
  await broker.start();
  return {
    url,
    broker,
    secretBox,
    conformance,
    async close() {
      await broker.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (conformance.problems.length > 0) {
        throw new Error(
          `the broker's REST traffic left its OpenAPI document (GET /openapi.json) ${conformance.problems.length} time(s):\n${conformance.problems.join('\n')}`,
        );
      }
    },
  };
}

/** A minimal OSB client for tests: basic auth, version header, JSON. */
export function osbClient(
  brokerUrl: string,
  credentials: { username: string; password: string } | { token: string },
  defaults: { version?: string; originatingIdentity?: string } = {},
) {
  const authorization =
    'token' in credentials
      ? `Bearer ${credentials.token}`
      : `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  return async function request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string | undefined> = {},
  ): Promise<{ status: number; body: any; headers: Headers }> {
    const merged: Record<string, string> = { authorization, 'x-broker-api-version': defaults.version ?? '2.17' };
    if (defaults.originatingIdentity) merged['x-broker-api-originating-identity'] = defaults.originatingIdentity;
    if (body !== undefined) merged['content-type'] = 'application/json';
    for (const [key, value] of Object.entries(headers)) {
      if (value === undefined) delete merged[key];
      else merged[key] = value;
    }
    const response = await fetch(`${brokerUrl}${path}`, {
      method,
      headers: merged,
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };
}

export type OsbClient = ReturnType<typeof osbClient>;

/** Polls `last_operation` until it leaves `in progress` (or the attempts run out). */
export async function waitForOperation(
  client: OsbClient,
  path: string,
  attempts = 200,
  intervalMs = 100,
): Promise<{ status: number; body: any }> {
  let last: { status: number; body: any } = { status: 0, body: undefined };
  for (let i = 0; i < attempts; i++) {
    last = await client('GET', path);
    if (last.status !== 200 || last.body?.state !== 'in progress') return last;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return last;
}

export { type Delivery, type FakeStripe, startFakeStripe } from './billing/testing/fake-stripe.js';

import { createHmac, randomUUID } from 'node:crypto';
import dns from 'node:dns';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiToken, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import express from 'express';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BrokerContext } from '../shared/domain/context.js';
import { apiErrorHandler, authenticateApiCaller } from '../shared/http/api.js';
import { startTestBroker, type TestBroker } from '../testing.js';
import { claimDueDeliveries } from './db/webhooks.js';
import { startWebhookWorker, type WebhookWorker } from './domain/webhook-worker.js';
import {
  CONFIG_VARS_CHANGED,
  configurePlatformWebhook,
  deliverOnce,
  enqueueConfigVarsChanged,
  generateWebhookSecret,
  listWebhookDeliveries,
  MAX_WEBHOOK_RETRY_DELAY_MS,
  signWebhook,
  verifyWebhookSignature,
  type WebhookDelivery,
  webhookRetryDelayMs,
  webhookSecretKey,
} from './domain/webhooks.js';
import { webhookRouter } from './http/webhooks.router.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await sleep(25);
    value = await read();
  }
  return value;
}

describe('webhook signatures', () => {
  // 32 bytes, the way the broker issues secrets; the key is what the base64 decodes to.
  const key = Buffer.alloc(32, 7);
  const secret = `whsec_${key.toString('base64')}`;
  const otherSecret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
  const thirdSecret = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
  const id = randomUUID();
  const body = JSON.stringify({ type: CONFIG_VARS_CHANGED, app: 'shop', release: 3, changed: ['DATABASE_URL'] });
  const t = 1_800_000_000;
  const at = (seconds: number) => new Date(seconds * 1000);
  const headers = (signature: string, overrides: Record<string, string | undefined> = {}) => ({
    'webhook-id': id,
    'webhook-timestamp': String(t),
    'webhook-signature': signature,
    ...overrides,
  });

  it('signs "<id>.<t>.<body>" with HMAC-SHA256 keyed by the decoded secret, and verifies the round trip', () => {
    const signature = signWebhook(secret, { id, timestamp: t, body });
    const expected = createHmac('sha256', key).update(`${id}.${t}.${body}`).digest('base64');
    expect(signature).toBe(`v1,${expected}`);
    expect(verifyWebhookSignature({ secret, headers: headers(signature), body, now: at(t + 10) })).toEqual({
      id,
      timestamp: t,
    });
    expect(() =>
      verifyWebhookSignature({ secret, headers: headers(signature), body: Buffer.from(body), now: at(t) }),
    ).not.toThrow();
    // Fetch API headers, and names in any case.
    expect(() =>
      verifyWebhookSignature({ secret, headers: new Headers(headers(signature)), body, now: at(t) }),
    ).not.toThrow();
    expect(() =>
      verifyWebhookSignature({
        secret,
        headers: { 'Webhook-Id': id, 'Webhook-Timestamp': String(t), 'Webhook-Signature': signature },
        body,
        now: at(t),
      }),
    ).not.toThrow();
  });

  it('agrees with the standardwebhooks package both ways', () => {
    const signature = signWebhook(secret, { id, timestamp: t, body });
    expect(new Webhook(secret).sign(id, at(t), body)).toBe(signature);
    const now = Math.floor(Date.now() / 1000);
    const theirs = new Webhook(secret).sign(id, at(now), body);
    expect(() =>
      verifyWebhookSignature({ secret, headers: headers(theirs, { 'webhook-timestamp': String(now) }), body }),
    ).not.toThrow();
  });

  it('keeps the key of a secret issued as base64url', () => {
    // Secrets were issued as whsec_ + base64url before; the same bytes are the key.
    const bytes = Buffer.from('fb'.repeat(32), 'hex');
    const issued = `whsec_${bytes.toString('base64url')}`;
    expect(issued).toMatch(/[-_]/);
    const standard = `whsec_${bytes.toString('base64')}`;
    expect(webhookSecretKey(issued)).toEqual(bytes);
    expect(signWebhook(issued, { id, timestamp: t, body })).toBe(signWebhook(standard, { id, timestamp: t, body }));
    expect(generateWebhookSecret()).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(webhookSecretKey(generateWebhookSecret())).toHaveLength(32);
  });

  it('rejects timestamps outside the tolerance, in either direction', () => {
    const h = headers(signWebhook(secret, { id, timestamp: t, body }));
    expect(() => verifyWebhookSignature({ secret, headers: h, body, now: at(t + 300) })).not.toThrow();
    expect(() => verifyWebhookSignature({ secret, headers: h, body, now: at(t + 301) })).toThrow(
      /outside the tolerance of 300 s \(301 s old\)/,
    );
    expect(() => verifyWebhookSignature({ secret, headers: h, body, now: at(t - 400) })).toThrow(/400 s in the future/);
    expect(() => verifyWebhookSignature({ secret, headers: h, body, now: at(t + 50), toleranceSeconds: 30 })).toThrow(
      /tolerance of 30 s/,
    );
  });

  it('rejects a tampered body, id or timestamp, a wrong secret, and missing or malformed headers', () => {
    const signature = signWebhook(secret, { id, timestamp: t, body });
    const now = at(t);
    const verify = (h: Record<string, string | undefined>, options: { secret?: string; body?: string } = {}) =>
      verifyWebhookSignature({ secret: options.secret ?? secret, headers: h, body: options.body ?? body, now });
    expect(() => verify(headers(signature), { body: body.replace('3', '4') })).toThrow(/does not match/);
    expect(() => verify(headers(signature, { 'webhook-id': randomUUID() }))).toThrow(/does not match/);
    expect(() => verify(headers(signature, { 'webhook-timestamp': String(t + 1) }))).toThrow(/does not match/);
    expect(() => verify(headers(signature), { secret: otherSecret })).toThrow(/does not match/);
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      expect(() => verify(headers(signature, { [name]: undefined }))).toThrow(`the ${name} header is missing`);
      expect(() => verify(headers(signature, { [name]: ' ' }))).toThrow(`the ${name} header is missing`);
    }
    expect(() => verify(headers(signature, { 'webhook-id': 'a.b' }))).toThrow(/webhook-id is malformed/);
    expect(() => verify(headers(signature, { 'webhook-timestamp': 'soon' }))).toThrow(/not Unix seconds/);
    expect(() => verify(headers('garbage'))).toThrow(/"garbage" is not <version>,<signature>/);
    expect(() => verify(headers('v1,abc'))).toThrow(/not 32 bytes of base64/);
    expect(() => verify(headers(`v1a,${'A'.repeat(86)}==`))).toThrow(/no v1 signature/);
    expect(() => verify(headers(signature), { secret: `whsec_${Buffer.alloc(8).toString('base64')}` })).toThrow(
      /decodes to 8/,
    );
    expect(() => verify(headers(signature), { secret: key.toString('base64') })).toThrow(/must start with whsec_/);
    expect(() => verify(headers(signature), { secret: 'whsec_not base64!' })).toThrow(/must be base64/);
    expect(() => signWebhook('', { id, timestamp: t, body })).toThrow(/whsec_/);
    expect(() => signWebhook(secret, { id, timestamp: 1.5, body })).toThrow(/whole number of Unix seconds/);
    expect(() => signWebhook(secret, { id: 'msg.1', timestamp: t, body })).toThrow(/webhook id/);
  });

  it('accepts any of several v1 signatures (secret rotation), ignoring other versions', () => {
    const signature = `${signWebhook(otherSecret, { id, timestamp: t, body })} ${signWebhook(secret, { id, timestamp: t, body })}`;
    expect(() => verifyWebhookSignature({ secret, headers: headers(signature), body, now: at(t) })).not.toThrow();
    expect(() =>
      verifyWebhookSignature({ secret: otherSecret, headers: headers(signature), body, now: at(t) }),
    ).not.toThrow();
    expect(() =>
      verifyWebhookSignature({ secret: thirdSecret, headers: headers(signature), body, now: at(t) }),
    ).toThrow(/does not match/);
    const withV1a = `v1a,${'A'.repeat(86)}== ${signWebhook(secret, { id, timestamp: t, body })}`;
    expect(() => verifyWebhookSignature({ secret, headers: headers(withV1a), body, now: at(t) })).not.toThrow();
  });

  it('signs with several secrets at once, the new one first, space-separated', () => {
    const signature = signWebhook([secret, otherSecret], { id, timestamp: t, body });
    expect(signature).toBe(
      `${signWebhook(secret, { id, timestamp: t, body })} ${signWebhook(otherSecret, { id, timestamp: t, body })}`,
    );
    expect(() => signWebhook([], { id, timestamp: t, body })).toThrow(/at least one/);
    expect(() => signWebhook([secret, ''], { id, timestamp: t, body })).toThrow(/whsec_/);
  });

  it('backs off exponentially with jitter, capped at one hour', () => {
    expect(webhookRetryDelayMs(1, 1000, () => 0)).toBe(750);
    expect(webhookRetryDelayMs(1, 1000, () => 0.999)).toBeLessThan(1250);
    expect(webhookRetryDelayMs(3, 1000, () => 0.5)).toBe(4000);
    expect(webhookRetryDelayMs(8, 2000, () => 0.5)).toBe(256_000);
    expect(webhookRetryDelayMs(40, 2000, () => 0.999)).toBe(MAX_WEBHOOK_RETRY_DELAY_MS);
    expect(webhookRetryDelayMs(40, 2000, () => 0)).toBe(MAX_WEBHOOK_RETRY_DELAY_MS * 0.75);
  });
});

interface Received {
  /** The webhook-id header. */
  id: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** 'ok' or the verification error, of the broker's own verifier. */
  verification: string;
  /** 'ok' or the verification error, of the standardwebhooks package. */
  standard: string;
  at: number;
}

/** 'ok' when `check` passes, else its error's message. */
function outcome(check: () => unknown): string {
  try {
    check();
    return 'ok';
  } catch (error) {
    return (error as Error).message;
  }
}

interface Receiver {
  url: string;
  received: Received[];
  maxConcurrent: number;
  close(): Promise<void>;
}

/** A platform's webhook endpoint on 127.0.0.1 that verifies every signature it gets. */
async function startReceiver(options: {
  secret: () => string;
  /** The status for the n-th request (0-based), or 'hang' to never answer. */
  answer?: (n: number) => number | 'hang';
  delayMs?: number;
}): Promise<Receiver> {
  const received: Received[] = [];
  let active = 0;
  const state = { maxConcurrent: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      active += 1;
      state.maxConcurrent = Math.max(state.maxConcurrent, active);
      const body = Buffer.concat(chunks).toString('utf8');
      const secret = options.secret();
      const n = received.length;
      received.push({
        id: String(req.headers['webhook-id']),
        headers: req.headers,
        body,
        verification: outcome(() => verifyWebhookSignature({ secret, headers: req.headers, body })),
        standard: outcome(() => new Webhook(secret).verify(body, req.headers as Record<string, string>)),
        at: Date.now(),
      });
      if (options.delayMs) await sleep(options.delayMs);
      active -= 1;
      const answer = options.answer?.(n) ?? 200;
      if (answer === 'hang') return;
      res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer >= 300 ? 'busy right now' : 'thanks');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/annex`,
    received,
    get maxConcurrent() {
      return state.maxConcurrent;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('one delivery attempt', () => {
  const secret = generateWebhookSecret();
  const delivery = { id: randomUUID(), eventType: CONFIG_VARS_CHANGED, payload: { app: 'shop', release: 1 } };
  const closed = { allowPrivateNetworks: false };

  it('delivers when private networks are allowed; sends nothing to a private address when they are not', async () => {
    const receiver = await startReceiver({ secret: () => secret });
    try {
      const byName = receiver.url.replace('127.0.0.1', 'localhost');
      const options = { timeoutMs: 2_000, policy: { allowPrivateNetworks: true } };
      expect(await deliverOnce({ url: receiver.url, secret }, delivery, options)).toEqual({
        kind: 'delivered',
        status: 200,
      });
      expect(receiver.received).toHaveLength(1);

      const literal = await deliverOnce({ url: receiver.url, secret }, delivery, { timeoutMs: 2_000, policy: closed });
      expect(literal).toEqual({
        kind: 'failed',
        status: null,
        error: 'the webhook URL must not point to a loopback, private or reserved address (127.0.0.1)',
      });
      expect(await deliverOnce({ url: byName, secret }, delivery, { timeoutMs: 2_000, policy: closed })).toEqual({
        kind: 'failed',
        status: null,
        error: 'the webhook URL must not point to a local host name (localhost)',
      });
      // A public-looking name is judged by what it resolves to, when connecting.
      const realLookup = dns.lookup;
      vi.spyOn(dns, 'lookup').mockImplementation(((hostname: string, options: unknown, callback: never) => {
        if (hostname !== 'hooks.acme.example') {
          return (realLookup as never as (...a: unknown[]) => void)(hostname, options, callback);
        }
        (callback as (e: null, a: dns.LookupAddress[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
      }) as never);
      try {
        const disguised = receiver.url.replace('127.0.0.1', 'hooks.acme.example');
        expect(await deliverOnce({ url: disguised, secret }, delivery, { timeoutMs: 2_000, policy: closed })).toEqual({
          kind: 'failed',
          status: null,
          error: 'could not reach the receiver: hooks.acme.example resolves to a loopback, private or reserved address',
        });
        expect(receiver.received).toHaveLength(1);
        // The same name where private networks are open reaches the receiver.
        expect(
          await deliverOnce({ url: disguised, secret }, delivery, {
            timeoutMs: 2_000,
            policy: { allowPrivateNetworks: true },
          }),
        ).toEqual({ kind: 'delivered', status: 200 });
        expect(receiver.received).toHaveLength(2);
      } finally {
        vi.restoreAllMocks();
      }
    } finally {
      await receiver.close();
    }
  });

  it('reports the status and the start of the body of a refusal, and an interrupted attempt', async () => {
    const receiver = await startReceiver({ secret: () => secret, answer: (n) => (n === 0 ? 503 : 'hang') });
    try {
      const refused = await deliverOnce({ url: receiver.url, secret }, delivery, { timeoutMs: 2_000 });
      expect(refused).toEqual({ kind: 'failed', status: 503, error: 'the receiver answered HTTP 503: busy right now' });
      const shutdown = new AbortController();
      const pending = deliverOnce({ url: receiver.url, secret }, delivery, {
        timeoutMs: 5_000,
        signal: shutdown.signal,
      });
      await sleep(100);
      shutdown.abort();
      expect(await pending).toEqual({ kind: 'interrupted' });
    } finally {
      await receiver.close();
    }
  });
});

describe.each(testDatabaseKinds('broker webhooks'))('webhooks ($name)', (kind) => {
  let database: Database;
  let broker: TestBroker;
  let ctx: BrokerContext;
  let apiUrl: string;
  let apiServer: Server;
  let wakes = 0;

  /** Two organizations, each with an app and a platform acting for it, plus a platform without a URL. */
  async function seed() {
    const tag = randomUUID().slice(0, 8);
    const db = database.db;
    const org = async (slug: string) =>
      (
        await db
          .insertInto('organizations')
          .values({ slug: `${slug}-${tag}`, name: slug })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
    const platform = async (slug: string, orgId: string) => {
      const { id } = await db
        .insertInto('platforms')
        .values({ slug: `${slug}-${tag}`, name: slug, osb_username: `${slug}-${tag}`, osb_password_hash: 'unused' })
        .returning('id')
        .executeTakeFirstOrThrow();
      await db.insertInto('platform_organizations').values({ platform_id: id, organization_id: orgId }).execute();
      return id;
    };
    const app = async (name: string, orgId: string) =>
      (await db
        .insertInto('apps')
        .values({ name: `${name}-${tag}`, organization_id: orgId })
        .returning(['id', 'name'])
        .executeTakeFirstOrThrow()) as { id: string; name: string };
    const acme = await org('acme');
    const globex = await org('globex');
    return {
      acme,
      globex,
      acmePlatform: await platform('paas', acme),
      acmeSilentPlatform: await platform('ci', acme),
      globexPlatform: await platform('globex-paas', globex),
      acmeApp: await app('shop', acme),
      globexApp: await app('ledger', globex),
    };
  }

  const event = (app: { id: string; name: string }, organizationId: string, release: number) => ({
    appId: app.id,
    appName: app.name,
    organizationId,
    release,
    changed: ['DATABASE_URL', 'REDIS_URL'],
  });

  const deliveriesOf = async (appId: string): Promise<WebhookDelivery[]> =>
    listWebhookDeliveries(database.db, { organizationIds: 'all' }, { appId });

  const worker = (overrides: Partial<Parameters<typeof startWebhookWorker>[1]> = {}, context = ctx): WebhookWorker =>
    startWebhookWorker(context, { maxAttempts: 5, retryBaseMs: 20, timeoutMs: 2_000, ...overrides });

  async function api(method: string, path: string, token: string | null, body?: unknown) {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  beforeAll(async () => {
    database = await kind.open();
    broker = await startTestBroker(database, { BROKER_WORKERS: 'false' });
    ctx = broker.broker.context;
    const app = express();
    app.use(express.json());
    app.use(
      '/v1',
      authenticateApiCaller(ctx),
      webhookRouter(ctx, {
        wake: () => {
          wakes += 1;
        },
      }),
      apiErrorHandler,
    );
    // Its traffic is held to the OpenAPI document with the broker's own (checked when the broker closes).
    apiServer = createServer(broker.conformance.listener(app));
    await new Promise<void>((resolve) => apiServer.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(apiServer.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    apiServer?.closeAllConnections();
    await new Promise<void>((resolve) => (apiServer ? apiServer.close(() => resolve()) : resolve()));
    await broker?.close();
    await database?.close();
  });

  it('enqueues one delivery per platform of the org with a URL, never the built-in one, in the caller transaction', async () => {
    const w = await seed();
    await configurePlatformWebhook(database.db, ctx.secretBox, w.acmePlatform, 'http://127.0.0.1:9/acme');
    await configurePlatformWebhook(database.db, ctx.secretBox, w.globexPlatform, 'http://127.0.0.1:9/globex');
    // The built-in platform acts for acme and even has a URL: it must still get nothing.
    const builtIn = await database.db
      .selectFrom('platforms')
      .select('id')
      .where('slug', '=', 'annex-apps')
      .executeTakeFirstOrThrow();
    await database.db
      .insertInto('platform_organizations')
      .values({ platform_id: builtIn.id, organization_id: w.acme })
      .execute();
    await database.db
      .updateTable('platforms')
      .set({ webhook_url: 'http://127.0.0.1:9/built-in', webhook_secret_sealed: ctx.secretBox.seal('whsec_x') })
      .where('id', '=', builtIn.id)
      .execute();
    try {
      const count = await database.db
        .transaction()
        .execute((trx) => enqueueConfigVarsChanged(trx, event(w.acmeApp, w.acme, 1)));
      expect(count).toBe(1);
      const rows = await database.db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('app_id', '=', w.acmeApp.id)
        .execute();
      expect(rows.map((r) => r.platform_id)).toEqual([w.acmePlatform]);
      const row = rows[0] as (typeof rows)[number];
      expect(row).toMatchObject({ state: 'pending', attempts: 0, release_version: 1, event_type: CONFIG_VARS_CHANGED });
      expect(row.payload).toEqual({
        id: row.id,
        type: CONFIG_VARS_CHANGED,
        app: w.acmeApp.name,
        release: 1,
        changed: ['DATABASE_URL', 'REDIS_URL'],
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      // A release rolled back notifies nobody.
      await expect(
        database.db.transaction().execute(async (trx) => {
          await enqueueConfigVarsChanged(trx, event(w.acmeApp, w.acme, 2));
          throw new Error('release failed');
        }),
      ).rejects.toThrow('release failed');
      expect(await deliveriesOf(w.acmeApp.id)).toHaveLength(1);
      await expect(enqueueConfigVarsChanged(database.db, event(w.acmeApp, w.acme, 0))).rejects.toThrow(/release:/);
      expect(await deliveriesOf(w.acmeApp.id)).toHaveLength(1);
    } finally {
      await database.db
        .updateTable('platforms')
        .set({ webhook_url: null, webhook_secret_sealed: null })
        .where('id', '=', builtIn.id)
        .execute();
      // Nothing listens at port 9: finish these so later workers do not try them.
      await database.db
        .updateTable('webhook_deliveries')
        .set({ state: 'failed' })
        .where('app_id', '=', w.acmeApp.id)
        .execute();
    }
  });

  it('delivers signed JSON to the receiver as soon as it is woken', async () => {
    const w = await seed();
    let secret = '';
    const receiver = await startReceiver({ secret: () => secret });
    ({ secret } = await configurePlatformWebhook(database.db, ctx.secretBox, w.acmePlatform, receiver.url));
    const running = worker();
    try {
      await sleep(100); // the first pass has run; nothing polls
      await enqueueConfigVarsChanged(database.db, event(w.acmeApp, w.acme, 7));
      running.wake();
      await eventually(
        async () => receiver.received.length,
        (n) => n >= 1,
        3_000,
      );
      expect(receiver.received).toHaveLength(1);
      const got = receiver.received[0] as Received;
      expect(got.verification).toBe('ok');
      expect(got.standard).toBe('ok');
      expect(Math.abs(Number(got.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
      expect(got.headers['content-type']).toBe('application/json');
      expect(got.headers['user-agent']).toBe('annex-webhooks/1');
      const payload = JSON.parse(got.body);
      expect(payload).toMatchObject({ id: got.id, type: CONFIG_VARS_CHANGED, app: w.acmeApp.name, release: 7 });
      expect(payload.changed).toEqual(['DATABASE_URL', 'REDIS_URL']);
      expect(got.body).not.toContain(secret);
      const [logged] = await eventually(
        () => deliveriesOf(w.acmeApp.id),
        (d) => d[0]?.state === 'delivered',
      );
      expect(logged).toMatchObject({ id: got.id, state: 'delivered', attempts: 1, lastStatus: 200, lastError: null });
      expect(logged?.deliveredAt).not.toBeNull();
      expect(logged?.nextAttemptAt).toBeNull();
    } finally {
      await running.stop();
      await receiver.close();
    }
  });

  it('keeps signing with a stored secret issued as base64url, under the same key', async () => {
    const w = await seed();
    // A secret stored before secrets were issued in standard base64, with both url-safe characters.
    const bytes = Buffer.concat([Buffer.from('fbff', 'hex'), Buffer.alloc(30, 0x3e)]);
    const stored = `whsec_${bytes.toString('base64url')}`;
    expect(stored).toMatch(/-/);
    expect(stored).toMatch(/_/);
    const receiver = await startReceiver({ secret: () => stored });
    await database.db
      .updateTable('platforms')
      .set({ webhook_url: receiver.url, webhook_secret_sealed: ctx.secretBox.seal(stored) })
      .where('id', '=', w.acmePlatform)
      .execute();
    const running = worker();
    try {
      await enqueueConfigVarsChanged(database.db, event(w.acmeApp, w.acme, 3));
      running.wake();
      await eventually(
        async () => receiver.received.length,
        (n) => n >= 1,
        3_000,
      );
      const got = receiver.received[0] as Received;
      expect(got.verification).toBe('ok');
      // A Standard Webhooks library takes the same secret in standard base64 (docs/apps.md).
      const converted = `whsec_${Buffer.from(stored.slice('whsec_'.length), 'base64url').toString('base64')}`;
      expect(outcome(() => new Webhook(converted).verify(got.body, got.headers as Record<string, string>))).toBe('ok');
    } finally {
      await running.stop();
      await receiver.close();
    }
  });

  it('rotates the secret with an overlap: both sign until the previous one expires', async () => {
    const w = await seed();
    const platformToken = (
      await createApiToken(database.db, { kind: 'platform', name: 'p', platformId: w.acmePlatform })
    ).token;
    const rotate = (body?: unknown) => api('POST', '/v1/platforms/self/webhook/rotate', platformToken, body);
    expect(await rotate({})).toMatchObject({ status: 409, body: { error: 'conflict' } });

    let current = '';
    const receiver = await startReceiver({ secret: () => current });
    const set = await api('PUT', '/v1/platforms/self/webhook', platformToken, { url: receiver.url });
    const first = set.body.secret as string;
    for (const bad of [-1, 1.5, 7 * 86_400 + 1, 'a day']) {
      const refused = await rotate({ previousSecretValidForSeconds: bad });
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ error: 'invalid_input', field: 'previousSecretValidForSeconds' });
    }
    expect((await rotate({ other: 1 })).status).toBe(400);
    const rotated = await rotate({ previousSecretValidForSeconds: 3600 });
    expect(rotated.status).toBe(200);
    expect(rotated.body.url).toBe(receiver.url);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(first);
    const expires = Date.parse(rotated.body.previousSecretExpiresAt);
    expect(Math.abs(expires - (Date.now() + 3_600_000))).toBeLessThan(60_000);
    expect((await api('GET', '/v1/platforms/self/webhook', platformToken)).body).toEqual({
      url: receiver.url,
      previousSecretExpiresAt: rotated.body.previousSecretExpiresAt,
    });
    current = rotated.body.secret;

    const running = worker();
    const deliver = async (release: number) => {
      await enqueueConfigVarsChanged(database.db, event(w.acmeApp, w.acme, release));
      running.wake();
      const got = await eventually(
        async () => receiver.received.find((r) => JSON.parse(r.body).release === release),
        (r) => r !== undefined,
        3_000,
      );
      if (!got) throw new Error(`release ${release} was not delivered`);
      return got;
    };
    // A receiver that verifies with the standardwebhooks package and holds `secret`.
    const verifiesWith = (got: Received, secret: string) =>
      outcome(() => new Webhook(secret).verify(got.body, got.headers as Record<string, string>)) === 'ok';
    const signatures = (got: Received) => String(got.headers['webhook-signature']).split(' ');
    try {
      // During the overlap a receiver still on the old secret and one on the new both accept.
      const during = await deliver(11);
      expect(signatures(during)).toHaveLength(2);
      expect(signatures(during).every((signature) => signature.startsWith('v1,'))).toBe(true);
      expect(during.verification).toBe('ok');
      expect(verifiesWith(during, rotated.body.secret)).toBe(true);
      expect(verifiesWith(during, first)).toBe(true);

      await database.db
        .updateTable('platforms')
        .set({ webhook_previous_secret_expires_at: new Date(Date.now() - 1000) })
        .where('id', '=', w.acmePlatform)
        .execute();
      const after = await deliver(12);
      expect(signatures(after)).toHaveLength(1);
      expect(after.verification).toBe('ok');
      expect(verifiesWith(after, rotated.body.secret)).toBe(true);
      expect(verifiesWith(after, first)).toBe(false);
      expect((await api('GET', '/v1/platforms/self/webhook', platformToken)).body.previousSecretExpiresAt).toBeNull();

      // No overlap: the secret before stops signing at once.
      const immediate = await rotate({ previousSecretValidForSeconds: 0 });
      expect(immediate.body.previousSecretExpiresAt).toBeNull();
      current = immediate.body.secret;
      const next = await deliver(13);
      expect(signatures(next)).toHaveLength(1);
      expect(next.verification).toBe('ok');
      expect(verifiesWith(next, immediate.body.secret)).toBe(true);
      expect(verifiesWith(next, rotated.body.secret)).toBe(false);
    } finally {
      await running.stop();
      await receiver.close();
    }
  });

  it('retries a failed attempt after an exponential backoff and logs every attempt', async () => {
    const w = await seed();
    let secret = '';
    const receiver = await startReceiver({ secret: () => secret, answer: (n) => (n === 0 ? 500 : 200) });
    ({ secret } = await configurePlatformWebhook(database.db, ctx.secretBox, w.acmePlatform, receiver.url));
    const running = worker({ retryBaseMs: 600 });
    try {
      await enqueueConfigVarsChanged(database.db, event(w.acmeApp, w.acme, 1));
      running.wake();
      const [afterFirst] = await eventually(
        () => deliveriesOf(w.acmeApp.id),
        (d) => d[0]?.attempts === 1 && d[0]?.lastStatus === 500,
      );
      expect(afterFirst).toMatchObject({ state: 'pending', attempts: 1, lastStatus: 500 });
      expect(afterFirst?.lastError).toBe('the receiver answered HTTP 500: busy right now');
      // attempt 1 failed: the next is due after 600 ms × [0.75, 1.25)
      const delay = Date.parse(afterFirst?.nextAttemptAt as string) - Date.now();
      expect(delay).toBeGreaterThan(200);
      expect(delay).toBeLessThanOrEqual(750);
      const [done] = await eventually(
        () => deliveriesOf(w.acmeApp.id),
        (d) => d[0]?.state === 'delivered',
      );
      expect(done).toMatchObject({ state: 'delivered', attempts: 2, lastStatus: 200, lastError: null });
      expect(receiver.received).toHaveLength(2);
      const [first, second] = receiver.received as [Received, Received];
      expect(second.at - first.at).toBeGreaterThanOrEqual(430);
      expect(first.id).toBe(second.id);
      expect([first.verification, second.verification]).toEqual(['ok', 'ok']);
      expect([first.standard, second.standard]).toEqual(['ok', 'ok']);
    } finally {
      await running.stop();
      await receiver.close();
    }
  });

  it('marks a delivery failed after maxAttempts, and redelivery through the API sends it again', async () => {
    const w = await seed();
    let secret = '';
    let healthy = false;
    const receiver = await startReceiver({ secret: () => secret, answer: () => (healthy ? 204 : 503) });
    ({ secret } = await configurePlatformWebhook(database.db, ctx.secretBox, w.acmePlatform, receiver.url));
    const platformToken = (
      await createApiToken(database.db, { kind: 'platform', name: 'p', platformId: w.acmePlatform })
    ).token;
    const running = worker({ maxAttempts: 3, retryBaseMs: 10 });
    try {
      await enqueueConfigVarsChanged(database.db, event(w.acmeApp, w.acme, 4));
      running.wake();
      const [failed] = await eventually(
        () => deliveriesOf(w.acmeApp.id),
        (d) => d[0]?.state === 'failed',
      );
      expect(failed).toMatchObject({ state: 'failed', attempts: 3, lastStatus: 503, nextAttemptAt: null });
      expect(failed?.lastError).toContain('HTTP 503');
      await sleep(200);
      expect(receiver.received).toHaveLength(3);

      healthy = true;
      const wakesBefore = wakes;
      const redelivered = await api('POST', `/v1/webhook-deliveries/${failed?.id}/redeliver`, platformToken);
      expect(redelivered.status).toBe(202);
      expect(redelivered.body).toMatchObject({ id: failed?.id, state: 'pending', attempts: 3 });
      expect(wakes).toBe(wakesBefore + 1);
      running.wake(); // the router's wake belongs to the test app; this worker is separate
      const [done] = await eventually(
        () => deliveriesOf(w.acmeApp.id),
        (d) => d[0]?.state === 'delivered',
      );
      expect(done).toMatchObject({ state: 'delivered', attempts: 4, lastStatus: 204, lastError: null });
      expect(receiver.received).toHaveLength(4);
      expect(receiver.received.every((r) => r.verification === 'ok')).toBe(true);
    } finally {
      await running.stop();
      await receiver.close();
    }
  });

  it('counts no answer within the deadline as a failed attempt', async () => {
    const w = await seed();
    let secret = '';
    const receiver = await startReceiver({ secret: () => secret, answer: () => 'hang' });
    ({ secret } = await configurePlatformWebhook(database.db, ctx.secretBox, w.acmePlatform, receiver.url));
    const running = worker({ maxAttempts: 1, timeoutMs: 200 });
    try {
      await enqueueConfigVarsChanged(database.db, event(w.acmeApp, w.acme, 1));
      running.wake();
      const [failed] = await eventually(
        () => deliveriesOf(w.acmeApp.id),
        (d) => d[0]?.state === 'failed',
      );
      expect(failed).toMatchObject({ state: 'failed', attempts: 1, lastStatus: null });
      expect(failed?.lastError).toBe('no answer within 200 ms');
    } finally {
      await running.stop();
      await receiver.close();
    }
  });

  it('two workers on one database never send a delivery twice, and a crashed lease is retaken', async () => {
    const w = await seed();
    let secret = '';
    const receiver = await startReceiver({ secret: () => secret, delayMs: 30 });
    ({ secret } = await configurePlatformWebhook(database.db, ctx.secretBox, w.acmePlatform, receiver.url));
    // A dead replica leased one delivery long ago; its lease has run out.
    await enqueueConfigVarsChanged(database.db, event(w.acmeApp, w.acme, 1));
    const [crashed] = (await claimDueDeliveries(database.db, 'dead-replica', 60_000, 100)).filter(
      (d) => d.app_id === w.acmeApp.id,
    );
    expect(crashed?.attempts).toBe(1);
    for (let release = 2; release <= 25; release++) {
      await enqueueConfigVarsChanged(database.db, event(w.acmeApp, w.acme, release));
    }
    const second: BrokerContext = { ...ctx, replicaId: 'replica-b' };
    const a = worker({ concurrency: 4 });
    const b = worker({ concurrency: 4 }, second);
    try {
      const all = await eventually(
        () => deliveriesOf(w.acmeApp.id),
        (d) => d.filter((x) => x.state === 'delivered').length === 24,
      );
      expect(all.filter((x) => x.state === 'delivered')).toHaveLength(24);
      // still leased by the dead replica: not sent
      expect(receiver.received.map((r) => r.id)).not.toContain(crashed?.id);
      await database.db
        .updateTable('webhook_deliveries')
        .set({ lease_expires_at: new Date(Date.now() - 1_000) })
        .where('id', '=', crashed?.id as string)
        .execute();
      a.wake();
      const finished = await eventually(
        () => deliveriesOf(w.acmeApp.id),
        (d) => d.every((x) => x.state === 'delivered'),
      );
      expect(finished).toHaveLength(25);
      expect(finished.find((d) => d.id === crashed?.id)).toMatchObject({ state: 'delivered', attempts: 2 });
      const ids = receiver.received.map((r) => r.id);
      expect(new Set(ids).size).toBe(25);
      expect(ids).toHaveLength(25);
      expect(finished.every((d) => d.attempts === (d.id === crashed?.id ? 2 : 1))).toBe(true);
      expect(receiver.received.every((r) => r.verification === 'ok')).toBe(true);
      expect(receiver.maxConcurrent).toBeLessThanOrEqual(8);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await receiver.close();
    }
  });

  it('lets only a platform token manage its webhook, validating the URL and showing the secret once', async () => {
    const w = await seed();
    const platformToken = (
      await createApiToken(database.db, { kind: 'platform', name: 'p', platformId: w.acmePlatform })
    ).token;
    const orgToken = (await createApiToken(database.db, { kind: 'org', name: 'o', organizationId: w.acme })).token;
    const adminToken = (await createApiToken(database.db, { kind: 'admin', name: 'a' })).token;
    const url = 'https://hooks.example.test/annex';

    expect((await api('PUT', '/v1/platforms/self/webhook', null, { url })).status).toBe(401);
    for (const token of [orgToken, adminToken]) {
      const refused = await api('PUT', '/v1/platforms/self/webhook', token, { url });
      expect(refused).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    }
    for (const bad of [{ url: 'ftp://hooks.example.test/' }, { url: 'not a url' }, {}, { url: 42 }]) {
      const refused = await api('PUT', '/v1/platforms/self/webhook', platformToken, bad);
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ error: 'invalid_input', field: 'url' });
      expect(refused.body.message).toMatch(/^url: /);
    }
    expect(await api('GET', '/v1/platforms/self/webhook', platformToken)).toEqual({
      status: 200,
      body: { url: null, previousSecretExpiresAt: null },
    });

    const set = await api('PUT', '/v1/platforms/self/webhook', platformToken, { url });
    expect(set.status).toBe(200);
    expect(set.body.url).toBe(url);
    expect(set.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const stored = await database.db
      .selectFrom('platforms')
      .select(['webhook_url', 'webhook_secret_sealed'])
      .where('id', '=', w.acmePlatform)
      .executeTakeFirstOrThrow();
    expect(stored.webhook_url).toBe(url);
    expect(stored.webhook_secret_sealed).not.toContain(set.body.secret);
    expect(ctx.secretBox.open(stored.webhook_secret_sealed as string)).toBe(set.body.secret);
    expect(await api('GET', '/v1/platforms/self/webhook', platformToken)).toEqual({
      status: 200,
      body: { url, previousSecretExpiresAt: null },
    });
    const again = await api('PUT', '/v1/platforms/self/webhook', platformToken, { url });
    expect(again.body.secret).not.toBe(set.body.secret);

    // Where private networks are closed (production), a webhook may not point into them.
    const open = ctx.outbound;
    ctx.outbound = { allowPrivateNetworks: false };
    try {
      for (const [bad, reason] of [
        ['http://127.0.0.1:9000/hook', /loopback, private or reserved address \(127\.0\.0\.1\)/],
        ['http://169.254.169.254/latest/meta-data/', /reserved address \(169\.254\.169\.254\)/],
        ['http://localhost:3000/hook', /local host name \(localhost\)/],
      ] as const) {
        const refused = await api('PUT', '/v1/platforms/self/webhook', platformToken, { url: bad });
        expect(refused.status).toBe(400);
        expect(refused.body).toMatchObject({ error: 'invalid_input', field: 'url' });
        expect(refused.body.message).toMatch(reason);
      }
      expect(await api('GET', '/v1/platforms/self/webhook', platformToken)).toEqual({
        status: 200,
        body: { url, previousSecretExpiresAt: null },
      });
    } finally {
      ctx.outbound = open;
    }

    expect((await api('DELETE', '/v1/platforms/self/webhook', orgToken)).status).toBe(403);
    expect((await api('DELETE', '/v1/platforms/self/webhook', platformToken)).status).toBe(204);
    expect(await api('GET', '/v1/platforms/self/webhook', platformToken)).toEqual({
      status: 200,
      body: { url: null, previousSecretExpiresAt: null },
    });
  });

  it('shows each caller only its deliveries and answers 404 for another org’s', async () => {
    const w = await seed();
    await configurePlatformWebhook(database.db, ctx.secretBox, w.acmePlatform, 'http://127.0.0.1:9/acme');
    await configurePlatformWebhook(database.db, ctx.secretBox, w.globexPlatform, 'http://127.0.0.1:9/globex');
    await enqueueConfigVarsChanged(database.db, event(w.acmeApp, w.acme, 1));
    await enqueueConfigVarsChanged(database.db, event(w.globexApp, w.globex, 1));
    // Nothing listens there: keep workers of other tests away from these rows.
    await database.db
      .updateTable('webhook_deliveries')
      .set({ state: 'failed', attempts: 2, last_status: 500, last_error: 'the receiver answered HTTP 500' })
      .where('app_id', 'in', [w.acmeApp.id, w.globexApp.id])
      .execute();
    const token = async (input: Parameters<typeof createApiToken>[1]) =>
      (await createApiToken(database.db, input)).token;
    const acmePlatform = await token({ kind: 'platform', name: 'p', platformId: w.acmePlatform });
    const acmeSilent = await token({ kind: 'platform', name: 's', platformId: w.acmeSilentPlatform });
    const globexPlatform = await token({ kind: 'platform', name: 'g', platformId: w.globexPlatform });
    const acmeOrg = await token({ kind: 'org', name: 'o', organizationId: w.acme });
    const globexOrg = await token({ kind: 'org', name: 'go', organizationId: w.globex });
    const admin = await token({ kind: 'admin', name: 'a' });
    const ours = [w.acmeApp.name, w.globexApp.name];
    const appsSeenBy = async (t: string, query = '') => {
      const answer = await api('GET', `/v1/webhook-deliveries${query}`, t);
      expect(answer.status).toBe(200);
      return (answer.body.deliveries as WebhookDelivery[]).map((d) => d.app).filter((name) => ours.includes(name));
    };
    expect(await appsSeenBy(acmePlatform)).toEqual([w.acmeApp.name]);
    expect(await appsSeenBy(acmeSilent)).toEqual([]);
    expect(await appsSeenBy(globexPlatform)).toEqual([w.globexApp.name]);
    expect(await appsSeenBy(acmeOrg)).toEqual([w.acmeApp.name]);
    expect(await appsSeenBy(globexOrg)).toEqual([w.globexApp.name]);
    expect((await appsSeenBy(admin)).sort()).toEqual([...ours].sort());
    expect(await appsSeenBy(acmeOrg, `?app=${w.acmeApp.name}&state=failed`)).toEqual([w.acmeApp.name]);
    expect(await appsSeenBy(acmeOrg, `?app=${w.acmeApp.id}`)).toEqual([w.acmeApp.name]);
    expect(await appsSeenBy(acmeOrg, `?app=${w.acmeApp.name}&state=delivered`)).toEqual([]);
    const listed = (await api('GET', `/v1/webhook-deliveries?app=${w.acmeApp.name}`, acmeOrg)).body.deliveries[0];
    expect(listed).toMatchObject({
      app: w.acmeApp.name,
      event: CONFIG_VARS_CHANGED,
      release: 1,
      state: 'failed',
      attempts: 2,
      lastStatus: 500,
      lastError: 'the receiver answered HTTP 500',
      nextAttemptAt: null,
      deliveredAt: null,
    });
    expect(await api('GET', '/v1/webhook-deliveries?state=bogus', acmeOrg)).toMatchObject({
      status: 400,
      body: { error: 'invalid_input', field: 'state' },
    });
    expect(await api('GET', `/v1/webhook-deliveries?app=${w.globexApp.name}`, acmeOrg)).toMatchObject({
      status: 404,
      body: { error: 'not_found' },
    });

    const acmeDelivery = listed as WebhookDelivery;
    const wakesBefore = wakes;
    for (const outsider of [globexOrg, globexPlatform, acmeSilent]) {
      const refused = await api('POST', `/v1/webhook-deliveries/${acmeDelivery.id}/redeliver`, outsider);
      expect(refused).toMatchObject({ status: 404, body: { error: 'not_found' } });
    }
    expect(await api('POST', '/v1/webhook-deliveries/not-a-uuid/redeliver', acmeOrg)).toMatchObject({ status: 404 });
    expect(await api('POST', `/v1/webhook-deliveries/${randomUUID()}/redeliver`, admin)).toMatchObject({ status: 404 });
    expect(wakes).toBe(wakesBefore);
    const [untouched] = await deliveriesOf(w.acmeApp.id);
    expect(untouched).toMatchObject({ state: 'failed', attempts: 2 });

    // The platform removed its webhook: redelivery has nowhere to go.
    await api('DELETE', '/v1/platforms/self/webhook', acmePlatform);
    expect(await api('POST', `/v1/webhook-deliveries/${acmeDelivery.id}/redeliver`, acmeOrg)).toMatchObject({
      status: 409,
      body: { error: 'conflict' },
    });
    expect((await deliveriesOf(w.acmeApp.id))[0]).toMatchObject({ state: 'failed' });
  });
});

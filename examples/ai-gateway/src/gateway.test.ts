import { randomUUID } from 'node:crypto';
import { type ConformanceBroker, formatReport, runConformance, startConformanceBroker } from '@annex/sdk/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { osbClient, type StandInBroker, startStandInBroker } from './__fixtures__/stand-in-broker.js';
import { type RunningAiGateway, startExample } from './example.js';
import { SCALE_PLAN_ID, SERVICE_ID, STARTER_PLAN_ID } from './manifest.js';
import { PLAN_LIMITS } from './plans.js';
import { CHAT_MODEL, CHAT_MODEL_ALIASES, EMBEDDING_MODEL, EMBEDDING_MODEL_ALIASES } from './upstream/server.js';

const silent = { info: () => {}, warn: () => {}, error: () => {} };
const HELLO = [{ role: 'user', content: 'Hello, world!' }];
// "Hello, world!" is 4 tokens + 3 per message; the reply "You said : Hello , world !" is 7.
const HELLO_USAGE = { prompt_tokens: 7, completion_tokens: 7, total_tokens: 14 };

type Osb = ReturnType<typeof osbClient>;

async function attach(osb: Osb, planId: string, instanceId = randomUUID()) {
  const provisioned = await osb('PUT', `/v2/service_instances/${instanceId}`, {
    service_id: SERVICE_ID,
    plan_id: planId,
    organization_guid: 'org-1',
    space_guid: 'space-1',
  });
  expect(provisioned.status).toBe(201);
  return { instanceId, bind: () => bind(osb, instanceId, planId) };
}

async function bind(osb: Osb, instanceId: string, planId: string) {
  const bindingId = randomUUID();
  const bound = await osb('PUT', `/v2/service_instances/${instanceId}/service_bindings/${bindingId}`, {
    service_id: SERVICE_ID,
    plan_id: planId,
  });
  expect(bound.status).toBe(201);
  const credentials = bound.body.credentials as { OPENAI_API_KEY: string; OPENAI_BASE_URL: string };
  return { bindingId, key: credentials.OPENAI_API_KEY, baseUrl: credentials.OPENAI_BASE_URL };
}

function openai(baseUrl: string, key: string) {
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  };
  return {
    chat: (body: Record<string, unknown> = {}) =>
      call('POST', '/chat/completions', { model: CHAT_MODEL, messages: HELLO, ...body }),
    embeddings: (input: string | string[]) => call('POST', '/embeddings', { model: EMBEDDING_MODEL, input }),
    models: () => call('GET', '/models'),
  };
}

/** The `data:` payloads of an SSE body, in order. */
const sseData = (text: string) =>
  text
    .split('\n\n')
    .filter((event) => event.trim() !== '')
    .map((event) => {
      expect(event.startsWith('data: ')).toBe(true);
      return event.slice('data: '.length);
    });

describe('the AI gateway', () => {
  let kit: ConformanceBroker;
  let broker: StandInBroker;
  let clock = Date.UTC(2026, 10, 27, 12, 0, 5);
  let gateway: RunningAiGateway;
  let osb: Osb;

  beforeAll(async () => {
    kit = await startConformanceBroker();
    broker = await startStandInBroker(kit);
    gateway = await startExample({
      port: 0,
      brokerUrl: broker.url,
      providerToken: broker.token,
      usageReportIntervalMs: 3_600_000, // the tests flush themselves
      now: () => clock,
      logger: silent,
    });
    osb = osbClient(broker, gateway.url);
  });
  afterAll(async () => {
    await gateway?.close();
    await broker?.close();
    await kit?.close();
  });

  it('passes the conformance kit', async () => {
    const kitGateway = await startExample({ port: 0, brokerUrl: kit.url, logger: silent });
    try {
      const report = await runConformance({
        url: kitGateway.url,
        auth: { kind: 'jwt', broker: kit, audience: 'annex-ai' },
        pollIntervalMs: 100,
      });
      expect(
        report.checks.filter((c) => c.status === 'fail'),
        formatReport(report),
      ).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.checks.map((c) => c.name)).toContain('[ai-gateway/scale] sync: bind → 201');
    } finally {
      await kitGateway.close();
    }
  });

  it('gives each binding a key that makes chat completions (plain and streamed), embeddings and model lists', async () => {
    const { bind } = await attach(osb, STARTER_PLAN_ID);
    const { key, baseUrl } = await bind();
    expect(key).toMatch(/^sk-annex-[\w-]{43}$/);
    expect(baseUrl).toBe(gateway.openAiBaseUrl);
    const api = openai(baseUrl, key);

    const plain = await api.chat();
    expect(plain.status).toBe(200);
    expect(plain.json.object).toBe('chat.completion');
    expect(plain.json.choices[0].message).toEqual({ role: 'assistant', content: 'You said : Hello , world !' });
    expect(plain.json.usage).toEqual(HELLO_USAGE);
    expect(plain.headers.get('x-ratelimit-limit-requests')).toBe('20');

    const streamed = await api.chat({ stream: true });
    expect(streamed.status).toBe(200);
    expect(streamed.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sseData(streamed.text);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((data) => JSON.parse(data));
    expect(chunks.every((chunk) => chunk.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('')).toBe('You said : Hello , world !');
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
    // The gateway asked the upstream for usage to meter the stream, but the client did not.
    expect(chunks.some((chunk) => chunk.usage)).toBe(false);

    const withUsage = sseData((await api.chat({ stream: true, stream_options: { include_usage: true } })).text);
    expect(JSON.parse(withUsage.at(-2) as string).usage).toEqual(HELLO_USAGE);

    const embedded = await api.embeddings(['one two three', 'four']);
    expect(embedded.status).toBe(200);
    expect(embedded.json.data).toHaveLength(2);
    expect(embedded.json.data[0].embedding).toHaveLength(16);
    expect(embedded.json.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    expect((await api.embeddings(['one two three', 'four'])).json.data).toEqual(embedded.json.data);

    const models = await api.models();
    expect(models.status).toBe(200);
    expect(models.json.data.map((m: { id: string }) => m.id)).toEqual([CHAT_MODEL, EMBEDDING_MODEL]);
  });

  it('answers bad requests with OpenAI-shaped errors and counts nothing for them', async () => {
    const { bind, instanceId } = await attach(osb, STARTER_PLAN_ID);
    const { key, baseUrl } = await bind();
    const noMessages = await fetch(`${baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: CHAT_MODEL }),
    });
    expect(noMessages.status).toBe(400);
    expect(((await noMessages.json()) as any).error).toMatchObject({ type: 'invalid_request_error' });
    const notJson = await fetch(`${baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{"model":',
    });
    expect(notJson.status).toBe(400);
    const unknownModel = await openai(baseUrl, key).chat({ model: 'gpt-nope' });
    expect(unknownModel.status).toBe(404);
    expect(unknownModel.json.error.code).toBe('model_not_found');
    // Without an upstream, the error says which models there are.
    expect(unknownModel.json.error.message).toBe(
      `The model \`gpt-nope\` does not exist here. This gateway runs with its local models (no AI_GATEWAY_UPSTREAM_URL): ${CHAT_MODEL} for chat completions, also as ${CHAT_MODEL_ALIASES.join(', ')}; ${EMBEDDING_MODEL} for embeddings, also as ${EMBEDDING_MODEL_ALIASES.join(', ')}. A dated snapshot of an alias (gpt-4o-mini-2024-07-18) works too.`,
    );
    // A chat model's alias is no embedding model.
    const chatModelForEmbeddings = await fetch(`${baseUrl}/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', input: 'hello' }),
    });
    expect(chatModelForEmbeddings.status).toBe(404);
    expect(((await chatModelForEmbeddings.json()) as any).error.message).toContain(`${EMBEDDING_MODEL} for embeddings`);
    expect(await gateway.store.monthTokens(instanceId, '2026-11')).toBe(0);
  });

  it('answers common OpenAI model names with its local models, so OpenAI examples run unchanged', async () => {
    const { bind } = await attach(osb, STARTER_PLAN_ID);
    const { key, baseUrl } = await bind();
    const api = openai(baseUrl, key);
    for (const model of [
      'gpt-4o-mini',
      'gpt-4o',
      'gpt-4.1-mini',
      'gpt-3.5-turbo',
      'o4-mini',
      'gpt-4o-mini-2024-07-18',
    ]) {
      const answer = await api.chat({ model });
      expect(answer.status, model).toBe(200);
      expect(answer.json.choices[0].message.content, model).toBe('You said : Hello , world !');
      expect(answer.json.model, model).toBe(CHAT_MODEL);
    }
    const streamed = sseData((await api.chat({ model: 'gpt-4o-mini', stream: true })).text);
    expect(streamed.at(-1)).toBe('[DONE]');
    const embedded = await fetch(`${baseUrl}/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'text-embedding-3-small', input: 'hello' }),
    });
    expect(embedded.status).toBe(200);
    expect(((await embedded.json()) as any).data[0].embedding).toHaveLength(16);
  });

  it('refuses a wrong key, a key unbound a moment ago, and every key of a deprovisioned instance (401)', async () => {
    const { instanceId, bind } = await attach(osb, STARTER_PLAN_ID);
    const first = await bind();
    const second = await bind();
    const third = await bind();
    expect(new Set([first.key, second.key, third.key]).size).toBe(3);

    const wrong = await openai(gateway.openAiBaseUrl, `${first.key.slice(0, -2)}xx`).chat();
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' });
    // The gateway cannot know the attachment's name (--as AI gives AI_API_KEY): it names none wrongly.
    expect(wrong.json.error.message).toBe(
      "Incorrect or revoked API key provided. Use the key in the *_API_KEY config var of the add-on's attachment to your app (OPENAI_API_KEY by default; an attachment named AI gives AI_API_KEY).",
    );
    expect((await fetch(`${gateway.openAiBaseUrl}/models`)).status).toBe(401);

    expect((await openai(gateway.openAiBaseUrl, first.key).chat()).status).toBe(200);
    const unbound = await osb(
      'DELETE',
      `/v2/service_instances/${instanceId}/service_bindings/${first.bindingId}?service_id=${SERVICE_ID}&plan_id=${STARTER_PLAN_ID}`,
    );
    expect(unbound.status).toBe(200);
    expect((await openai(gateway.openAiBaseUrl, first.key).chat()).status).toBe(401);
    expect((await openai(gateway.openAiBaseUrl, second.key).chat()).status).toBe(200);

    const deprovisioned = await osb(
      'DELETE',
      `/v2/service_instances/${instanceId}?service_id=${SERVICE_ID}&plan_id=${STARTER_PLAN_ID}`,
    );
    expect(deprovisioned.status).toBe(200);
    for (const { key } of [second, third]) {
      const refused = await openai(gateway.openAiBaseUrl, key).embeddings('hello');
      expect(refused.status).toBe(401);
      expect(refused.json.error.code).toBe('invalid_api_key');
    }
  });

  it("enforces the plan's requests per minute, shared by the instance's keys, with a 429 and Retry-After", async () => {
    clock = Date.UTC(2026, 10, 27, 12, 1, 15); // 45 s before the next window
    const { bind } = await attach(osb, STARTER_PLAN_ID);
    const keys = [await bind(), await bind()];
    const limit = PLAN_LIMITS.starter?.requestsPerMinute as number;
    expect(limit).toBe(20);
    for (let i = 0; i < limit; i++) {
      const { key } = keys[i % 2] as { key: string };
      const answer =
        i % 3 === 0
          ? await openai(gateway.openAiBaseUrl, key).models()
          : await openai(gateway.openAiBaseUrl, key).chat();
      expect(answer.status, `request ${i + 1}`).toBe(200);
    }
    const refused = await openai(gateway.openAiBaseUrl, (keys[0] as { key: string }).key).chat();
    expect(refused.status).toBe(429);
    expect(refused.json.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
    expect(refused.headers.get('retry-after')).toBe('45');
    expect((await openai(gateway.openAiBaseUrl, (keys[1] as { key: string }).key).models()).status).toBe(429);

    clock = Date.UTC(2026, 10, 27, 12, 2, 0); // the next window
    expect((await openai(gateway.openAiBaseUrl, (keys[1] as { key: string }).key).chat()).status).toBe(200);
  });
});

describe('the AI gateway monthly token quota', () => {
  let kit: ConformanceBroker;
  let broker: StandInBroker;
  let clock = Date.UTC(2026, 10, 30, 23, 59, 0);
  let gateway: RunningAiGateway;

  beforeAll(async () => {
    kit = await startConformanceBroker();
    broker = await startStandInBroker(kit);
    gateway = await startExample({
      port: 0,
      brokerUrl: broker.url,
      planLimits: { starter: { requestsPerMinute: 1000, tokensPerMonth: 40 } },
      now: () => clock,
      logger: silent,
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await broker?.close();
    await kit?.close();
  });

  it('refuses with insufficient_quota once the month reached the quota, and admits again next month', async () => {
    const osb = osbClient(broker, gateway.url);
    const { instanceId, bind } = await attach(osb, STARTER_PLAN_ID);
    const a = openai(gateway.openAiBaseUrl, (await bind()).key);
    const b = openai(gateway.openAiBaseUrl, (await bind()).key);
    // 14 tokens each: 14, 28, then 42 (admitted at 28 < 40; it crosses the quota).
    expect((await a.chat()).status).toBe(200);
    expect((await b.chat({ stream: true })).status).toBe(200);
    expect((await a.chat()).status).toBe(200);
    expect(await gateway.store.monthTokens(instanceId, '2026-11')).toBe(42);

    const refused = await b.chat();
    expect(refused.status).toBe(429);
    expect(refused.json.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });
    expect(refused.json.error.message).toMatch(/42 of 40 tokens/);
    expect(refused.headers.get('retry-after')).toBe('60'); // until 2026-12-01T00:00Z
    expect((await a.embeddings('more')).status).toBe(429);
    expect((await a.models()).status).toBe(200); // listing models consumes no tokens
    expect(await gateway.store.monthTokens(instanceId, '2026-11')).toBe(42);

    clock = Date.UTC(2026, 11, 1, 0, 0, 1);
    expect((await b.chat()).status).toBe(200);
    expect(await gateway.store.monthTokens(instanceId, '2026-12')).toBe(14);
  });

  it('lifts the quota at once when the plan is upgraded', async () => {
    const osb = osbClient(broker, gateway.url);
    const { instanceId, bind } = await attach(osb, STARTER_PLAN_ID);
    const api = openai(gateway.openAiBaseUrl, (await bind()).key);
    for (let i = 0; i < 3; i++) expect((await api.chat()).status).toBe(200);
    expect((await api.chat()).status).toBe(429);
    const upgraded = await osb('PATCH', `/v2/service_instances/${instanceId}`, {
      service_id: SERVICE_ID,
      plan_id: SCALE_PLAN_ID,
    });
    expect(upgraded.status).toBe(200);
    const answer = await api.chat();
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-ratelimit-limit-tokens')).toBe('10000000');
  });
});

describe('the AI gateway usage reports', () => {
  let kit: ConformanceBroker;
  let broker: StandInBroker;
  let gateway: RunningAiGateway;

  beforeAll(async () => {
    kit = await startConformanceBroker();
    broker = await startStandInBroker(kit);
    gateway = await startExample({
      port: 0,
      brokerUrl: broker.url,
      providerToken: broker.token,
      usageReportIntervalMs: 3_600_000,
      logger: silent,
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await broker?.close();
    await kit?.close();
  });

  it('meters tokens per key and reports them once each, in 1k_tokens, through a lost answer and an outage', async () => {
    const osb = osbClient(broker, gateway.url);
    const { instanceId, bind } = await attach(osb, SCALE_PLAN_ID);
    const first = await bind();
    const second = await bind();
    const a = openai(gateway.openAiBaseUrl, first.key);
    const b = openai(gateway.openAiBaseUrl, second.key);
    expect((await a.chat()).status).toBe(200); // 14
    expect((await a.chat({ stream: true })).status).toBe(200); // 14
    expect((await b.embeddings('one two three')).status).toBe(200); // 3
    const month = new Date().toISOString().slice(0, 7);
    expect(await gateway.store.tokensByBinding(instanceId, month)).toEqual({
      [first.bindingId]: 28,
      [second.bindingId]: 3,
    });

    // The broker stores the batch but its answer is lost: the gateway keeps the records pending.
    broker.mode = 'lose-answers';
    await expect(gateway.flushUsage()).rejects.toThrow(/500/);
    expect(broker.stored.size).toBe(3);
    const sentOnce = broker.received.length;
    broker.mode = 'up';
    await gateway.flushUsage();
    // Re-sent with the same idempotency keys: nothing is billed twice.
    expect(broker.received.length).toBeGreaterThan(sentOnce);
    expect(broker.stored.size).toBe(3);
    const stored = [...broker.stored.values()];
    expect(stored.every((r) => r.instanceId === instanceId && r.unit === '1k_tokens')).toBe(true);
    expect(stored.map((r) => r.quantity).sort()).toEqual([0.003, 0.014, 0.014]);
    expect(new Set(broker.received.map((r) => r.idempotencyKey))).toEqual(new Set(broker.stored.keys()));

    // Nothing pending: a further flush sends nothing.
    const afterDelivery = broker.received.length;
    await gateway.flushUsage();
    expect(broker.received.length).toBe(afterDelivery);

    // The broker is down: usage waits, and is delivered once it is back.
    broker.mode = 'down';
    expect((await b.chat()).status).toBe(200);
    await expect(gateway.flushUsage()).rejects.toThrow(/503/);
    expect(broker.stored.size).toBe(3);
    broker.mode = 'up';
    await gateway.flushUsage();
    expect(broker.stored.size).toBe(4);
    const total = [...broker.stored.values()].reduce((sum, r) => sum + r.quantity, 0);
    expect(total * 1000).toBeCloseTo(14 + 14 + 3 + 14, 6);
  });

  it('reports nothing for a free plan', async () => {
    const osb = osbClient(broker, gateway.url);
    const { bind } = await attach(osb, STARTER_PLAN_ID);
    const before = broker.received.length;
    expect((await openai(gateway.openAiBaseUrl, (await bind()).key).chat()).status).toBe(200);
    await gateway.flushUsage();
    expect(broker.received.length).toBe(before);
  });
});

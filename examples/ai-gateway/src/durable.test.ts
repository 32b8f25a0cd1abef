import { randomUUID } from 'node:crypto';
import { createScratchDatabase, serverUrl } from '@annex/platform/testing';
import { type ConformanceBroker, formatReport, runConformance, startConformanceBroker } from '@annex/sdk/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { osbClient, type StandInBroker, startStandInBroker } from './__fixtures__/stand-in-broker.js';
import { type RunningAiGateway, startExample } from './example.js';
import { SCALE_PLAN_ID, SERVICE_ID } from './manifest.js';
import { CHAT_MODEL, startUpstream } from './upstream/server.js';

const silent = { info: () => {}, warn: () => {}, error: () => {} };

const chat = (baseUrl: string, key: string) =>
  fetch(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'Hello, world!' }] }),
  });

describe('the AI gateway with a configured upstream', () => {
  let kit: ConformanceBroker;
  let broker: StandInBroker;
  const closers: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    kit = await startConformanceBroker();
    broker = await startStandInBroker(kit);
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await broker?.close();
    await kit?.close();
  });

  it("forwards with the gateway's upstream key, never the caller's, and reports a refused upstream key as 502", async () => {
    const upstream = await startUpstream({ port: 0, apiKey: 'sk-upstream-secret' });
    closers.push(() => upstream.close());
    const good = await startExample({
      port: 0,
      brokerUrl: broker.url,
      upstreamUrl: upstream.baseUrl,
      upstreamApiKey: 'sk-upstream-secret',
      logger: silent,
    });
    closers.push(() => good.close());
    expect(good.upstream).toEqual({ baseUrl: upstream.baseUrl, local: false });
    const bad = await startExample({
      port: 0,
      brokerUrl: broker.url,
      upstreamUrl: upstream.baseUrl,
      upstreamApiKey: 'sk-wrong',
      logger: silent,
    });
    closers.push(() => bad.close());

    for (const [gateway, status] of [
      [good, 200],
      [bad, 502],
    ] as const) {
      const osb = osbClient(broker, gateway.url);
      const instanceId = randomUUID();
      const body = { service_id: SERVICE_ID, plan_id: SCALE_PLAN_ID };
      expect(
        (await osb('PUT', `/v2/service_instances/${instanceId}`, { ...body, organization_guid: 'o', space_guid: 's' }))
          .status,
      ).toBe(201);
      const bound = await osb('PUT', `/v2/service_instances/${instanceId}/service_bindings/${randomUUID()}`, body);
      const answer = await chat(bound.body.credentials.OPENAI_BASE_URL, bound.body.credentials.OPENAI_API_KEY);
      expect(answer.status).toBe(status);
      if (status === 502) expect(((await answer.json()) as any).error.code).toBe('upstream_unavailable');
    }
    await expect(
      startExample({ port: 0, brokerUrl: broker.url, upstreamApiKey: 'sk-x', logger: silent }),
    ).rejects.toThrow(/upstreamUrl/);
  });
});

const databaseServer = serverUrl('TEST_DATABASE_URL', 'AI gateway on PostgreSQL');

describe.runIf(databaseServer)('the AI gateway on PostgreSQL (EXAMPLE_AI_DATABASE_URL)', () => {
  let kit: ConformanceBroker;
  let broker: StandInBroker;
  let scratch: { url: string; drop(): Promise<void> };
  let gateway: RunningAiGateway | undefined;
  beforeAll(async () => {
    kit = await startConformanceBroker();
    broker = await startStandInBroker(kit);
    scratch = await createScratchDatabase(databaseServer as string);
  });
  afterAll(async () => {
    await gateway?.close();
    await broker?.close();
    await kit?.close();
    await scratch?.drop();
  });

  it('passes the conformance kit', async () => {
    const kitGateway = await startExample({ port: 0, brokerUrl: kit.url, databaseUrl: scratch.url, logger: silent });
    try {
      expect(kitGateway.storage).toBe('postgres');
      const report = await runConformance({
        url: kitGateway.url,
        auth: { kind: 'jwt', broker: kit, audience: 'annex-ai' },
        pollIntervalMs: 100,
      });
      expect(
        report.checks.filter((c) => c.status === 'fail'),
        formatReport(report),
      ).toEqual([]);
    } finally {
      await kitGateway.close();
    }
  });

  it('keeps keys, token counters and unreported usage across a restart, and reports that usage afterwards', async () => {
    const start = () =>
      startExample({
        port: 0,
        brokerUrl: broker.url,
        providerToken: broker.token,
        databaseUrl: scratch.url,
        usageReportIntervalMs: 3_600_000,
        logger: silent,
      });
    gateway = await start();
    const osb = osbClient(broker, gateway.url);
    const instanceId = randomUUID();
    const body = { service_id: SERVICE_ID, plan_id: SCALE_PLAN_ID };
    expect(
      (await osb('PUT', `/v2/service_instances/${instanceId}`, { ...body, organization_guid: 'o', space_guid: 's' }))
        .status,
    ).toBe(201);
    const bound = await osb('PUT', `/v2/service_instances/${instanceId}/service_bindings/${randomUUID()}`, body);
    const key = bound.body.credentials.OPENAI_API_KEY as string;
    expect((await chat(gateway.openAiBaseUrl, key)).status).toBe(200);

    broker.mode = 'down';
    await expect(gateway.flushUsage()).rejects.toThrow(/503/);
    await gateway.close();

    // A new process on the same database: same key, same counters, and the pending usage.
    gateway = await start();
    const month = new Date().toISOString().slice(0, 7);
    expect(await gateway.store.monthTokens(instanceId, month)).toBe(14);
    expect((await chat(gateway.openAiBaseUrl, key)).status).toBe(200);
    expect((await chat(gateway.openAiBaseUrl, 'sk-annex-not-a-key')).status).toBe(401);
    broker.mode = 'up';
    await gateway.flushUsage();
    expect([...broker.stored.values()].map((r) => [r.instanceId, r.unit, r.quantity])).toEqual([
      [instanceId, '1k_tokens', 0.014],
      [instanceId, '1k_tokens', 0.014],
    ]);
    expect(broker.stored.size).toBe(2);

    // Deprovision in the new process revokes the key issued by the old one.
    const gone = await osbClient(broker, gateway.url)(
      'DELETE',
      `/v2/service_instances/${instanceId}?service_id=${SERVICE_ID}&plan_id=${SCALE_PLAN_ID}`,
    );
    expect(gone.status).toBe(200);
    expect((await chat(gateway.openAiBaseUrl, key)).status).toBe(401);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLocalConfig, type Marketplace, startMarketplace } from '@annex/local';
import { createLogger } from '@annex/platform';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '@annex/tracing/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// One attach through the whole stack (the org's token → the catalog's GraphQL mutation → the
// broker's /v1 API → the AI gateway, an SDK provider, over OSB), traced with the standard
// OTEL_* variables to an OTLP/HTTP receiver this test runs: the catalog, the broker and the
// provider each export their spans as their own service, and all of them are one trace.

/** The AI gateway's slug: the SDK names a provider's spans after it. */
const PROVIDER = 'annex-ai';

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('one attach is one trace across the catalog, the broker and an SDK provider', () => {
  const dir = mkdtempSync(join(tmpdir(), 'annex-trace-'));
  let receiver: OtlpReceiver;
  let marketplace: Marketplace;
  let orgToken: string;

  const gql = async <T = any>(query: string, variables: Record<string, unknown> = {}, token = orgToken) => {
    const response = await fetch(`${marketplace.catalogUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
    if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join('; '));
    return body.data as T;
  };

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const tracing = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' };
    // The SDK's providers read OTEL_* from the process's environment, as OpenTelemetry SDKs do.
    Object.assign(process.env, tracing);
    const brokerPort = await freePort();
    const env: Record<string, string> = {
      ANNEX_DATA_DIR: join(dir, 'data'),
      CATALOG_PORT: '0',
      CONSOLE_PORT: '0',
      BROKER_PORT: String(brokerPort),
      CATALOG_BROKER_URL: `http://127.0.0.1:${brokerPort}`,
      EXAMPLE_AI_PORT: String(await freePort()),
      EXAMPLE_POSTGRES_PORT: String(await freePort()),
      EXAMPLE_REDIS_PORT: String(await freePort()),
      LOG_LEVEL: 'silent',
      ...tracing,
    };
    marketplace = await startMarketplace(loadLocalConfig(env), env, createLogger('annex', 'silent'));
    orgToken = marketplace.credentials?.orgToken as string;
  }, 120_000);
  afterAll(async () => {
    await marketplace?.close();
    await receiver?.close();
    for (const name of Object.keys(process.env)) if (name.startsWith('OTEL_')) delete process.env[name];
    rmSync(dir, { recursive: true, force: true });
  });

  it('has spans from the catalog, the broker and the provider under one trace id', async () => {
    // The AI gateway is listed in alpha: the organization needs an invitation to attach it.
    const credentials = marketplace.credentials as NonNullable<Marketplace['credentials']>;
    const invited = await gql(
      `mutation($input: AlphaInvitationInput!) { inviteToAlpha(input: $input) { __typename } }`,
      { input: { organization: credentials.organization, service: 'ai-gateway' } },
      credentials.adminToken,
    );
    expect(invited.inviteToAlpha.__typename).toBe('AlphaInvitationChange');
    await gql(`mutation { createApp(input: { name: "traced" }) { __typename } }`);
    const created = await gql(
      `mutation attach($input: CreateAddonInput!) { createAddon(input: $input) {
        __typename ... on CreateAddonSuccess { addon { name state } } ... on Error { message } } }`,
      { input: { app: 'traced', plan: 'ai-gateway:scale' } },
    );
    expect(created.createAddon, JSON.stringify(created.createAddon)).toMatchObject({
      __typename: 'CreateAddonSuccess',
    });

    // The catalog's span of that mutation, once the provider's spans of its trace have come too.
    const attachOperation = (spans: ReceivedSpan[]) =>
      spans.find(
        (s) =>
          s.service === 'annex-catalog' &&
          s.name === 'mutation attach' &&
          spans.some((o) => o.traceId === s.traceId && o.service === PROVIDER),
      );
    const spans = await receiver.waitFor((all) => attachOperation(all) !== undefined, 30_000);
    const operation = attachOperation(spans) as ReceivedSpan;
    expect(operation.attributes).toMatchObject({
      'graphql.operation.type': 'mutation',
      'graphql.operation.name': 'attach',
    });
    const trace = spans.filter((s) => s.traceId === operation.traceId);
    const services = new Set(trace.map((s) => s.service));
    expect([...services].sort()).toEqual([PROVIDER, 'annex-broker', 'annex-catalog']);

    // The chain: catalog request → GraphQL operation → call to the broker → broker request →
    // call to the provider → the provider's OSB request.
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const catalogRequest = trace.find((s) => s.service === 'annex-catalog' && s.kind === 2);
    expect(catalogRequest?.parentSpanId).toBeUndefined();
    expect(operation.parentSpanId).toBe(catalogRequest?.spanId);
    const brokerRequest = trace.find((s) => s.service === 'annex-broker' && s.kind === 2);
    expect(brokerRequest).toMatchObject({
      name: 'POST /v1/apps/:app/addons',
      attributes: { 'http.route': '/v1/apps/:app/addons' },
    });
    // Created (or accepted, when the provider is slower than the broker's sync wait).
    expect([201, 202]).toContain(brokerRequest?.attributes['http.response.status_code']);
    const brokerCall = byId.get(brokerRequest?.parentSpanId ?? '');
    expect(brokerCall).toMatchObject({ service: 'annex-catalog', kind: 3, name: 'POST' });
    const providerRequest = trace.find((s) => s.service === PROVIDER && s.kind === 2 && s.name.startsWith('PUT '));
    expect(providerRequest?.name).toBe('PUT /v2/service_instances/:instanceId');
    const providerCall = byId.get(providerRequest?.parentSpanId ?? '');
    expect(providerCall).toMatchObject({ service: 'annex-broker', kind: 3, name: 'PUT' });
    // The broker's SQL statements are in it too.
    expect(trace.some((s) => s.service === 'annex-broker' && s.attributes['db.system.name'] === 'postgresql')).toBe(
      true,
    );
  });
});

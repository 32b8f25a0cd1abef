import { randomUUID } from 'node:crypto';
import { createScratchDatabase, serverUrl } from '@annex/platform/testing';
import { type ConformanceBroker, type SsoClaims, startConformanceBroker } from '@annex/sdk/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { osbClient, type StandInBroker, startStandInBroker } from './__fixtures__/stand-in-broker.js';
import { DASHBOARD_COOKIE } from './dashboard.js';
import { type RunningAiGateway, startExample } from './example.js';
import { SERVICE_ID, STARTER_PLAN_ID } from './manifest.js';
import { CHAT_MODEL } from './upstream/server.js';

const silent = { info: () => {}, warn: () => {}, error: () => {} };

const databaseServer = serverUrl('TEST_DATABASE_URL', 'AI gateway dashboard on PostgreSQL');
const storages = [
  { name: 'memory', scratch: async () => undefined },
  ...(databaseServer ? [{ name: 'postgres', scratch: () => createScratchDatabase(databaseServer) }] : []),
];

// The add-on dashboard the console's "Open dashboard" lands on, behind the broker's SSO token.
describe.each(storages)('the AI gateway dashboard ($name)', (storage) => {
  let scratch: Awaited<ReturnType<typeof storage.scratch>>;
  let kit: ConformanceBroker;
  let broker: StandInBroker;
  let gateway: RunningAiGateway;
  const instanceId = randomUUID();
  const otherInstanceId = randomUUID();
  const claims = (instance: string): SsoClaims => ({
    sub: 'user-ada',
    email: 'ada@example.com',
    name: 'Ada <Lovelace>',
    org: { id: 'org-1', slug: 'acme' },
    app: { id: 'app-1', name: 'shop' },
    resource: { instanceId: instance, serviceId: SERVICE_ID, planId: STARTER_PLAN_ID },
    addon: { id: 'addon-1', name: 'ai-gateway-shiny-42' },
  });
  const sso = (
    instance: string,
    overrides: { exp?: number; iat?: number; aud?: string } = {},
    user: Partial<SsoClaims> = {},
  ) => kit.ssoToken('annex-ai', { ...claims(instance), ...user }, { iss: broker.url, ...overrides });
  const open = (token: string) =>
    fetch(`${gateway.url}/sso?token=${encodeURIComponent(token)}`, { redirect: 'manual' });
  const cookieFrom = (response: Response) => (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const dashboard = (instance: string, cookie?: string) =>
    fetch(`${gateway.url}/dashboard/${instance}`, { headers: cookie ? { cookie } : {} });

  beforeAll(async () => {
    kit = await startConformanceBroker();
    broker = await startStandInBroker(kit);
    scratch = await storage.scratch();
    gateway = await startExample({
      port: 0,
      brokerUrl: broker.url,
      logger: silent,
      ...(scratch ? { databaseUrl: scratch.url } : {}),
    });
    const osb = osbClient(broker, gateway.url);
    for (const id of [instanceId, otherInstanceId]) {
      const body = { service_id: SERVICE_ID, plan_id: STARTER_PLAN_ID, organization_guid: 'o', space_guid: 's' };
      expect((await osb('PUT', `/v2/service_instances/${id}`, body)).status).toBe(201);
    }
    const keys: string[] = [];
    for (let i = 0; i < 2; i++) {
      const bound = await osb('PUT', `/v2/service_instances/${instanceId}/service_bindings/${randomUUID()}`, {
        service_id: SERVICE_ID,
        plan_id: STARTER_PLAN_ID,
      });
      expect(bound.status).toBe(201);
      keys.push(bound.body.credentials.OPENAI_API_KEY);
    }
    const chat = await fetch(`${gateway.openAiBaseUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys[0]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'Hello, world!' }] }),
    });
    expect(chat.status).toBe(200);
  });
  afterAll(async () => {
    await gateway?.close();
    await broker?.close();
    await kit?.close();
    await scratch?.drop();
  });

  it('signs the user in from the SSO token and shows the add-on’s keys and usage', async () => {
    const arrival = await open(await sso(instanceId));
    expect(arrival.status).toBe(302);
    expect(arrival.headers.get('location')).toBe(`/dashboard/${instanceId}`);
    const setCookie = arrival.headers.get('set-cookie') ?? '';
    expect(setCookie).toContain(`${DASHBOARD_COOKIE}=`);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    const page = await dashboard(instanceId, cookieFrom(arrival));
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<dd data-testid="keys">2</dd>');
    // "Hello, world!": 7 prompt tokens + 7 completion tokens.
    expect(html).toContain('<dd data-testid="tokens">14</dd>');
    expect(html).toContain('<dd data-testid="plan">starter</dd>');
    expect(html).toContain('Ada &lt;Lovelace&gt;');
    expect(html).not.toContain('Ada <Lovelace>');
  });

  it('names a person without an email address, and an API token as a token', async () => {
    const signedIn = async (user: Partial<SsoClaims>) => {
      const arrival = await open(await sso(instanceId, {}, user));
      expect(arrival.status).toBe(302);
      return (await dashboard(instanceId, cookieFrom(arrival))).text();
    };
    const person = await signedIn({ sub: 'user-grace', kind: 'person', email: undefined, name: 'Grace Hopper' });
    expect(person).toContain('Signed in as Grace Hopper for');
    expect(person).not.toContain('undefined');
    const token = await signedIn({ sub: 'token:t-1', kind: 'token', email: undefined, name: 'deploy bot' });
    expect(token).toContain('Signed in as the API token deploy bot for');
  });

  it('refuses the page without a session, with a forged one, or for another instance', async () => {
    expect((await dashboard(instanceId)).status).toBe(401);
    expect((await dashboard(instanceId, `${DASHBOARD_COOKIE}=e30.forged`)).status).toBe(401);
    const arrival = await open(await sso(instanceId));
    const cookie = cookieFrom(arrival);
    expect((await dashboard(otherInstanceId, cookie)).status).toBe(401);
    const [payload] = cookie.slice(DASHBOARD_COOKIE.length + 1).split('.');
    const tampered = JSON.parse(Buffer.from(payload as string, 'base64url').toString());
    tampered.instanceId = otherInstanceId;
    const forged = `${DASHBOARD_COOKIE}=${Buffer.from(JSON.stringify(tampered)).toString('base64url')}.${cookie.split('.')[1]}`;
    expect((await dashboard(otherInstanceId, forged)).status).toBe(401);
  });

  it('refuses a replayed, expired or wrong-audience SSO token, and signs no one in', async () => {
    const token = await sso(instanceId);
    expect((await open(token)).status).toBe(302);
    const now = Math.floor(Date.now() / 1000);
    for (const refused of [
      token,
      await sso(instanceId, { iat: now - 120, exp: now - 60 }),
      await sso(instanceId, { aud: 'someone-else' }),
    ]) {
      const response = await open(refused);
      expect(response.status).toBe(401);
      expect(response.headers.get('set-cookie')).toBeNull();
    }
  });
});

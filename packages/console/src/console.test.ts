import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { publishManifest } from '@annex/catalog';
import { ALL_SCOPES } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleBilling, billingDocuments } from './billing.js';
import { createCatalogClient } from './catalog-client.js';
import { hashSessionId, sweepExpiredSessions } from './sessions.js';
import { inputValue, TestClient } from './test-client.js';
import { type ConsoleStack, signInAsDeveloper, startConsoleStack } from './testing.js';

// The console over HTTP with the development sign-in: sessions in the database, CSRF on
// every state-changing request, cookie flags, logout, and the pages over a real catalog,
// broker and provider.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const signIn = signInAsDeveloper;

const csrfOf = (html: string) => inputValue(html, '_csrf');

describe.each(testDatabaseKinds('console sessions'))('the console with the development sign-in on $name', (kind) => {
  let stack: ConsoleStack;
  beforeAll(async () => {
    stack = await startConsoleStack({}, kind);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('labels the development sign-in and refuses it without the CSRF token', async () => {
    const client = new TestClient();
    const page = await client.request(`${stack.consoleUrl}/signin`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<html lang="en">');
    expect(page.body).toContain('Development sign-in');
    expect(page.body).toContain('OIDC_ISSUER_URL is unset');
    for (const form of [{}, { _csrf: 'not-the-token' }] as Record<string, string>[]) {
      const refused = await client.request(`${stack.consoleUrl}/auth/development`, { form });
      expect(refused.status).toBe(403);
      expect(refused.body).toContain('CSRF check failed');
    }
    // A cross-site form with the right token is refused as well.
    const crossSite = await client.request(`${stack.consoleUrl}/auth/development`, {
      form: { _csrf: csrfOf(page.body) },
      headers: { origin: 'https://evil.example' },
    });
    expect(crossSite.status).toBe(403);
    expect(await stack.database.db.selectFrom('console_sessions').select('id_hash').execute()).toEqual([]);
  });

  it('answers forms it cannot read with a 4xx page, never a 500', async () => {
    const client = new TestClient();
    const page = await client.request(`${stack.consoleUrl}/signin`);
    const token = csrfOf(page.body);
    // As many characters as the token, but not its bytes.
    const accented = await client.request(`${stack.consoleUrl}/auth/development`, {
      form: { _csrf: 'é'.repeat(token.length) },
    });
    expect(accented.status).toBe(403);
    const crowded = await client.request(`${stack.consoleUrl}/auth/development`, {
      form: Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`f${i}`, 'x'])),
    });
    expect(crowded.status).toBe(413);
    expect(crowded.body).toContain('Bad request');
    // No form at all, the token in the header instead.
    const bodiless = await client.request(`${stack.consoleUrl}/auth/development`, {
      method: 'POST',
      headers: { 'x-csrf-token': token },
    });
    expect(bodiless.status).toBeLessThan(500);
  });

  it('signs in with an httpOnly, SameSite=Lax session cookie backed by a database row and a sealed org token', async () => {
    const client = await signIn(stack);
    const cookie = client.lastSetCookies.find((c) => c.startsWith('annex_session='));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Secure/); // the public URL is http
    const sessionId = client.cookies.get('annex_session') as string;
    const row = await stack.database.db
      .selectFrom('console_sessions')
      .selectAll()
      .where('id_hash', '=', hashSessionId(sessionId))
      .executeTakeFirstOrThrow();
    expect(row.api_token_sealed).not.toContain('annex_org_');
    const token = await stack.database.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('id', '=', row.api_token_id as string)
      .executeTakeFirstOrThrow();
    expect(token.kind).toBe('org');
    // The development user is the demo organization's admin: every scope, values included.
    expect(token.scopes).toEqual(ALL_SCOPES);
    expect(Math.abs((token.expires_at as Date).getTime() - row.expires_at.getTime())).toBeLessThan(1000);
    const apps = await client.request(`${stack.consoleUrl}/apps`);
    expect(apps.status).toBe(200);
    expect(apps.body).toContain('Apps of demo');
    expect(apps.body).toContain('development sign-in');
  });

  it('sends a signed-out visitor to the sign-in page and ignores a forged session cookie', async () => {
    const client = new TestClient();
    client.cookies.set('annex_session', 'x'.repeat(43));
    const res = await client.request(`${stack.consoleUrl}/apps/web`);
    expect(res.status).toBe(303);
    expect(res.location).toBe(`${stack.consoleUrl}/signin?returnTo=%2Fapps%2Fweb`);
  });

  it('browses and searches the catalog by category and shows the plan parameters form', async () => {
    const client = await signIn(stack);
    const all = await client.request(`${stack.consoleUrl}/catalog`);
    expect(all.body).toContain('Console KV');
    expect(all.body).toMatch(/databases \(1\)/);
    expect((await client.request(`${stack.consoleUrl}/catalog?category=CACHES`)).body).not.toContain('Console KV');
    expect((await client.request(`${stack.consoleUrl}/catalog?q=key-val`)).body).toContain('Console KV');
    expect((await client.request(`${stack.consoleUrl}/catalog?q=zebra`)).body).toContain('0 services');
    const noApp = await client.request(`${stack.consoleUrl}/services/console-kv`);
    expect(noApp.body).toContain('Your organization has no app yet');
    await client.request(`${stack.consoleUrl}/apps`, { form: { name: 'shop', _csrf: csrfOf(noApp.body) } });
    const service = await client.request(`${stack.consoleUrl}/services/console-kv`);
    expect(service.body).toContain('$25.00/month');
    // A manifest that names no stage lists its services BETA, and the page says what that means.
    expect(service.body).toContain('<h1>Console KV <span class="badge">beta</span></h1>');
    expect(service.body).toContain('<p role="status" class="notice">Beta: public, not yet generally available.</p>');
    expect(service.body).toContain('eu-west, us-east');
    // Generated from the plan's JSON Schema: an enum select, a bounded number, a checkbox, all labelled.
    expect(service.body).toMatch(
      /<label for="param-region">region <span class="req">\(required\)<\/span><\/label><select id="param-region" name="p.region" required/,
    );
    expect(service.body).toMatch(/<input type="number" id="param-size" name="p.size" step="1" min="1" max="10"/);
    expect(service.body).toMatch(/<input type="checkbox" id="param-tls" name="p.tls"/);
  });

  it('creates an app, previews the attach, attaches, and shows the vars, releases and revealed values', async () => {
    const client = await signIn(stack);
    const apps = await client.request(`${stack.consoleUrl}/apps`);
    // Without the CSRF token nothing is created.
    expect((await client.request(`${stack.consoleUrl}/apps`, { form: { name: 'web' } })).status).toBe(403);
    expect((await client.request(`${stack.consoleUrl}/apps/web`)).status).toBe(404);
    const created = await client.request(`${stack.consoleUrl}/apps`, {
      form: { name: 'web', _csrf: csrfOf(apps.body) },
    });
    expect(created).toMatchObject({ status: 303, location: `${stack.consoleUrl}/apps/web` });

    const bad = await client.request(
      `${stack.consoleUrl}/services/console-kv/preflight?app=web&plan=hobby&p.region=mars`,
    );
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('region: must be one of eu-west, us-east');
    const preflight = await client.request(
      `${stack.consoleUrl}/services/console-kv/preflight?app=web&plan=hobby&p.region=eu-west&p.size=2&p.tls=true`,
    );
    expect(preflight.status).toBe(200);
    expect(preflight.body).toContain('<code>KV_URL</code>');
    expect(preflight.body).toContain('Free');
    expect(preflight.body).toContain('Collisions</dt><dd>None');
    const form = {
      _csrf: csrfOf(preflight.body),
      app: 'web',
      plan: 'hobby',
      as: '',
      parameters: inputValue(preflight.body, 'parameters').replace(/&quot;/g, '"'),
    };
    expect(JSON.parse(form.parameters)).toEqual({ region: 'eu-west', size: 2, tls: true });
    const attached = await client.request(`${stack.consoleUrl}/services/console-kv/attach`, { form });
    expect(attached.status).toBe(303);
    expect(attached.location).toMatch(/\/apps\/web\?created=console-kv-/);

    let page = await client.request(`${stack.consoleUrl}/apps/web`);
    for (let i = 0; i < 100 && !page.body.includes('state-attached'); i++) {
      await sleep(100);
      page = await client.request(`${stack.consoleUrl}/apps/web`);
    }
    expect(page.body).toContain('state-attached');
    expect(page.body).toContain('<code>KV_URL</code>');
    expect(page.body).toContain('Open dashboard');
    expect(page.body).toMatch(/<strong>v1<\/strong>/);
    expect(page.body).not.toContain('kv://');
    const revealed = await client.request(`${stack.consoleUrl}/apps/web?reveal=1`);
    expect(revealed.body).toMatch(/<code class="value">kv:\/\//);

    // A second attach of the same service collides on KV_URL: the preflight says so and offers no confirm.
    const collision = await client.request(
      `${stack.consoleUrl}/services/console-kv/preflight?app=web&plan=hobby&p.region=eu-west`,
    );
    expect(collision.body).toContain('<code>KV_URL</code> is already set');
    expect(collision.body).not.toContain('Confirm and attach');

    const billing = await client.request(`${stack.consoleUrl}/billing`);
    expect(billing.status).toBe(200);
    expect(billing.body).toContain('Usage this month');
    expect(billing.body).toMatch(/<tr><td>web<\/td><th scope="row">console-kv-[a-z]+-\d{4}<\/th><td>[^<]*hobby/);
    expect(billing.body).toContain('Invoices');
    expect(billing.body).toMatch(/console-kv:hobby<\/td><td>Free/);
  });

  it('refuses a taken or invalid app name on the apps page, with the reason and the name to fix', async () => {
    const client = await signIn(stack);
    const csrf = csrfOf((await client.request(`${stack.consoleUrl}/apps`)).body);
    const create = (name: string) => client.request(`${stack.consoleUrl}/apps`, { form: { name, _csrf: csrf } });
    expect((await create('once-only')).status).toBe(303);
    const taken = await create('once-only');
    expect(taken.status).toBe(409);
    expect(taken.body).toContain('<p role="alert" class="error">app name &quot;once-only&quot; is taken</p>');
    expect(taken.body).toContain('<a href="/apps/once-only">once-only</a>');
    expect(inputValue(taken.body, 'name')).toBe('once-only');
    const invalid = await create('Not Valid!');
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatch(/<p role="alert" class="error">name: [^<]+<\/p>/);
    expect(inputValue(invalid.body, 'name')).toBe('Not Valid!');
  });

  it('loads /billing with one GraphQL document besides the apps, however many add-ons', async () => {
    const client = await signIn(stack);
    const billingPageOf = async () => {
      stack.catalogQueries.length = 0;
      const page = await client.request(`${stack.consoleUrl}/billing`);
      expect(page.status).toBe(200);
      expect(page.body).not.toContain('could not be loaded');
      const queries = [...stack.catalogQueries];
      return { page, queries, billing: queries.filter((q) => /billingAccount|usage\(/.test(q.query)) };
    };
    const before = await billingPageOf();
    expect(before.queries).toHaveLength(2);
    expect(before.billing).toHaveLength(1);

    // Two more apps with two add-ons each: still one document for the billing data.
    const csrf = csrfOf(before.page.body);
    for (const app of ['bill-one', 'bill-two']) {
      expect((await client.request(`${stack.consoleUrl}/apps`, { form: { name: app, _csrf: csrf } })).status).toBe(303);
      for (const plan of ['hobby', 'pro']) {
        // The attachment names keep the two add-ons' config vars apart.
        const parameters = plan === 'hobby' ? '{"region":"eu-west"}' : '{}';
        const attached = await client.request(`${stack.consoleUrl}/services/console-kv/attach`, {
          form: { _csrf: csrf, app, plan, as: plan.toUpperCase(), parameters },
        });
        expect(attached.status).toBe(303);
      }
    }
    const after = await billingPageOf();
    expect(after.queries).toHaveLength(2);
    expect(after.billing).toHaveLength(1);
    const document = after.billing[0] as (typeof after.billing)[number];
    expect(Object.values(document.variables ?? {})).toEqual(expect.arrayContaining(['bill-one', 'bill-two']));
    expect(document.query).not.toContain('bill-one');
    for (const app of ['bill-one', 'bill-two']) {
      expect(after.page.body).toMatch(
        new RegExp(`<tr><td>${app}</td><th scope="row">[^<]+</th><td>console-kv:hobby</td><td>Free</td></tr>`),
      );
      expect(after.page.body).toMatch(
        new RegExp(`<tr><td>${app}</td><th scope="row">[^<]+</th><td>console-kv:pro</td><td>\\$25\\.00</td></tr>`),
      );
    }

    // Past the catalog's alias limit (15 by default) the usage takes a second document, which
    // the real catalog accepts like the first.
    for (let i = Object.keys(document.variables ?? {}).length; i < 17; i++) {
      const created = await client.request(`${stack.consoleUrl}/apps`, {
        form: { name: `bill-more-${i}`, _csrf: csrf },
      });
      expect(created.status).toBe(303);
    }
    const many = await billingPageOf();
    expect(many.queries).toHaveLength(3);
    expect(many.billing).toHaveLength(2);
    expect(many.page.body).toContain('Usage this month');
  });

  it("gets the account and the other apps' usage from the real catalog when one app is gone", async () => {
    const client = await signIn(stack);
    const apps = await client.request(`${stack.consoleUrl}/apps`);
    const created = await client.request(`${stack.consoleUrl}/apps`, {
      form: { name: 'still-here', _csrf: csrfOf(apps.body) },
    });
    expect(created.status).toBe(303);
    // As if "gone-meanwhile" had been deleted between the apps list and the billing document.
    const names = ['still-here', 'gone-meanwhile'];
    const catalog = createCatalogClient(stack.catalogUrl);
    const answers = await Promise.all(
      billingDocuments(names).map(({ query, variables }) => catalog.query(stack.orgToken, query, variables)),
    );
    expect(answers.flatMap((a) => a.errors)).toEqual([
      { message: expect.stringContaining('"gone-meanwhile"'), path: ['u1'] },
    ]);
    const billing = assembleBilling(
      names,
      answers.map((a) => a.data),
    );
    expect(billing.billingAccount).toMatchObject({ mode: 'ledger-only', status: 'good' });
    expect(billing.invoices).toEqual([]);
    expect(billing.usage.map((u) => u.app)).toEqual(['still-here']);
    expect(billing.usageMissing).toEqual(['gone-meanwhile']);
  });

  it('relays the app events as server-sent events', async () => {
    const client = await signIn(stack);
    const abort = new AbortController();
    const res = await fetch(`${stack.consoleUrl}/apps/web/events`, {
      headers: { cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
      signal: abort.signal,
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const deadline = Date.now() + 10_000;
    while (!text.includes('attachment.attached') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    abort.abort();
    expect(text).toMatch(/event: addon\ndata: \{[^\n]*"kind":"addon.provisioning"/);
    expect(text).toContain('attachment.attached');
  });

  it('starts the live events after the last event the page was rendered with', async () => {
    const client = await signIn(stack);
    const page = await client.request(`${stack.consoleUrl}/apps/web`);
    const after = page.body.match(/<ol id="events" data-app="web" data-after="(\d+)"/)?.[1];
    expect(Number(after)).toBeGreaterThan(0);
    const cookie = [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const bad = await fetch(`${stack.consoleUrl}/apps/web/events?after=latest`, { headers: { cookie } });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe('after: must be an event id (digits)');

    const abort = new AbortController();
    const res = await fetch(`${stack.consoleUrl}/apps/web/events?after=${after}`, {
      headers: { cookie },
      signal: abort.signal,
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    // Something happens after the page: only that arrives, none of what the page showed.
    const set = await client.request(`${stack.consoleUrl}/apps/web/config`, {
      form: { _csrf: csrfOf(page.body), name: 'LIVE_MARK', value: 'on' },
    });
    expect(set.status).toBe(303);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const deadline = Date.now() + 10_000;
    while (!text.includes('release.created') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    abort.abort();
    const events = [...text.matchAll(/^data: (.*)$/gm)].map(
      (m) => JSON.parse(m[1] as string) as { id: string; kind: string },
    );
    expect(events.map((e) => e.kind)).toEqual(['release.created']);
    expect(Number(events[0]?.id)).toBeGreaterThan(Number(after));
  });

  it('ends the live events of a session that signs out or expires, relaying nothing written after', async () => {
    const ends = {
      'signing out': async (client: TestClient) => {
        const page = await client.request(`${stack.consoleUrl}/apps`);
        const out = await client.request(`${stack.consoleUrl}/auth/logout`, { form: { _csrf: csrfOf(page.body) } });
        expect(out.status).toBe(303);
      },
      expiry: async (client: TestClient) => {
        // What the passing of time does: the session and the token minted with it lapse together.
        const row = await stack.database.db
          .updateTable('console_sessions')
          .set({ expires_at: new Date(Date.now() - 1000) })
          .where('id_hash', '=', hashSessionId(client.cookies.get('annex_session') as string))
          .returning('api_token_id')
          .executeTakeFirstOrThrow();
        await stack.database.db
          .updateTable('api_tokens')
          .set({ expires_at: new Date(Date.now() - 1000) })
          .where('id', '=', row.api_token_id as string)
          .execute();
      },
    };
    for (const [how, end] of Object.entries(ends)) {
      const client = await signIn(stack);
      const res = await fetch(`${stack.consoleUrl}/apps/web/events`, {
        headers: { cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
        signal: AbortSignal.timeout(30_000),
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = '';
      const readUntil = async (done: () => boolean) => {
        while (!done()) {
          const { value, done: ended } = await reader.read();
          if (ended) return true;
          text += decoder.decode(value, { stream: true });
        }
        return false;
      };
      await readUntil(() => text.includes('attachment.attached'));
      await end(client);
      const reason = `written after ${how}`;
      const change = await fetch(`${stack.catalogUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.orgToken}` },
        body: JSON.stringify({
          query: 'mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) { __typename } }',
          variables: { input: { app: 'web', vars: { WATCHED: how }, reason } },
        }),
      });
      expect(((await change.json()) as any).data.setConfigVars.__typename).toBe('SetConfigVarsSuccess');

      expect(await readUntil(() => false), how).toBe(true);
      expect(text, how).not.toContain(reason);
      expect(text, how).toMatch(/event: failure\ndata: [^\n]*revoked/);
      // Signed out either way (an expired session is ended when next seen).
      expect((await client.request(`${stack.consoleUrl}/apps`)).status).toBe(303);
    }
  }, 60_000);

  it('logs out only with the CSRF token, deleting the session and revoking its token', async () => {
    const client = await signIn(stack);
    const sessionId = client.cookies.get('annex_session') as string;
    const row = await stack.database.db
      .selectFrom('console_sessions')
      .select(['api_token_id', 'api_token_sealed'])
      .where('id_hash', '=', hashSessionId(sessionId))
      .executeTakeFirstOrThrow();
    const page = await client.request(`${stack.consoleUrl}/apps`);
    expect((await client.request(`${stack.consoleUrl}/auth/logout`, { form: {} })).status).toBe(403);
    expect((await client.request(`${stack.consoleUrl}/apps`)).status).toBe(200);
    const out = await client.request(`${stack.consoleUrl}/auth/logout`, { form: { _csrf: csrfOf(page.body) } });
    expect(out).toMatchObject({ status: 303, location: `${stack.consoleUrl}/signin` });
    expect(client.cookies.has('annex_session')).toBe(false);
    const left = await stack.database.db
      .selectFrom('console_sessions')
      .select('id_hash')
      .where('id_hash', '=', hashSessionId(sessionId))
      .execute();
    expect(left).toEqual([]);
    const revoked = await stack.database.db
      .selectFrom('api_tokens')
      .select('revoked_at')
      .where('id', '=', row.api_token_id as string)
      .executeTakeFirstOrThrow();
    expect(revoked.revoked_at).not.toBeNull();
    // The old cookie no longer works either.
    client.cookies.set('annex_session', sessionId);
    expect((await client.request(`${stack.consoleUrl}/apps`)).status).toBe(303);
  });

  it('ends an expired session and revokes its token', async () => {
    const client = await signIn(stack);
    const idHash = hashSessionId(client.cookies.get('annex_session') as string);
    const row = await stack.database.db
      .updateTable('console_sessions')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id_hash', '=', idHash)
      .returning('api_token_id')
      .executeTakeFirstOrThrow();
    expect((await client.request(`${stack.consoleUrl}/apps`)).status).toBe(303);
    const token = await stack.database.db
      .selectFrom('api_tokens')
      .select('revoked_at')
      .where('id', '=', row.api_token_id as string)
      .executeTakeFirstOrThrow();
    expect(token.revoked_at).not.toBeNull();
  });

  it('pages through a category of more services than one page holds, forward and back to the first', async () => {
    const services = Array.from({ length: 60 }, (_, i) => {
      const n = String(i).padStart(2, '0');
      return {
        id: `svc-pager-${n}`,
        slug: `zz-pager-${n}`,
        name: `Zz Pager ${n}`,
        description: 'One of many, to page through',
        category: 'queues',
        bindable: true,
        plans: [{ id: `plan-pager-${n}`, slug: 'free', description: 'Free' }],
      };
    });
    const published = await publishManifest(
      stack.database.db,
      { kind: 'admin', tokenId: 'pager-test', scopes: [] },
      { slug: 'pager', name: 'Pager Co', osb: { url: stack.providerUrl }, services },
    );
    expect(published.ok).toBe(true);
    const client = await signIn(stack);
    const first = await client.request(`${stack.consoleUrl}/catalog?category=QUEUES`);
    expect(first.body).toContain('1–50 of 60 services');
    expect(first.body).toContain('Zz Pager 00');
    expect(first.body).not.toContain('Zz Pager 50');
    expect(first.body).not.toContain('First page');
    const next = /<a href="([^"]+)" rel="next">Next page<\/a>/.exec(first.body)?.[1]?.replaceAll('&amp;', '&');
    expect(next).toMatch(/^\/catalog\?category=QUEUES&after=.+&from=51$/);
    const second = await client.request(`${stack.consoleUrl}${next}`);
    expect(second.body).toContain('51–60 of 60 services');
    expect(second.body).toContain('Zz Pager 50');
    expect(second.body).toContain('Zz Pager 59');
    expect(second.body).not.toContain('Zz Pager 49');
    expect(second.body).not.toContain('rel="next"');
    expect(second.body).toContain('<a href="/catalog?category=QUEUES">First page</a>');
    // A cursor that is not one (edited, or from another search) starts the listing again.
    const mangled = await client.request(`${stack.consoleUrl}/catalog?category=QUEUES&after=nonsense&from=51`);
    expect(mangled).toMatchObject({ status: 303, location: `${stack.consoleUrl}/catalog?category=QUEUES` });
  });

  it('sweeps expired sessions never seen again, in batches, and leaves live ones alone', async () => {
    const db = stack.database.db;
    const live = await signIn(stack);
    const expired = await Promise.all([signIn(stack), signIn(stack), signIn(stack)]);
    const expiredHashes = expired.map((client) => hashSessionId(client.cookies.get('annex_session') as string));
    const tokens = await db
      .updateTable('console_sessions')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id_hash', 'in', expiredHashes)
      .returning('api_token_id')
      .execute();
    expect(tokens).toHaveLength(3);
    // Batches of two: the sweep goes on until a batch comes back short.
    expect(await sweepExpiredSessions(db, 2)).toBe(3);
    expect(await sweepExpiredSessions(db, 2)).toBe(0);
    const left = await db
      .selectFrom('console_sessions')
      .select('id_hash')
      .where('id_hash', 'in', expiredHashes)
      .execute();
    expect(left).toEqual([]);
    const revoked = await db
      .selectFrom('api_tokens')
      .select('revoked_at')
      .where(
        'id',
        'in',
        tokens.map((t) => t.api_token_id as string),
      )
      .execute();
    expect(revoked.map((t) => t.revoked_at === null)).toEqual([false, false, false]);
    expect((await live.request(`${stack.consoleUrl}/apps`)).status).toBe(200);
  });
});

describe('the console behind https', () => {
  let stack: ConsoleStack;
  beforeAll(async () => {
    stack = await startConsoleStack({ CONSOLE_PUBLIC_URL: 'https://console.example.com' });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('sets Secure, __Host- prefixed cookies', async () => {
    const client = new TestClient();
    const page = await client.request(`${stack.consoleUrl}/signin`);
    expect(client.lastSetCookies[0]).toMatch(
      /^__Host-annex_csrf=[^;]+; Max-Age=\d+; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/,
    );
    const res = await client.request(`${stack.consoleUrl}/auth/development`, {
      form: { _csrf: inputValue(page.body, '_csrf') },
      headers: { origin: 'https://console.example.com' },
    });
    expect(res.status).toBe(303);
    const session = client.lastSetCookies.find((c) => c.startsWith('__Host-annex_session='));
    expect(session).toMatch(/HttpOnly; Secure; SameSite=Lax/);
    expect(session).toMatch(/Path=\//);
    expect(session).not.toMatch(/Domain=/);
  });
});

// A catalog stand-in that answers in part (data with errors): the console renders what came
// and says what failed; only a null the catalog reports no error about is "not found".
describe('the console over a catalog that answers in part', () => {
  let stack: ConsoleStack;
  let catalog: Server;
  let answer: (query: string) => unknown = () => ({});
  const received: string[] = [];
  beforeAll(async () => {
    catalog = createServer(async (req, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      const { query } = JSON.parse(text) as { query: string };
      received.push(query);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(query)));
    });
    await new Promise<void>((resolve) => catalog.listen(0, '127.0.0.1', resolve));
    const consoleCatalogUrl = `http://127.0.0.1:${(catalog.address() as AddressInfo).port}`;
    stack = await startConsoleStack({}, undefined, { consoleCatalogUrl });
  });
  afterAll(async () => {
    await stack?.close();
    await new Promise<void>((resolve) => catalog?.close(() => resolve()));
  });

  const usage = (app: string, addon: string, cents: number) => ({
    app,
    period: '2026-01',
    totalCents: cents,
    addons: [{ addon, plan: 'console-kv:pro', seconds: 7200, cents, capped: false }],
    metered: [],
  });
  const apps = {
    apps: ['web', 'api'].map((name) => ({
      name,
      addons: [
        {
          name: `kv-${name}`,
          serviceSlug: 'console-kv',
          planSlug: 'pro',
          plan: { free: false, price: { monthly: 2500, currency: 'usd' } },
        },
      ],
    })),
  };
  const appDetail = {
    name: 'web',
    organization: 'demo',
    releaseVersion: 3,
    addons: [
      {
        name: 'kv-web',
        state: 'PROVISIONED',
        serviceSlug: 'console-kv',
        planSlug: 'pro',
        providerSlug: 'console-kv',
        lastError: null,
      },
    ],
    attachments: [],
    configVars: [],
    releases: [],
  };

  it('shows the billing that arrived and says what failed', async () => {
    const client = await signIn(stack);
    answer = (query) =>
      query.includes('billingAccount')
        ? {
            data: {
              billingAccount: {
                mode: 'ledger-only',
                status: 'good',
                currentMonthCents: 1234,
                pastDueSince: null,
                graceEndsAt: null,
                paymentMethod: null,
                spendCaps: [],
                alerts: [],
              },
              invoices: null,
              u0: usage('web', 'kv-web', 1234),
              u1: null,
            },
            errors: [
              { message: 'boom', path: ['u1'] },
              { message: 'the invoices are late', path: ['invoices'] },
            ],
          }
        : { data: apps };
    received.length = 0;
    const page = await client.request(`${stack.consoleUrl}/billing`);
    expect(page.status).toBe(200);
    expect(received).toHaveLength(2);
    expect(page.body).toContain(
      '<p role="alert" class="notice partial">Part of this page could not be loaded: boom; the invoices are late</p>',
    );
    expect(page.body).toContain('<dt>Charges this month</dt><dd>$12.34</dd>');
    expect(page.body).toContain('<tr><td>web</td><th scope="row">kv-web</th><td>console-kv:pro</td><td>2 h</td>');
    expect(page.body).toContain('<tr><td>api</td><td colspan="4" class="error">Usage could not be loaded.</td></tr>');
    expect(page.body).toContain('The invoices could not be loaded.');
    expect(page.body).toContain(
      '<tr><td>api</td><th scope="row">kv-api</th><td>console-kv:pro</td><td>$25.00</td></tr>',
    );
    expect(page.body).not.toContain('Billing is not available');

    // The billing document failing whole leaves the add-ons and says why.
    answer = (query) =>
      query.includes('billingAccount')
        ? { data: null, errors: [{ message: 'the broker could not be reached' }] }
        : { data: apps };
    const failed = await client.request(`${stack.consoleUrl}/billing`);
    expect(failed.status).toBe(200);
    expect(failed.body).toContain('Part of this page could not be loaded: the broker could not be reached');
    expect(failed.body).toContain('The account could not be loaded.');
    expect(failed.body).toContain(
      '<tr><td>web</td><th scope="row">kv-web</th><td>console-kv:pro</td><td>$25.00</td></tr>',
    );

    // A catalog without billing's fields: billing is not available, and nothing failed.
    answer = (query) =>
      query.includes('billingAccount')
        ? { errors: [{ message: 'Cannot query field "billingAccount" on type "Query".' }] }
        : { data: apps };
    const unavailable = await client.request(`${stack.consoleUrl}/billing`);
    expect(unavailable.status).toBe(200);
    expect(unavailable.body).toContain('Billing is not available');
    expect(unavailable.body).not.toContain('could not be loaded');
  });

  it('renders a page whose nested field failed, with the message', async () => {
    const client = await signIn(stack);
    answer = () => ({
      data: { app: appDetail },
      errors: [{ message: 'the last error could not be read', path: ['app', 'addons', 0, 'lastError'] }],
    });
    const page = await client.request(`${stack.consoleUrl}/apps/web`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Part of this page could not be loaded: the last error could not be read');
    expect(page.body).toContain('<h1>web</h1>');
    expect(page.body).toContain('kv-web');
  });

  it('names a plan once, lists releases by version only, and shows short usage in minutes and seconds', async () => {
    const client = await signIn(stack);
    const plan = (slug: string, name: string) => ({
      slug,
      name,
      description: '',
      free: true,
      deprecated: false,
      regions: [],
      schemas: null,
      price: { monthly: 0, currency: 'usd', metered: [] },
    });
    answer = () => ({
      data: {
        service: {
          slug: 'console-kv',
          name: 'Console KV',
          description: '',
          category: 'DATABASES',
          regions: [],
          configVars: ['KV_URL'],
          documentationUrl: null,
          provider: { name: 'P', slug: 'p' },
          stage: 'GA',
          plans: [plan('hobby', 'hobby'), plan('pro', 'Pro'), plan('biz', 'Business')],
        },
        apps: [],
      },
    });
    const service = await client.request(`${stack.consoleUrl}/services/console-kv`);
    expect(service.body).toContain('<th scope="row">hobby</th>');
    expect(service.body).toContain('<th scope="row">Pro</th>');
    expect(service.body).toContain('<th scope="row">Business <code>biz</code></th>');

    const release = (version: number) => ({
      version,
      actor: 'dana',
      reason: `change ${version}`,
      createdAt: '2026-01-02T03:04:05.000Z',
      diff: [],
      kept: [],
    });
    answer = () => ({ data: { app: { ...appDetail, releaseVersion: 17, releases: [release(17), release(16)] } } });
    const app = await client.request(`${stack.consoleUrl}/apps/web`);
    // A numbered list would read "17. v17": the versions are the numbers.
    expect(app.body).toContain('<ul class="releases"><li><p><strong>v17</strong> · change 17');
    expect(app.body).not.toMatch(/<ol[^>]*class="releases"/);

    const seconds = [0, 45, 754, 3600, 5400, 7259];
    answer = (query) =>
      query.includes('billingAccount')
        ? {
            data: {
              billingAccount: null,
              invoices: [],
              u0: {
                ...usage('web', 'kv-web', 1),
                addons: seconds.map((s) => ({
                  addon: `kv-${s}`,
                  plan: 'console-kv:pro',
                  seconds: s,
                  cents: 1,
                  capped: false,
                })),
              },
              u1: usage('api', 'kv-api', 0),
            },
          }
        : { data: apps };
    const billing = await client.request(`${stack.consoleUrl}/billing`);
    const shown = seconds.map(
      (s) => billing.body.match(new RegExp(`kv-${s}</th><td>console-kv:pro</td><td>([^<]*)</td>`))?.[1],
    );
    expect(shown).toEqual(['0 s', '45 s', '12 min 34 s', '1 h', '1 h 30 min', '2 h']);
  });

  it('says a failed app or service failed, and a missing one is not found', async () => {
    const client = await signIn(stack);
    answer = () => ({ data: { app: null }, errors: [{ message: 'the broker could not be reached', path: ['app'] }] });
    const failed = await client.request(`${stack.consoleUrl}/apps/web`);
    expect(failed.status).toBe(502);
    expect(failed.body).toContain('Part of this page could not be loaded: the broker could not be reached');
    expect(failed.body.match(/could not be loaded/g)).toHaveLength(1);
    expect(failed.body).not.toContain('Not found');
    expect(failed.body).not.toContain('There is no app');

    answer = () => ({ data: { service: null, apps: [] }, errors: [{ message: 'boom', path: ['service'] }] });
    const service = await client.request(`${stack.consoleUrl}/services/console-kv`);
    expect(service.status).toBe(502);
    expect(service.body).toContain('Part of this page could not be loaded: boom');

    // A null with no error about it (another field failed) is a real "not found".
    answer = () => ({ data: { app: null }, errors: [{ message: 'unrelated', path: ['other'] }] });
    const other = await client.request(`${stack.consoleUrl}/apps/gone`);
    expect(other.status).toBe(404);
    answer = () => ({ data: { app: null } });
    const missing = await client.request(`${stack.consoleUrl}/apps/gone`);
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('There is no app &quot;gone&quot; in demo.');
    expect(missing.body).not.toContain('could not be loaded');
  });
});

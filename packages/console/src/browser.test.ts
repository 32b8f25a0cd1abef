import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type FakeStripe, startFakeStripe } from '@annex/broker/testing';
import { chromiumPath } from '@annex/platform/testing';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleStack, startConsoleStack, startIdentityProvider, type TestIdentityProvider } from './testing.js';

// The console in a real browser: Debian's chromium driven by playwright-core (which never
// downloads a browser). Sign in at a real OpenID provider, find a service, attach it, see
// its vars appear live, open the provider's dashboard by SSO. Screenshots are kept in
// test-results/console/.

const CHROMIUM = chromiumPath('console browser test');
const SHOTS = fileURLToPath(new URL('../../../test-results/console/', import.meta.url));

describe.skipIf(!CHROMIUM)('the console in a real browser', () => {
  let idp: TestIdentityProvider;
  let stack: ConsoleStack;
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    rmSync(`${SHOTS}failure.png`, { force: true });
    idp = await startIdentityProvider({
      dana: { email: 'dana@example.com', name: 'Dana', annex_orgs: ['demo:admin'] },
      pia: { email: 'pia@example.com', name: 'Pia', annex_orgs: ['demo'], annex_providers: ['console-kv:admin'] },
    });
    stack = await startConsoleStack({
      OIDC_ISSUER_URL: idp.issuer,
      OIDC_CLIENT_ID: idp.clientId,
      OIDC_CLIENT_SECRET: idp.clientSecret,
    });
    await idp.register(`${stack.consoleUrl}/auth/callback`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: 30_000,
    });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await idp?.close();
  });

  it(
    'signs in, finds a service, attaches it, sees the vars, opens the dashboard by SSO and changes the app',
    { timeout: 120_000 },
    async () => {
      // A tall viewport instead of full-page screenshots, which resize the page and upset the next click.
      const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
      page.setDefaultTimeout(20_000);
      if (process.env.CONSOLE_TEST_DEBUG) {
        page.on('request', (r) => console.log('request', r.method(), r.url()));
        page.on('response', (r) => console.log(r.status(), r.request().method(), r.url()));
        page.on('console', (m) => console.log('console', m.text()));
      }
      const shot = (name: string) => page.screenshot({ path: `${SHOTS}${name}.png` });
      try {
        // Sign in at the identity provider.
        await page.goto(stack.consoleUrl);
        await page.getByRole('link', { name: 'Sign in with your identity provider' }).click();
        await page.locator('input[name="login"]').fill('dana');
        await page.locator('input[name="password"]').fill('any password');
        await page.locator('button[type="submit"]').click();
        await page.waitForURL(`${stack.consoleUrl}/catalog`);
        expect(await page.locator('.user').textContent()).toBe('Dana');
        await shot('01-signed-in');

        // An app to attach to, created with the keyboard.
        await page.getByRole('navigation').getByRole('link', { name: 'Apps' }).click();
        await page.getByLabel('Name').fill('storefront');
        await page.getByLabel('Name').press('Enter');
        await page.waitForURL(`${stack.consoleUrl}/apps/storefront`);

        // Find the service by category and search.
        await page.getByRole('navigation').getByRole('link', { name: 'Catalog' }).click();
        await page.getByLabel('Category').selectOption('DATABASES');
        await page.getByLabel('Search services').fill('key value');
        await page.getByRole('button', { name: 'Search' }).click();
        await shot('02-catalog-search');
        await page.getByRole('link', { name: 'Console KV' }).click();

        // Plan, parameters from the plan's schema, preflight, confirm.
        await page.getByLabel('App', { exact: true }).selectOption('storefront');
        await page.getByRole('radio', { name: /hobby/ }).check();
        await page.getByRole('combobox', { name: /region/ }).selectOption('us-east');
        await page.getByRole('spinbutton', { name: /size/ }).fill('3');
        await shot('03-service');
        await page.getByRole('button', { name: 'Review the attach' }).click();
        const summary = await page.locator('dl.summary').textContent();
        expect(summary).toContain('KV_URL');
        expect(summary).toContain('Free');
        await shot('04-preflight');
        await page.getByRole('button', { name: 'Confirm and attach' }).click();
        await page.waitForURL(/\/apps\/storefront\?created=console-kv-/);

        // The vars are there: on the page already if the attach finished first, else brought in
        // by the live activity without a reload (which never replays what the page shows).
        await page.locator('#config-vars', { hasText: 'KV_URL' }).waitFor({ timeout: 30_000 });
        await shot('05-app-attached');
        await page.getByRole('link', { name: 'Reveal values' }).click();
        await page.locator('#config-vars code.value', { hasText: 'kv://' }).waitFor();

        // Single sign-on into the provider's dashboard.
        await page
          .getByRole('button', { name: /Open the dashboard of console-kv-/ })
          .first()
          .click();
        await page.waitForURL(`${stack.providerUrl}/**`);
        expect(await page.locator('h1').textContent()).toBe('Console KV dashboard');
        expect(await page.locator('#who').textContent()).toBe('dana@example.com');
        await shot('06-provider-dashboard');
        expect(stack.ssoArrivals.map((a) => a.user.email)).toEqual(['dana@example.com']);

        // Change the app from its page: set a var, then destroy the add-on by typing its name.
        await page.goto(`${stack.consoleUrl}/apps/storefront`);
        await page.getByLabel('Name', { exact: true }).fill('GREETING');
        await page.getByLabel('Value', { exact: true }).fill('hello');
        await page.getByRole('button', { name: 'Set config var' }).click();
        await page.waitForURL(`${stack.consoleUrl}/apps/storefront?done=config`);
        await page.locator('#config-vars', { hasText: 'GREETING' }).waitFor();
        // A form being filled in holds the live refresh back: an event (a release made
        // elsewhere) arrives, and what was typed stays, focus elsewhere or not.
        await page.getByLabel('Name', { exact: true }).fill('DRAFT');
        await page.locator('h1').click();
        const elsewhere = await fetch(`${stack.catalogUrl}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.orgToken}` },
          body: JSON.stringify({
            query: 'mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) { __typename } }',
            variables: { input: { app: 'storefront', vars: { ELSEWHERE: '1' } } },
          }),
        });
        const made = (await elsewhere.json()) as { data: { setConfigVars: { __typename: string } } };
        expect(made.data.setConfigVars.__typename).toBe('SetConfigVarsSuccess');
        await page.locator('#activity-status', { hasText: 'the page updates once your form is sent' }).waitFor();
        expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('DRAFT');
        expect(await page.locator('#config-vars').textContent()).not.toContain('ELSEWHERE');
        const addon = (await page.locator('.addon-actions h3 code').first().textContent()) as string;
        await page.getByLabel(/to destroy it/).fill(addon);
        await page.getByRole('button', { name: 'Destroy' }).click();
        await page.waitForURL(`${stack.consoleUrl}/apps/storefront?done=destroyed`);
        // The live activity takes the add-on's var away without a reload.
        await page.locator('#config-vars code', { hasText: 'KV_URL' }).waitFor({ state: 'detached', timeout: 30_000 });
        await shot('07-app-changed');
      } catch (error) {
        await shot('failure').catch(() => undefined);
        throw error;
      } finally {
        await page.close();
      }
    },
  );

  it(
    'shows a provider member its installations, a failure it caused, its money as the ledger has it, and invites an organization',
    { timeout: 180_000 },
    async () => {
      const db = stack.database.db;
      const gql = async (query: string, variables: Record<string, unknown>, token = stack.orgToken) => {
        const response = await fetch(`${stack.catalogUrl}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query, variables }),
        });
        return (await response.json()) as { data: any; errors?: unknown };
      };
      // An organization's app with two add-ons of the provider: one it provisions, one it fails (a 500).
      await gql('mutation($input: CreateAppInput!) { createApp(input: $input) { __typename } }', {
        input: { name: 'shop' },
      });
      const create =
        'mutation($input: CreateAddonInput!) { createAddon(input: $input) { __typename ... on Error { message } } }';
      await gql(create, { input: { app: 'shop', plan: 'console-kv:pro', as: 'CACHE' } });
      await gql(create, {
        input: { app: 'shop', plan: 'console-kv:hobby', as: 'BIG', parameters: { region: 'eu-west', size: 9 } },
      });
      const until = async (what: string, check: () => Promise<boolean>) => {
        const deadline = Date.now() + 30_000;
        while (!(await check())) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      await until('the failed add-on', async () =>
        (await db.selectFrom('addons').select('last_error').where('state', '=', 'failed').execute()).some((a) =>
          a.last_error?.includes('disk full'),
        ),
      );
      await until('the paid add-on', async () =>
        (
          await db
            .selectFrom('addons')
            .select('state')
            .where('plan_id', 'in', (eb) => eb.selectFrom('plans').select('id').where('slug', '=', 'pro'))
            .execute()
        ).some((a) => a.state === 'provisioned'),
      );
      // September 2026 on the paid plan, invoiced and paid out (ledger-only) by the broker's jobs.
      const paid = await db
        .selectFrom('addons as a')
        .innerJoin('plans as p', 'p.id', 'a.plan_id')
        .innerJoin('services as s', 's.id', 'a.service_id')
        .select(['a.id', 'a.organization_id', 'a.app_id', 'a.plan_id', 's.provider_id'])
        .where('p.slug', '=', 'pro')
        .executeTakeFirstOrThrow();
      await db
        .insertInto('usage_intervals')
        .values({
          addon_id: paid.id,
          organization_id: paid.organization_id,
          app_id: paid.app_id,
          plan_id: paid.plan_id,
          provider_id: paid.provider_id,
          price_cents: 2500,
          currency: 'usd',
          started_at: new Date('2026-09-01T00:00:00Z'),
          ended_at: new Date('2026-09-13T00:00:00Z'),
        })
        .execute();
      for (const job of ['invoicing', 'payouts']) {
        const response = await fetch(`${stack.brokerUrl}/v1/billing/jobs/${job}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ period: '2026-09' }),
        });
        expect(response.status, job).toBe(200);
      }
      const lines = (await db.selectFrom('invoices').select('lines').where('period', '=', '2026-09').execute())
        .flatMap((i) => i.lines)
        .filter((l) => l.providerId === paid.provider_id);
      const gross = lines.reduce((sum, l) => sum + l.cents, 0);
      const share = (
        await db
          .selectFrom('provider_payouts')
          .select('amount_cents')
          .where('provider_id', '=', paid.provider_id)
          .execute()
      ).reduce((sum, p) => sum + p.amount_cents, 0);
      expect(gross).toBe(1000);
      // An organization to invite, and the service in ALPHA.
      await db.insertInto('organizations').values({ slug: 'acme-labs', name: 'Acme Labs' }).execute();
      await db.updateTable('services').set({ stage: 'alpha' }).where('slug', '=', 'console-kv').execute();

      const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
      page.setDefaultTimeout(20_000);
      const shot = (name: string) => page.screenshot({ path: `${SHOTS}${name}.png` });
      try {
        await page.goto(stack.consoleUrl);
        await page.getByRole('link', { name: 'Sign in with your identity provider' }).click();
        await page.locator('input[name="login"]').fill('pia');
        await page.locator('input[name="password"]').fill('any password');
        await page.locator('button[type="submit"]').click();
        await page.waitForURL(`${stack.consoleUrl}/catalog`);

        // Overview: charts drawn on the server, with their titles.
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Provider' }).click();
        await page.waitForURL(`${stack.consoleUrl}/provider`);
        await page.getByRole('img', { name: /Active add-ons per day/ }).waitFor();
        await page.getByRole('img', { name: /Gross revenue per month/ }).waitFor();
        await page.getByRole('img', { name: /Error rate of the broker's calls/ }).waitFor();
        await shot('10-provider-overview');

        // Installations, filtered to the failed one.
        await page.getByRole('navigation', { name: 'Provider' }).getByRole('link', { name: 'Installations' }).click();
        await page.locator('#installations').waitFor();
        // The two of the app "shop" (and whatever add-on the other test of this stack made).
        expect(
          await page.locator('#installations tbody tr', { hasText: 'Demo organization' }).count(),
        ).toBeGreaterThanOrEqual(2);
        await page.getByLabel('State').selectOption('failed');
        await page.getByRole('button', { name: 'Filter' }).click();
        await page.waitForURL(/state=failed/);
        const row = page.locator('#installations tbody tr');
        expect(await row.count()).toBe(1);
        expect(await row.textContent()).toContain('disk full: no room for 9 GB');
        expect(await row.textContent()).toContain('Demo organization');
        await shot('11-provider-installations');

        // Health: the failure it caused, with its answer (the broker records calls in batches).
        await until('the failure in the health page', async () => {
          await page.goto(`${stack.consoleUrl}/provider/health`);
          return (await page.locator('#health-failures').count()) > 0;
        });
        const failure = await page.locator('#health-failures tbody tr').first().textContent();
        expect(failure).toContain('provision');
        expect(failure).toContain('500');
        expect(failure).toContain('disk full: no room for 9 GB');
        await shot('12-provider-health');

        // Money, equal to the ledger.
        await page.getByRole('navigation', { name: 'Provider' }).getByRole('link', { name: 'Payouts' }).click();
        const month = await page.locator('#revenue tbody tr').first().textContent();
        const dollars = (cents: number) => `$${(cents / 100).toFixed(2)}`;
        expect(month).toContain('2026-09');
        expect(month).toContain(dollars(gross));
        expect(month).toContain(dollars(share));
        expect(await page.locator('#payouts tbody tr').first().textContent()).toContain('would be paid (ledger-only)');
        await shot('13-provider-payouts');

        // Listing: invite an organization to the ALPHA service.
        await page.getByRole('navigation', { name: 'Provider' }).getByRole('link', { name: 'Listing' }).click();
        await page.getByLabel('Invite an organization (its slug)').fill('no-such-org');
        await page.getByRole('button', { name: 'Invite to Console KV' }).click();
        await page.locator('[role="alert"]').waitFor();
        await page.getByLabel('Invite an organization (its slug)').fill('acme-labs');
        await page.getByRole('button', { name: 'Invite to Console KV' }).click();
        await page.waitForURL(/invited=acme-labs/);
        expect(await page.locator('#listing-console-kv .invitations').textContent()).toContain('Acme Labs');
        await shot('14-provider-listing');
      } catch (error) {
        await shot('failure-provider').catch(() => undefined);
        throw error;
      } finally {
        await page.close();
      }
    },
  );
});

describe.skipIf(!CHROMIUM)("a buyer's card in a real browser", () => {
  const WEBHOOK_SECRET = 'whsec_console_browser_card';
  let idp: TestIdentityProvider;
  let stripe: FakeStripe;
  let stack: ConsoleStack;
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    idp = await startIdentityProvider({
      dana: { email: 'dana@example.com', name: 'Dana', annex_orgs: ['demo:admin'] },
    });
    stripe = await startFakeStripe({ apiKey: 'sk_test_console_browser' });
    stack = await startConsoleStack(
      { OIDC_ISSUER_URL: idp.issuer, OIDC_CLIENT_ID: idp.clientId, OIDC_CLIENT_SECRET: idp.clientSecret },
      undefined,
      {
        brokerEnv: {
          STRIPE_SECRET_KEY: 'sk_test_console_browser',
          STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
          STRIPE_API_BASE: stripe.url,
        },
      },
    );
    stripe.sendEventsTo(`${stack.brokerUrl}/v1/billing/stripe/webhook`, WEBHOOK_SECRET);
    await idp.register(`${stack.consoleUrl}/auth/callback`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: 30_000,
    });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await stripe?.close();
    await idp?.close();
  });

  it(
    'is asked for a card by a paid attach, adds one through Stripe Checkout, and then attaches the paid plan',
    { timeout: 120_000 },
    async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
      page.setDefaultTimeout(20_000);
      const shot = (name: string) => page.screenshot({ path: `${SHOTS}${name}.png` });
      const reviewPro = async () => {
        await page.goto(`${stack.consoleUrl}/services/console-kv`);
        await page.getByLabel('App', { exact: true }).selectOption('shop');
        await page.getByRole('radio', { name: /pro/ }).check();
        await page.getByRole('button', { name: 'Review the attach' }).click();
      };
      try {
        await page.goto(stack.consoleUrl);
        await page.getByRole('link', { name: 'Sign in with your identity provider' }).click();
        await page.locator('input[name="login"]').fill('dana');
        await page.locator('input[name="password"]').fill('any password');
        await page.locator('button[type="submit"]').click();
        await page.waitForURL(`${stack.consoleUrl}/catalog`);
        await page.getByRole('navigation').getByRole('link', { name: 'Apps' }).click();
        await page.getByLabel('Name').fill('shop');
        await page.getByLabel('Name').press('Enter');
        await page.waitForURL(`${stack.consoleUrl}/apps/shop`);

        // The paid plan needs a card: the review says so and links to the billing page.
        await reviewPro();
        await page.locator('[role="alert"]', { hasText: 'payment method' }).waitFor();
        expect(await page.getByRole('button', { name: 'Confirm and attach' }).count()).toBe(0);
        await shot('20-card-required');
        await page.getByRole('link', { name: 'Add a card on the billing page' }).click();
        await page.waitForURL(`${stack.consoleUrl}/billing#card`);
        expect(await page.locator('#payment-method').textContent()).toBe('none');
        await shot('21-billing-no-card');

        // Stripe Checkout (the fake's hosted page), then back to billing with the card.
        await page.getByRole('button', { name: 'Add a card' }).click();
        await page.waitForURL(`${stripe.url}/checkout/**`);
        await page.getByLabel('Card brand').selectOption('mastercard');
        await page.getByLabel('Last 4 digits').fill('4444');
        await page.getByLabel('Expiry month').fill('7');
        await page.getByLabel('Expiry year').fill('2030');
        await shot('22-stripe-checkout');
        await page.getByRole('button', { name: 'Save card' }).click();
        await page.waitForURL(new RegExp(`^${stack.consoleUrl}/billing\\?checkout=cs_`));
        expect(await page.locator('#payment-method').textContent()).toBe('mastercard ending 4444, expires 07/2030');
        await shot('23-billing-card-recorded');

        // The same attach now goes through.
        await reviewPro();
        await page.getByRole('button', { name: 'Confirm and attach' }).click();
        await page.waitForURL(/\/apps\/shop\?created=console-kv-/);
        await shot('24-paid-attach');
      } catch (error) {
        await shot('failure-card').catch(() => undefined);
        throw error;
      } finally {
        await page.close();
      }
    },
  );
});

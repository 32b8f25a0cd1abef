import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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
});

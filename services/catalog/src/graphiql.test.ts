import { chromiumPath, testDatabaseKinds } from '@annex/platform/testing';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCatalog, type TestCatalog } from './testing.js';

// GraphiQL must work on a machine without internet: the page may only load what the catalog
// itself serves.

const [kind] = testDatabaseKinds('GraphiQL');

describe('GraphiQL at /graphql', () => {
  let catalog: TestCatalog;
  beforeAll(async () => {
    catalog = await startTestCatalog(kind!);
  });
  afterAll(async () => {
    await catalog?.close();
  });

  const page = async (): Promise<string> => {
    const response = await fetch(`${catalog.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    return response.text();
  };

  it('loads every script, stylesheet and worker from the catalog itself', async () => {
    const html = await page();
    expect(html).toContain('<title>Annex catalog</title>');
    // Every src= and href=, quoted or not, and the editor workers' script URLs.
    const referenced = [
      ...html.matchAll(/(?:src|href)=["']?([^"'\s>]+)/g),
      ...html.matchAll(/["']([^"'\s]+\.worker[^"'\s]*\.js)["']/g),
    ].map((m) => m[1] as string);
    expect(referenced.length).toBeGreaterThanOrEqual(6);
    const expected: Record<string, RegExp> = {
      '.css': /^text\/css/,
      '.js': /^text\/javascript/,
      '.ico': /^image\/x-icon/,
    };
    for (const reference of referenced) {
      const url = new URL(reference, `${catalog.url}/graphql`);
      expect(url.origin, reference).toBe(catalog.url);
      const asset = await fetch(url);
      expect(asset.status, reference).toBe(200);
      const type = Object.entries(expected).find(([ending]) => url.pathname.endsWith(ending))?.[1];
      expect(asset.headers.get('content-type'), reference).toMatch(type ?? /^never$/);
      expect((await asset.arrayBuffer()).byteLength, reference).toBeGreaterThan(1000);
    }
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('answers an unknown asset with 404, and a production catalog serves none', async () => {
    expect((await fetch(`${catalog.url}/graphiql/nope.js`)).status).toBe(404);
    const production = await startTestCatalog(kind!, { NODE_ENV: 'production' });
    try {
      expect((await fetch(`${production.url}/graphiql/graphiql.js`)).status).toBe(404);
    } finally {
      await production.close();
    }
  });

  const CHROMIUM = chromiumPath('GraphiQL browser test');
  describe.skipIf(!CHROMIUM)('in a browser with no way out', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: CHROMIUM as string,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
        timeout: 30_000,
      });
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('renders the editor and runs a query', { timeout: 120_000 }, async () => {
      const tab = await browser.newPage();
      tab.setDefaultTimeout(60_000);
      const elsewhere: string[] = [];
      // Offline: anything not on the catalog's origin fails, as it would without internet.
      await tab.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(`${catalog.url}/`) || url.startsWith('data:') || url.startsWith('blob:')) {
          return route.continue();
        }
        elsewhere.push(url);
        return route.abort('internetdisconnected');
      });
      await tab.goto(`${catalog.url}/graphql?query=${encodeURIComponent('{ categories { slug } }')}`);
      await tab.locator('.graphiql-query-editor .monaco-editor').first().waitFor();
      await tab.locator('.graphiql-execute-button').first().click();
      // The answer, from the catalog, in the response editor.
      await tab.locator('.graphiql-response').getByText('"categories"').first().waitFor();
      expect(elsewhere).toEqual([]);
    });
  });
});

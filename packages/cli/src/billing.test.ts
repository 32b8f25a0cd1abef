import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { startTestMarketplace, type TestMarketplace } from './testing.js';

// `annex billing` and `annex invoices` against the embedded marketplace, which runs billing
// ledger-only (no STRIPE_SECRET_KEY): paid plans attach, invoices are computed, nothing is charged.
describe('billing verbs (embedded marketplace, ledger-only)', async () => {
  let running: TestMarketplace;
  let demo: string;
  let catalog: string;
  let dir: string;

  beforeAll(async () => {
    running = await startTestMarketplace('billing');
    ({ demo, catalog, dir } = running);
  });
  afterAll(async () => {
    await running?.close();
  });

  const annex = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      [...argv, '--catalog', catalog],
      { catalogUrl: undefined, token: demo, configDir: join(dir, 'config') },
      { stdout: (t) => out.push(t), stderr: (t) => err.push(t) },
      async () => '',
      20,
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it('attaches a paid plan with a ledger-only notice, then shows the account, usage and invoices', async () => {
    expect((await annex(['apps:create', 'bill-cli'])).code).toBe(0);
    const dry = await annex(['addons:create', 'ai-gateway:scale', '--app', 'bill-cli', '--dry-run', '--json']);
    expect(dry.code, dry.err).toBe(0);
    const preflight = JSON.parse(dry.out);
    expect(preflight).toMatchObject({ billingMode: 'ledger-only', paymentRequired: false });
    expect(preflight.prorationCents).toBeGreaterThan(0);
    const created = await annex(['addons:create', 'ai-gateway:scale', '--app', 'bill-cli', '--wait', '--json']);
    expect(created.code, created.err).toBe(0);

    const account = await annex(['billing']);
    expect(account.code, account.err).toBe(0);
    expect(account.out).toContain('billing:        ledger-only (invoices are computed, nothing is charged)');
    expect(account.out).toContain('standing:       good');
    const json = JSON.parse((await annex(['billing', '--json'])).out);
    expect(json).toMatchObject({ organization: 'demo', mode: 'ledger-only', status: 'good', paymentMethod: null });

    const invoices = await annex(['invoices']);
    expect(invoices).toMatchObject({ code: 0, out: 'no invoices yet (each calendar month is invoiced after it ends)' });
    expect(JSON.parse((await annex(['invoices', '--json'])).out)).toEqual([]);
    expect((await annex(['invoices', 'extra'])).code).toBe(2);

    const response = await fetch(catalog, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${demo}` },
      body: JSON.stringify({
        query: '{ usage(app: "bill-cli") { app period addons { plan seconds cents } totalCents } }',
      }),
    });
    const body = (await response.json()) as { data: { usage: { app: string; addons: { plan: string }[] } } };
    expect(body.data.usage.app).toBe('bill-cli');
    expect(body.data.usage.addons.map((a) => a.plan)).toEqual(['scale']);
  });
});

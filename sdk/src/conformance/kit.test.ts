import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlainBroker } from '../__fixtures__/plain-broker.js';
import { widgetsManifest, widgetsProvider } from '../__fixtures__/widgets.js';
import { defineProvider, inProgress } from '../index.js';
import { type ConformanceBroker, formatReport, runConformance, startConformanceBroker } from './index.js';

const failed = (report: Awaited<ReturnType<typeof runConformance>>) =>
  report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name} — ${c.reason}`);

describe('conformance kit', () => {
  let broker: ConformanceBroker;
  beforeAll(async () => {
    broker = await startConformanceBroker();
  });
  afterAll(async () => {
    await broker.close();
  });

  it('passes a provider written with the SDK (JWT mode), every plan sync and async', async () => {
    const { provider, log } = widgetsProvider({ brokerUrl: broker.url });
    const running = await provider.listen(0);
    try {
      const report = await runConformance({
        url: running.url,
        auth: { kind: 'jwt', broker, audience: 'widgets-inc' },
        pollIntervalMs: 100,
      });
      expect(failed(report), formatReport(report)).toEqual([]);
      expect(report.ok).toBe(true);
      const names = report.checks.map((c) => c.name);
      expect(names).toContain('auth: replayed JWT (same jti) → 401');
      expect(names).toContain('[widgets/large] async: provision completes');
      expect(names).toContain('[widgets/large] delete during provisioning: the halted provision reports "failed"');
      expect(names).toContain('[widgets/small] sync: duplicate delivery (identical PUT) → 200');
      // The delete during provisioning reached the handler and stopped the background work.
      expect(log.deprovisioned.some((d) => d.duringProvisioning)).toBe(true);
      expect(log.halted.length).toBeGreaterThan(0);
    } finally {
      await running.close();
      await provider.close();
    }
  });

  it('does not call a provision halted when it had already ended before the delete', async () => {
    // Async provisioning whose work ends at once: by the delete, there is nothing left to halt.
    const provider = defineProvider({
      manifest: widgetsManifest(),
      broker: { url: broker.url },
      provision: ({ plan }) => (plan.slug === 'large' ? inProgress({ work: async () => ({}) }) : {}),
      deprovision: () => {},
      bind: () => ({ credentials: { WIDGETS_URL: 'https://widgets.example' } }),
      unbind: () => {},
    });
    const running = await provider.listen(0);
    try {
      const report = await runConformance({
        url: running.url,
        auth: { kind: 'jwt', broker, audience: 'widgets-inc' },
        pollIntervalMs: 100,
      });
      expect(failed(report), formatReport(report)).toEqual([]);
      const halting = report.checks.filter((c) => c.name.startsWith('[widgets/large] delete during provisioning'));
      expect(halting.map((c) => c.status)).toEqual(['skip']);
      expect(halting[0]?.reason).toBe('the provision had already succeeded before the delete: nothing to halt');
    } finally {
      await running.close();
      await provider.close();
    }
  });

  it('passes an SDK provider in plain OSB mode (basic auth)', async () => {
    const { provider } = widgetsProvider({ basicAuth: { username: 'broker', password: 's3cret' } });
    const running = await provider.listen(0);
    try {
      const report = await runConformance({
        url: running.url,
        auth: { kind: 'basic', username: 'broker', password: 's3cret' },
        pollIntervalMs: 100,
      });
      expect(failed(report), formatReport(report)).toEqual([]);
      expect(report.checks.map((c) => c.name)).toContain('auth: wrong basic password → 401');
    } finally {
      await running.close();
      await provider.close();
    }
  });

  it('passes a small hand-written plain OSB broker', async () => {
    const plain = await startPlainBroker({ username: 'admin', password: 'pw' });
    try {
      const report = await runConformance({
        url: plain.url,
        auth: { kind: 'basic', username: 'admin', password: 'pw' },
      });
      expect(failed(report), formatReport(report)).toEqual([]);
      expect(report.mode).toBe('basic');
      expect(report.summary.pass).toBeGreaterThan(15);
    } finally {
      await plain.close();
    }
  });

  it('fails a broken provider, with the right reasons', async () => {
    const plain = await startPlainBroker({ username: 'admin', password: 'pw', broken: true });
    try {
      const report = await runConformance({ url: plain.url, auth: { kind: 'jwt', broker, audience: 'plain' } });
      expect(report.ok).toBe(false);
      const reasons = Object.fromEntries(
        report.checks.filter((c) => c.status === 'fail').map((c) => [c.name, c.reason]),
      );
      // Accepts bad JWTs.
      expect(reasons['auth: no credentials → 401']).toMatch(/^expected 401, got 200/);
      expect(reasons['auth: tampered JWT payload → 401']).toMatch(/^expected 401, got 200/);
      expect(reasons['auth: expired JWT → 401']).toMatch(/^expected 401, got 200/);
      expect(reasons['auth: wrong audience → 401']).toMatch(/^expected 401, got 200/);
      expect(reasons['auth: replayed JWT (same jti) → 401']).toMatch(/^expected 401, got 200/);
      // Wrong status codes.
      expect(reasons['version: missing X-Broker-API-Version → 412']).toMatch(/^expected 412, got 200/);
      expect(reasons['[plain-kv/basic] provision with an unknown plan_id → 400']).toMatch(/^expected 400, got 201/);
      expect(reasons['[plain-kv/basic] deprovision of an unknown instance → 410']).toMatch(/^expected 410, got 200/);
      expect(reasons['[plain-kv/basic] sync: repeated deprovision → 410']).toMatch(/^expected 410, got 200/);
      // No idempotency.
      expect(reasons['[plain-kv/basic] sync: duplicate delivery (identical PUT) → 200']).toMatch(
        /^expected 200, got 201/,
      );
      expect(reasons['[plain-kv/basic] sync: same id, other attributes → 409']).toMatch(/^expected 409, got 201/);
      expect(formatReport(report)).toMatch(/^FAILED: \d+ passed, \d+ failed/m);
    } finally {
      await plain.close();
    }
  });
});

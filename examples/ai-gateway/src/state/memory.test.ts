import { describe, expect, it } from 'vitest';
import { MemoryGatewayStore } from './memory.js';

describe('the in-memory gateway store', () => {
  it('counts requests per instance and window, and forgets ended windows', async () => {
    const store = new MemoryGatewayStore();
    expect(await store.hitRateWindow('i1', 60_000)).toBe(1);
    expect(await store.hitRateWindow('i1', 60_000)).toBe(2);
    expect(await store.hitRateWindow('i2', 60_000)).toBe(1);
    expect(await store.hitRateWindow('i1', 120_000)).toBe(1);
    await store.pruneRateWindows(120_000);
    expect(await store.hitRateWindow('i1', 60_000)).toBe(1); // forgotten, counts afresh
    expect(await store.hitRateWindow('i1', 120_000)).toBe(2); // kept
  });

  it('adds a request id once, to the counters and to the outbox', async () => {
    const store = new MemoryGatewayStore();
    const entry = {
      id: 'r1',
      instanceId: 'i1',
      bindingId: 'b1',
      endpoint: 'embeddings' as const,
      model: 'm',
      promptTokens: 5,
      completionTokens: 0,
      totalTokens: 5,
      at: '2026-11-27T12:00:00.000Z',
      month: '2026-11',
      report: { unit: '1k_tokens', quantity: 0.005 },
    };
    await store.recordUsage(entry);
    await store.recordUsage(entry);
    expect(await store.monthTokens('i1', '2026-11')).toBe(5);
    expect((await store.pendingReports(10)).map((r) => r.id)).toEqual(['r1']);
    await store.markReported(['r1'], '2026-11-27T12:00:01.000Z');
    expect(await store.pendingReports(10)).toEqual([]);
  });
});

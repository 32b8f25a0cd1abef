import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { osbProbes } from './osb.js';
import { expectSafeAnswer, type FuzzTarget, fuzzSettings, type Probe, startFuzzTarget } from './target.js';

// Property-based fuzzing of every API a caller outside the installation reaches, against the
// running marketplace. For every generated request: no 5xx, no stack trace or SQL in the
// answer, none of the rival organization's secrets; after each property both services still
// answer /healthz and nothing the rival owns has changed. Seeded: FUZZ_SEED and FUZZ_RUNS
// (or `npm run fuzz -w @annex/test`) run it longer; a failure prints the seed and the
// shrunk request that reproduces it.

const settings = fuzzSettings(40);

describe('hostile input against the running marketplace', () => {
  let target: FuzzTarget;
  let before: unknown;

  beforeAll(async () => {
    target = await startFuzzTarget();
  }, 180_000);
  afterAll(async () => {
    await target?.close();
  });

  /** Runs one property over requests to `base`, then checks the invariants that hold across requests. */
  const attack = async (base: () => string, probes: fc.Arbitrary<Probe>, runs = settings.numRuns) => {
    before = await target.snapshotRival();
    const statuses = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(probes, async (probe) => {
        const answer = await target.send(base(), probe);
        fc.pre(answer !== undefined);
        const key = `${probe.method} ${answer.status}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        if (process.env.FUZZ_STATS && probe.method === 'PUT' && answer.status >= 400) console.log(answer.text.slice(0, 200));
        expectSafeAnswer(answer, probe, target.rival);
      }),
      { numRuns: runs, seed: settings.seed },
    );
    if (process.env.FUZZ_STATS) console.log([...statuses].sort());
    await target.expectHealthy();
    expect(await target.snapshotRival()).toEqual(before);
  };

  it(
    'the OSB API (/v2) with the attacker platform’s credentials',
    () => attack(() => target.brokerUrl, osbProbes(target.attacker, target.rival)),
    settings.timeoutMs,
  );
});

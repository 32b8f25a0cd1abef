import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlProbes } from './graphql.js';
import { osbProbes } from './osb.js';
import { providerProbes } from './provider-callbacks.js';
import { restProbes } from './rest.js';
import { expectSafeAnswer, type FuzzTarget, fuzzSettings, type Probe, startFuzzTarget } from './target.js';

// Property-based fuzzing of every API a caller outside the installation reaches, against the
// running marketplace. For every generated request: no 5xx, no stack trace or SQL in the
// answer, none of the rival organization's secrets; after each property both services still
// answer /healthz and nothing the rival owns has changed. Seeded: FUZZ_SEED and FUZZ_RUNS
// (or `npm run fuzz -w @annex/test`) run it longer; a failure prints the seed and the
// shrunk request that reproduces it.

const settings = fuzzSettings(200);

describe('hostile input against the running marketplace', () => {
  let target: FuzzTarget;

  beforeAll(async () => {
    target = await startFuzzTarget();
  }, 180_000);
  afterAll(async () => {
    await target?.close();
  });

  /** Runs one property over requests to `base`, then checks the invariants that hold across requests. */
  const attack = async (base: () => string, probes: fc.Arbitrary<Probe>) => {
    const before = await target.snapshotRival();
    const statuses = new Map<string, number>();
    await fc.assert(
      // One request in four goes out three times at once: a race between identical requests
      // (two creates of one name) must end in one success and refusals, not a 500.
      fc.asyncProperty(probes, fc.constantFrom(1, 1, 1, 3), async (probe, copies) => {
        const answers = await Promise.all(Array.from({ length: copies }, () => target.send(base(), probe)));
        for (const answer of answers) {
          fc.pre(answer !== undefined);
          const key = `${probe.method} ${answer.status}`;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
          expectSafeAnswer(answer, probe, target.rival);
        }
      }),
      { numRuns: settings.numRuns, seed: settings.seed },
    );
    // FUZZ_STATS=1 shows what the requests got: a property whose answers are all 400s tests little.
    if (process.env.FUZZ_STATS) console.log(Object.fromEntries([...statuses].sort()));
    await target.expectHealthy();
    expect(await target.snapshotRival()).toEqual(before);
  };

  it(
    'the OSB API (/v2) with the attacker platform’s credentials',
    () => attack(() => target.brokerUrl, osbProbes(target.attacker, target.rival)),
    settings.timeoutMs,
  );

  it(
    'the /v1 REST API with the attacker organization’s and platform’s tokens',
    () => attack(() => target.brokerUrl, restProbes(target.attacker, target.rival)),
    settings.timeoutMs,
  );

  it(
    'the provider callbacks (/v1/provider) with the token of a provider the rival does not use',
    () => attack(() => target.brokerUrl, providerProbes(target.attacker, target.rival, 'intruder')),
    settings.timeoutMs,
  );

  it(
    'the provider callbacks with the AI gateway’s own token, on the attacker’s add-on',
    () => attack(() => target.brokerUrl, providerProbes(target.attacker, target.rival, 'gateway')),
    settings.timeoutMs,
  );

  it(
    'the catalog’s GraphQL API as the attacker organization, its platform and anonymously',
    () => attack(() => target.catalogUrl, graphqlProbes(target.attacker, target.rival)),
    settings.timeoutMs,
  );
});

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rotateSigningKey } from '@annex/broker';
import {
  type CatalogFixture,
  type OsbClient,
  osbClient,
  seedCatalog,
  startTestBroker,
  type TestBroker,
} from '@annex/broker/testing';
import type { Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { defineProvider, type Provider } from '@annex/sdk';
import express from 'express';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Keys rotate without downtime, end to end: an SDK provider that caches the
// broker's JWKS keeps accepting every call while the broker rotates its signing key. The
// new key is published before it signs (publishLeadMs), so the provider meets an unknown
// `kid` only once its JWKS refresh cooldown allows a fetch that finds it.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The provider refetches the JWKS for an unknown `kid` at most this often. */
const COOLDOWN_SECONDS = 3;

describe.each(testDatabaseKinds('signing key rotation'))('signing key rotation ($name)', (kind) => {
  let database: Database;
  let broker: TestBroker;
  let fx: CatalogFixture;
  let osb: OsbClient;
  let provider: Provider;
  let server: Server;
  /** Each call the provider received: the key that signed it and what the provider answered. */
  const seen: { kid: string | undefined; status: number }[] = [];

  beforeAll(async () => {
    database = await kind.open();
    broker = await startTestBroker(database);
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: 'http://127.0.0.1:9',
      auth: { kind: 'jwt' },
      plans: [{ slug: 'small', free: true }],
    });
    provider = defineProvider({
      manifest: {
        slug: fx.providerSlug,
        name: 'Rotation fixture',
        osb: { url: 'http://127.0.0.1:9', auth: 'jwt' },
        services: [
          {
            id: fx.serviceOsbId,
            slug: `${fx.providerSlug}-db`,
            name: 'Fixture DB',
            description: 'A database for tests',
            category: 'databases',
            bindable: true,
            configVars: ['DATABASE_URL'],
            plans: [{ id: fx.plans.small?.osbId as string, slug: 'small', description: 'small', free: true }],
          },
        ],
      },
      broker: { url: broker.url, jwksRefreshCooldownSeconds: COOLDOWN_SECONDS },
      provision: () => {},
      deprovision: () => {},
      bind: ({ bindingId }) => ({ credentials: { DATABASE_URL: `postgres://db.test/${bindingId}` } }),
      unbind: () => {},
    });
    const app = express();
    app.use((req, res, next) => {
      const token = req.header('authorization')?.replace(/^Bearer /, '');
      const kid = token ? decodeProtectedHeader(token).kid : undefined;
      res.on('finish', () => seen.push({ kid, status: res.statusCode }));
      next();
    });
    app.use(provider.router());
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await database.db.updateTable('providers').set({ osb_url: url }).where('id', '=', fx.providerId).execute();
    osb = osbClient(broker.url, { username: fx.osbUsername, password: fx.osbPassword });
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await provider?.close();
    await broker?.close();
    await database?.close();
  });

  let n = 0;
  const provision = async () => {
    const id = `rotation-${kind.name}-${n++}`;
    const answer = await osb('PUT', `/v2/service_instances/${id}`, {
      service_id: fx.serviceOsbId,
      plan_id: fx.plans.small?.osbId,
      organization_guid: 'org',
      space_guid: 'space',
    });
    return answer.status;
  };

  it('keeps every provider call accepted while the broker rotates its signing key', async () => {
    // The provider fetches the JWKS on its first call and caches it.
    expect(await provision()).toBe(201);
    const first = seen[0]?.kid;

    // Published now, signing only after longer than the provider's refetch cooldown.
    const { kid, signsFrom } = await rotateSigningKey(database.db, broker.secretBox, {
      publishLeadMs: (COOLDOWN_SECONDS + 1) * 1000,
    });
    broker.broker.context.signer.refresh();
    const statuses: number[] = [];
    const deadline = signsFrom.getTime() + 5_000;
    while (!seen.some((s) => s.kid === kid) && Date.now() < deadline) {
      statuses.push(await provision());
      await sleep(100);
    }
    expect(statuses.filter((status) => status !== 201)).toEqual([]);
    expect(seen.map((s) => s.kid)).toEqual(expect.arrayContaining([first, kid]));
    expect(seen.filter((s) => s.status !== 201)).toEqual([]);

    // The control: a key that signs at once, while the provider's last JWKS fetch (for the
    // key above) is within its cooldown, is refused — what the publish lead prevents.
    const hasty = await rotateSigningKey(database.db, broker.secretBox, { publishLeadMs: 0 });
    broker.broker.context.signer.refresh();
    expect(await provision()).not.toBe(201);
    expect(seen.at(-1)).toMatchObject({ kid: hasty.kid, status: 401 });
    // Once the cooldown has passed the provider fetches the JWKS again and accepts it.
    await sleep(COOLDOWN_SECONDS * 1000 + 500);
    expect(await provision()).toBe(201);
  });
});

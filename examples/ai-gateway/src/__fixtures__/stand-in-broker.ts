import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UsageRecord } from '@annex/sdk';
import type { ConformanceBroker } from '@annex/sdk/conformance';
import express from 'express';

/**
 * A stand-in for the Annex broker, for the gateway's tests: it publishes the conformance
 * broker's JWKS under its own URL (so it is the tokens' issuer) and captures usage reports,
 * storing each idempotency key once, as the real broker does.
 */
export interface StandInBroker {
  url: string;
  token: string;
  /** Every record received, re-sends included. */
  received: UsageRecord[];
  /** Records by idempotency key, stored once. */
  stored: Map<string, UsageRecord>;
  /** `up`; `down` answers 503; `lose-answers` stores the records and answers 500 (the answer is lost). */
  mode: 'up' | 'down' | 'lose-answers';
  /** Signs an OSB request to the provider `audience` as this broker. */
  sign(audience: string, method: string, path: string): Promise<string>;
  close(): Promise<void>;
}

export async function startStandInBroker(
  kit: ConformanceBroker,
  token = 'annex_provider_test',
): Promise<StandInBroker> {
  const jwks = await (await fetch(`${kit.url}/.well-known/jwks.json`)).text();
  const app = express();
  app.use(express.json());
  const state: StandInBroker = {
    url: '',
    token,
    received: [],
    stored: new Map(),
    mode: 'up',
    sign: (audience, method, path) => kit.requestToken(audience, method, path, { iss: state.url }),
    close: async () => {},
  };
  app.get('/.well-known/jwks.json', (_req, res) => void res.type('application/json').send(jwks));
  app.post('/v1/provider/usage', (req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) return void res.status(401).json({ description: 'bad token' });
    if (state.mode === 'down') return void res.status(503).json({ description: 'down for maintenance' });
    const records = (req.body as { records: UsageRecord[] }).records;
    for (const record of records) {
      state.received.push(record);
      if (!state.stored.has(record.idempotencyKey)) state.stored.set(record.idempotencyKey, record);
    }
    if (state.mode === 'lose-answers')
      return void res.status(500).json({ description: 'stored, but the answer was lost' });
    res.status(202).json({ accepted: records.length });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return state;
}

/** Calls the provider's OSB API as `broker`. */
export function osbClient(broker: StandInBroker, providerUrl: string, audience = 'annex-ai') {
  return async (method: 'GET' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown) => {
    const url = new URL(`${providerUrl}${path}`);
    const response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${await broker.sign(audience, method, url.pathname)}`,
        'x-broker-api-version': '2.17',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as any) : undefined };
  };
}

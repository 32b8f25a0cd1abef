import { createApiToken, type Database } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../testing.js';

// Open event polls wait on the process's notification listener, not on the database.
describe.each(testDatabaseKinds('live app events'))('live app events ($name)', (kind) => {
  let database: Database;
  let broker: TestBroker;
  let token: string;
  let tokenId: string;
  const app = `live-${kind.name}`;

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${broker.url}/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  /** Resolves once the poll was let in (authenticating a token records its use). */
  const authenticated = async () => {
    for (;;) {
      const row = await database.db
        .selectFrom('api_tokens')
        .select('last_used_at')
        .where('id', '=', tokenId)
        .executeTakeFirstOrThrow();
      if (row.last_used_at !== null) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  beforeAll(async () => {
    database = await kind.open();
    // No job runner: every statement counted below is the stream's.
    broker = await startTestBroker(database, { BROKER_WORKERS: 'false' });
    const org = await database.db
      .insertInto('organizations')
      .values({ slug: `live-${Date.now()}`, name: 'Live' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const created = await createApiToken(database.db, { kind: 'org', name: 'live', organizationId: org.id });
    token = created.token;
    tokenId = created.id;
    expect((await call('POST', '/apps', { name: app })).status).toBe(201);
  });
  afterAll(async () => {
    await broker?.close();
    await database?.close();
  });

  const lastEventId = async () => {
    const seen = (await call('GET', `/apps/${app}/events`)).body.events as { id: string }[];
    return seen.at(-1)?.id ?? '0';
  };

  it('sends no statement while an open poll waits, and answers it when an event is written', async () => {
    const after = await lastEventId();
    await database.db.updateTable('api_tokens').set({ last_used_at: null }).where('id', '=', tokenId).execute();
    const poll = call('GET', `/apps/${app}/events?after=${after}&waitMs=20000`);
    await authenticated();
    // Let the poll make its first read, then watch it wait.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const waiting = database.statementCount();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(database.statementCount()).toBe(waiting);

    const change = await call('PATCH', `/apps/${app}/config-vars`, { vars: { LIVE: 'yes' } });
    expect(change.status).toBe(200);
    const answer = await poll;
    expect(answer.status).toBe(200);
    expect(answer.body.events.length).toBeGreaterThan(0);
    expect(answer.body.events.every((event: { id: string }) => BigInt(event.id) > BigInt(after))).toBe(true);
  });

  it('ends a waiting poll when its token is revoked, without an event', async () => {
    const after = await lastEventId();
    await database.db.updateTable('api_tokens').set({ last_used_at: null }).where('id', '=', tokenId).execute();
    const poll = call('GET', `/apps/${app}/events?after=${after}&waitMs=20000`);
    await authenticated();
    await database.db.updateTable('api_tokens').set({ revoked_at: new Date() }).where('id', '=', tokenId).execute();
    const answer = await poll;
    expect(answer.status).toBe(401);
    expect(answer.body.message).toBe('the API token was revoked or has expired; the event stream ended');
  });
});

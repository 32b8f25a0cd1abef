import { type Database, verifyPassword } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogFixture, seedCatalog, startTestBroker, type TestBroker } from '../../testing.js';
import { DEFAULT_LOGIN_THROTTLE } from './login-throttle.js';
import { authenticatePlatform } from './middleware.js';
import type { OsbRequest, OsbResponse } from './node-http.js';

const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

// Failed OSB logins are cut to 429 before any password is hashed, per source address and
// per username, and a platform already signed in keeps being served meanwhile.
describe.each(testDatabaseKinds('failed OSB logins'))('failed OSB logins ($name)', (kind) => {
  let database: Database;
  let broker: TestBroker;
  let fx: CatalogFixture;

  beforeAll(async () => {
    database = await kind.open();
    broker = await startTestBroker(database, { BROKER_WORKERS: 'false' });
    fx = await seedCatalog(database.db, broker.secretBox, {
      providerUrl: 'http://127.0.0.1:9',
      auth: { kind: 'basic', username: 'u', password: 'p' },
      plans: [{ slug: 'small' }],
    });
  });
  afterAll(async () => {
    await broker?.close();
    await database?.close();
  });

  const catalog = async (username: string, password: string) => {
    const response = await fetch(`${broker.url}/v2/catalog`, {
      headers: { authorization: basic(username, password), 'x-broker-api-version': '2.17' },
    });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() };
  };
  const statuses = (answers: { status: number }[]) => {
    const counts: Record<number, number> = {};
    for (const { status } of answers) counts[status] = (counts[status] ?? 0) + 1;
    return counts;
  };

  it('cuts a burst of bad logins to 429 while valid platforms are still served', async () => {
    const { perUsername, perAddress } = DEFAULT_LOGIN_THROTTLE;
    expect((await catalog(fx.osbUsername, fx.osbPassword)).status).toBe(200);

    // 40 wrong passwords for the platform's username at once, its own valid call among them.
    const burst = Array.from({ length: 40 }, (_, i) => catalog(fx.osbUsername, `wrong-${i}`));
    const during = catalog(fx.osbUsername, fx.osbPassword);
    const answers = await Promise.all(burst);
    expect((await during).status).toBe(200);
    expect(statuses(answers)).toEqual({ 401: perUsername, 429: 40 - perUsername });
    for (const refused of answers.filter((a) => a.status === 429)) {
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(refused.body).toEqual({ error: 'TooManyRequests', description: expect.stringMatching(/failed logins/) });
    }
    expect((await catalog(fx.osbUsername, 'one-more')).status).toBe(429);

    // Another platform behind the same address signs in for the first time: its username is
    // untouched and the address has room left.
    expect((await catalog(fx.otherPlatform.osbUsername, fx.otherPlatform.osbPassword)).status).toBe(200);

    // Guessing usernames from one address uses up the address's allowance.
    const guesses = await Promise.all(Array.from({ length: 40 }, (_, i) => catalog(`guess-${i}`, 'x')));
    const left = perAddress - perUsername;
    expect(statuses(guesses)).toEqual({ 401: left, 429: 40 - left });
    expect((await catalog(fx.osbUsername, fx.osbPassword)).status).toBe(200);
  });

  it('checks an unknown username against a hash as a wrong password is, and hashes identical logins once', async () => {
    const verified: string[] = [];
    const authenticate = authenticatePlatform(database.db, {
      verifyPassword: (password, hash) => {
        verified.push(hash);
        return verifyPassword(password, hash);
      },
    });
    const attempt = async (authorization: string) => {
      const req: OsbRequest = {
        method: 'GET',
        path: '/v2/catalog',
        params: {},
        query: {},
        body: undefined,
        remoteAddress: '192.0.2.1',
        header: (name) => (name === 'authorization' ? authorization : undefined),
      };
      const answer: { status?: number; body?: unknown } = {};
      const res: OsbResponse = {
        locals: {},
        headersSent: false,
        setHeader: () => {},
        status(code) {
          answer.status = code;
          return res;
        },
        json(body) {
          answer.body = body;
        },
      };
      return { ok: await authenticate(req, res), ...answer };
    };
    const stored = await database.db
      .selectFrom('platforms')
      .select('osb_password_hash')
      .where('osb_username', '=', fx.osbUsername)
      .executeTakeFirstOrThrow();

    expect(await attempt(basic(fx.osbUsername, 'wrong'))).toMatchObject({ ok: false, status: 401 });
    expect(verified).toEqual([stored.osb_password_hash]);
    expect(await attempt(basic('nobody-by-that-name', 'wrong'))).toMatchObject({ ok: false, status: 401 });
    expect(verified).toHaveLength(2);
    expect(verified[1]).toMatch(/^scrypt\$16384\$/);
    expect(verified[1]).not.toBe(stored.osb_password_hash);

    const together = await Promise.all(Array.from({ length: 5 }, () => attempt(basic(fx.osbUsername, fx.osbPassword))));
    expect(together.every((answer) => answer.ok)).toBe(true);
    expect(verified).toHaveLength(3);
  });
});

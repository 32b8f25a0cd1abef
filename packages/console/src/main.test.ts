import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { migrateToLatest, openDatabase, SecretBox } from '@annex/platform';
import { createScratchDatabase, serverUrl } from '@annex/platform/testing';
import { describe, expect, it } from 'vitest';
import { createSession, hashSessionId, upsertUser } from './sessions.js';

// The console's own process (`npm run start -w @annex/console`), as a deployment runs it.

const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
const cwd = fileURLToPath(new URL('..', import.meta.url));

describe('the console alone (main.ts)', () => {
  it('stops at start-up naming the database and keys it needs, before touching anything', () => {
    const result = spawnSync(tsx, ['--conditions=annex-source', 'src/main.ts'], {
      cwd,
      env: { PATH: process.env.PATH, CONSOLE_PORT: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/DATABASE_URL: required/);
    expect(result.stderr).toMatch(/ANNEX_ENCRYPTION_KEYS: required/);
    const bad = spawnSync(tsx, ['--conditions=annex-source', 'src/main.ts'], {
      cwd,
      env: { PATH: process.env.PATH, DATABASE_URL: 'mysql://nope', ANNEX_ENCRYPTION_KEYS: 'k1:short' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/DATABASE_URL: expected a postgres/);
    expect(bad.stderr).toMatch(/ANNEX_ENCRYPTION_KEYS: expected id:base64key/);
  });

  const url = serverUrl('TEST_DATABASE_URL', 'the console process on PostgreSQL');
  it.runIf(url)(
    'serves on PostgreSQL, sweeps expired sessions at start, and stops on SIGTERM',
    async () => {
      const scratch = await createScratchDatabase(url as string);
      const keys = SecretBox.generateSpec();
      const database = await openDatabase({ kind: 'postgres', url: scratch.url });
      let child: ChildProcess | undefined;
      try {
        await migrateToLatest(database.db);
        const box = SecretBox.fromSpec(keys);
        const user = await upsertUser(database.db, { issuer: 'test', subject: 'gone', email: '', name: 'Gone' });
        const { sessionId } = await createSession(database.db, box, { userId: user.id, who: 'gone', ttlSeconds: 60 });
        await database.db
          .updateTable('console_sessions')
          .set({ expires_at: new Date(Date.now() - 1000) })
          .where('id_hash', '=', hashSessionId(sessionId))
          .execute();

        child = spawn(tsx, ['--conditions=annex-source', 'src/main.ts'], {
          cwd,
          env: {
            PATH: process.env.PATH,
            DATABASE_URL: scratch.url,
            ANNEX_ENCRYPTION_KEYS: keys,
            CONSOLE_PORT: '0',
            LOG_LEVEL: 'info',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const running = child;
        let output = '';
        const listening = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`not listening after 60 s:\n${output}`)), 60_000);
          const read = (chunk: Buffer) => {
            output += chunk.toString();
            const match = /"listening":"(http:\/\/[^"]+)"/.exec(output);
            if (match?.[1]) {
              clearTimeout(timer);
              resolve(match[1]);
            }
          };
          running.stdout?.on('data', read);
          running.stderr?.on('data', read);
          running.on('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
        });
        expect((await fetch(`${listening}/healthz`)).status).toBe(200);
        const signin = await fetch(`${listening}/signin`);
        expect(signin.status).toBe(200);
        expect(await signin.text()).toContain('Development sign-in');
        // The sweep at start-up removed the session nobody came back to.
        for (let i = 0; i < 100; i++) {
          const left = await database.db.selectFrom('console_sessions').select('id_hash').execute();
          if (left.length === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(await database.db.selectFrom('console_sessions').select('id_hash').execute()).toEqual([]);
        const exited = new Promise<number | null>((resolve) => running.on('exit', resolve));
        running.kill('SIGTERM');
        expect(await exited).toBe(0);
        child = undefined;
      } finally {
        child?.kill('SIGKILL');
        await database.close();
        await scratch.drop();
      }
    },
    120_000,
  );
});

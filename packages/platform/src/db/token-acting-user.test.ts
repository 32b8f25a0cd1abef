import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createApiToken } from '../tokens.js';
import { openDatabase } from './database.js';
import { migrateToLatest } from './migrate.js';
import { migrations } from './migrations/index.js';

// Migration 20261203120000: a token acts for a person. The console's sessions open when it
// lands keep working as their person (their token learns it); other tokens act for no one.

const BEFORE = '20261203120000_token_acting_user';

describe('tokens acting for a person (20261203120000) on a database with open console sessions', () => {
  it("gives each session's token its person, and no other token one; a person removed takes their tokens", async () => {
    const database = await openDatabase({ kind: 'pglite-memory' });
    try {
      const { db } = database;
      const earlier = Object.fromEntries(Object.entries(migrations).filter(([name]) => name < BEFORE));
      await migrateToLatest(db, earlier);
      const one = async <T>(query: ReturnType<typeof sql<T>>) => (await query.execute(db)).rows[0] as T;
      const org = (
        await one(sql<{ id: string }>`insert into organizations (slug, name) values ('o', 'O') returning id`)
      ).id;
      const ada = (
        await one(sql<{ id: string }>`
          insert into users (oidc_issuer, oidc_subject, email, name) values ('i', 'ada', '', 'Ada') returning id`)
      ).id;
      const token = async (name: string) =>
        (
          await one(sql<{ id: string }>`
            insert into api_tokens (kind, name, token_hash, token_prefix, organization_id)
            values ('org', ${name}, ${name}, 'annex_org_', ${org}) returning id`)
        ).id;
      const session = await token('console session of ada');
      const bot = await token('deploy bot');
      await sql`
        insert into console_sessions (id_hash, user_id, organization_id, csrf_secret, api_token_id, expires_at)
        values ('h', ${ada}, ${org}, 'c', ${session}, now() + interval '1 hour')`.execute(db);

      await migrateToLatest(db);
      const users = Object.fromEntries(
        (await db.selectFrom('api_tokens').select(['id', 'user_id']).execute()).map((t) => [t.id, t.user_id]),
      );
      expect(users).toEqual({ [session]: ada, [bot]: null });

      const later = await createApiToken(db, {
        kind: 'org',
        name: 'console session of ada',
        organizationId: org,
        userId: ada,
      });
      await db.deleteFrom('users').where('id', '=', ada).execute();
      const left = await db.selectFrom('api_tokens').select('id').execute();
      expect(left.map((t) => t.id)).toEqual([bot]);
      expect(left.map((t) => t.id)).not.toContain(later.id);
    } finally {
      await database.close();
    }
  });
});

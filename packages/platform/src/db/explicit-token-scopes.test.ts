import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { migrateToLatest } from './migrate.js';
import { migrations } from './migrations/index.js';

// Migration 20261206090000: every token carries its scopes explicitly, and none can do less or
// more than before, except console sessions, which get what the member's role allows.

const BEFORE = '20261206090000_explicit_token_scopes';
const DEFAULT = ['apps:read', 'apps:write', 'billing:read', 'billing:write', 'config:write', 'sso'];

describe('explicit token scopes (20261206090000) on a database with tokens of every kind', () => {
  it('gives org and platform tokens what they could do, sessions their role, and leaves admin and provider tokens', async () => {
    const database = await openDatabase({ kind: 'pglite-memory' });
    try {
      const { db } = database;
      const earlier = Object.fromEntries(Object.entries(migrations).filter(([name]) => name < BEFORE));
      await migrateToLatest(db, earlier);
      const one = async <T>(query: ReturnType<typeof sql<T>>) => (await query.execute(db)).rows[0] as T;
      const org = (
        await one(sql<{ id: string }>`insert into organizations (slug, name) values ('o', 'O') returning id`)
      ).id;
      const platform = (
        await one(sql<{ id: string }>`
          insert into platforms (slug, name, osb_username, osb_password_hash) values ('p', 'P', 'u', 'x') returning id`)
      ).id;
      const provider = (
        await one(sql<{ id: string }>`insert into providers (slug, name) values ('acme', 'Acme') returning id`)
      ).id;
      const person = async (subject: string, role: string) => {
        const id = (
          await one(sql<{ id: string }>`
            insert into users (oidc_issuer, oidc_subject, email, name) values ('i', ${subject}, '', ${subject})
            returning id`)
        ).id;
        if (role)
          await sql`insert into memberships (user_id, organization_id, role) values (${id}, ${org}, ${role})`.execute(
            db,
          );
        return id;
      };
      const token = async (kind: string, name: string, scopes: string[], userId: string | null = null) =>
        (
          await one(sql<{ id: string }>`
            insert into api_tokens
              (kind, name, token_hash, token_prefix, organization_id, platform_id, provider_id, scopes, user_id)
            values (${kind}, ${name}, ${name}, 'annex_', ${kind === 'org' ? org : null},
                    ${kind === 'platform' ? platform : null}, ${kind === 'provider' ? provider : null},
                    ${scopes}, ${userId}) returning id`)
        ).id;
      const ids = {
        ci: await token('org', 'ci', []),
        reader: await token('org', 'reader', ['config:read']),
        platform: await token('platform', 'paas', []),
        admin: await token('admin', 'root', []),
        provider: await token('provider', 'acme', ['catalog:publish']),
        adminSession: await token('org', 'session a', [], await person('ada', 'admin')),
        memberSession: await token('org', 'session b', ['config:read'], await person('bob', 'member')),
        formerSession: await token('org', 'session c', ['config:read'], await person('cy', '')),
      };

      await migrateToLatest(db);
      const rows = await db.selectFrom('api_tokens').select(['id', 'scopes']).execute();
      const scopes = Object.fromEntries(rows.map((r) => [r.id, [...r.scopes].sort()]));
      const member = ['apps:read', 'apps:write', 'billing:read', 'config:write', 'sso'];
      expect(scopes).toEqual({
        [ids.ci]: DEFAULT,
        [ids.reader]: [...DEFAULT, 'config:read'].sort(),
        [ids.platform]: DEFAULT,
        [ids.admin]: [],
        [ids.provider]: ['catalog:publish'],
        [ids.adminSession]: [...DEFAULT, 'config:read'].sort(),
        [ids.memberSession]: member,
        [ids.formerSession]: member,
      });
    } finally {
      await database.close();
    }
  });
});

import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { serverUrl, testDatabaseKinds } from '../testing.js';
import { openDatabase } from './database.js';
import { migrateToLatest } from './migrate.js';

describe.each(testDatabaseKinds('database layer'))('database on $name', (kind) => {
  const opened = kind.open();
  afterAll(async () => (await opened).close());

  it('migrates, and a second run applies nothing', async () => {
    const { db } = await opened;
    expect((await migrateToLatest(db)).applied).toEqual([]);
    const tables = await db.introspection.getTables();
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['services', 'plans', 'api_tokens']));
  });

  it('round-trips arrays, JSON and timestamps, and searches English text', async () => {
    const { db } = await opened;
    const provider = await db
      .insertInto('providers')
      .values({ slug: 'p', name: 'P', updated_at: new Date() })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('services')
      .values({
        provider_id: provider.id,
        osb_id: 'svc-1',
        slug: 'pg',
        name: 'Managed Postgres',
        description: 'Databases that scale with your apps',
        category: 'databases',
        tags: ['sql', 'relational'],
        bindable: true,
        requires: [],
        config_vars: ['DATABASE_URL'],
        regions: ['eu'],
        metadata: JSON.stringify({ a: [1, 2] }),
        dashboard_client: null,
        documentation_url: null,
        updated_at: new Date(),
      })
      .execute();
    const row = await db.selectFrom('services').selectAll().executeTakeFirstOrThrow();
    expect(row.tags).toEqual(['sql', 'relational']);
    expect(row.metadata).toEqual({ a: [1, 2] });
    expect(row.created_at).toBeInstanceOf(Date);
    const hits = await db
      .selectFrom('services')
      .select('slug')
      .where(sql<boolean>`search @@ to_tsquery('english', 'scaling')`)
      .execute();
    expect(hits).toEqual([{ slug: 'pg' }]);
    const count = await db
      .selectFrom('services')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    expect(count.n).toBe(1);
  });

  it('rolls a failed transaction back', async () => {
    const { db } = await opened;
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('organizations').values({ slug: 'rollback', name: 'R' }).execute();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.selectFrom('organizations').where('slug', '=', 'rollback').selectAll().execute()).toEqual([]);
  });
});

describe('migrations under contention', () => {
  const url = serverUrl('TEST_DATABASE_URL', 'concurrent migrations on PostgreSQL');
  it.runIf(url)('two processes migrating one fresh database at once both succeed, once', async () => {
    const { createScratchDatabase } = await import('../testing.js');
    const scratch = await createScratchDatabase(url as string);
    const a = await openDatabase({ kind: 'postgres', url: scratch.url });
    const b = await openDatabase({ kind: 'postgres', url: scratch.url });
    try {
      const [ra, rb] = await Promise.all([migrateToLatest(a.db), migrateToLatest(b.db)]);
      const total = ra.applied.length + rb.applied.length;
      expect(total).toBeGreaterThan(0);
      expect(new Set([...ra.applied, ...rb.applied]).size).toBe(total);
    } finally {
      await a.close();
      await b.close();
      await scratch.drop();
    }
  });
});

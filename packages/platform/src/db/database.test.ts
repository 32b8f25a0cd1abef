import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompiledQuery, type Kysely, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { serverUrl, testDatabaseKinds } from '../testing.js';
import { executePrepared, openDatabase } from './database.js';
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

  it('runs a prepared statement again and again with its values typed as Kysely would, counted and failing alike', async () => {
    const database = await opened;
    const { db } = database;
    const text = 'select $1::text[] as slugs, $2::uuid[] as ids, $3::timestamptz as at, $4::int as n, $5::text as none';
    const at = new Date('2026-01-02T03:04:05.678Z');
    const values = [['a', 'b,c', 'ünïcødé €😀'], ['7c51cb8d-566c-4cb3-a7bf-7a59a9144f93'], at, 7, null];
    const viaKysely = (await db.executeQuery(CompiledQuery.raw(text, values))).rows;
    const before = database.statementCount();
    for (let i = 0; i < 3; i++)
      expect(await executePrepared(db, 'database_test_values', text, values)).toEqual(viaKysely);
    expect(database.statementCount()).toBe(before + 3);
    // A failing call leaves the statement, and the session, usable.
    // The database's own error, with its SQLSTATE, as a query through Kysely throws it.
    await expect(
      executePrepared(db, 'database_test_values', text, [[], ['not-a-uuid'], at, 1, null]),
    ).rejects.toMatchObject({ code: '22P02', message: expect.stringMatching(/uuid/) });
    expect(await executePrepared(db, 'database_test_values', text, values)).toEqual(viaKysely);
  });

  it('reads many rows of a prepared statement, nulls and non-ASCII text among them, as Kysely does', async () => {
    const { db } = await opened;
    const text = `select i, v, case when i % 3 = 0 then null else repeat(v, i::int) end as r, i % 2 = 0 as even, '{"k": [1]}'::jsonb as j
      from unnest($1::text[]) with ordinality as t(v, i) order by i`;
    const values = [Array.from({ length: 500 }, (_, i) => `värde ${i} ✓ ${'x'.repeat(i % 40)}`)];
    const viaKysely = (await db.executeQuery(CompiledQuery.raw(text, values))).rows;
    expect(viaKysely).toHaveLength(500);
    expect(await executePrepared(db, 'database_test_rows', text, values)).toEqual(viaKysely);
    expect(await executePrepared(db, 'database_test_rows', text, [[]])).toEqual([]);
  });

  it('never runs a prepared statement inside a transaction another caller holds open', async () => {
    const { db } = await opened;
    const read = 'select count(*)::int as n from organizations where slug = $1';
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inserted!: () => void;
    const insertedYet = new Promise<void>((resolve) => {
      inserted = resolve;
    });
    const transaction = db.transaction().execute(async (trx) => {
      await trx.insertInto('organizations').values({ slug: 'uncommitted', name: 'U' }).execute();
      inserted();
      await held;
      throw new Error('rolled back');
    });
    await insertedYet;
    const reading = executePrepared<{ n: number }>(db, 'database_test_isolation', read, ['uncommitted']);
    release();
    await expect(transaction).rejects.toThrow('rolled back');
    expect(await reading).toEqual([{ n: 0 }]);
  });
});

describe('the embedded database', () => {
  it('plans a prepared statement once, not again with every call', async () => {
    const database = await openDatabase({ kind: 'pglite-memory' });
    try {
      await migrateToLatest(database.db);
      const text = 'select o.slug from organizations o where o.id = any($1::uuid[]) order by o.slug';
      for (let i = 0; i < 10; i++) await executePrepared(database.db, 'database_test_plans', text, [[]]);
      const [plans] = await executePrepared<{ generic_plans: number; custom_plans: number }>(
        database.db,
        'database_test_plan_counts',
        'select generic_plans::int, custom_plans::int from pg_prepared_statements where statement = $1',
        [text],
      );
      expect(plans).toEqual({ generic_plans: 10, custom_plans: 0 });
    } finally {
      await database.close();
    }
  });
});

describe('the embedded database, statement by statement', () => {
  const opened = openDatabase({ kind: 'pglite-memory' });
  afterAll(async () => (await opened).close());

  it('hears a notification that arrives in the answer to a prepared statement, once', async () => {
    const database = await opened;
    const heard: string[] = [];
    const stop = await database.listen('database_test', (payload) => heard.push(payload));
    await sql`select pg_notify('database_test', ${'prepared'})`.execute(database.db);
    await sql`select pg_notify('database_test', 'unnamed')`.execute(database.db);
    await database.db.transaction().execute(async (trx) => {
      await sql`select pg_notify('database_test', ${'committed'})`.execute(trx);
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(heard).toEqual(['prepared', 'unnamed', 'committed']);
    await stop();
    await sql`select pg_notify('database_test', ${'after'})`.execute(database.db);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(heard).toHaveLength(3);
  });

  it('reads a table again after its columns change, and counts the rows a command touched', async () => {
    const { db } = await opened;
    await sql`create table database_test_shape (id int primary key)`.execute(db);
    await sql`insert into database_test_shape values (1), (2), (3)`.execute(db);
    const all = () => sql<Record<string, unknown>>`select * from database_test_shape where id > ${0} order by id`;
    expect((await all().execute(db)).rows).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    await sql`alter table database_test_shape add column label text not null default 'x'`.execute(db);
    expect((await all().execute(db)).rows).toEqual([
      { id: 1, label: 'x' },
      { id: 2, label: 'x' },
      { id: 3, label: 'x' },
    ]);
    const untyped = db as unknown as Kysely<{ database_test_shape: { id: number; label: string } }>;
    const updated = await untyped.updateTable('database_test_shape').set({ label: 'y' }).where('id', '>=', 2).execute();
    expect(updated[0]?.numUpdatedRows).toBe(2n);
  });

  it('keeps at most two hundred statements prepared, however many texts it runs', async () => {
    const database = await opened;
    for (let i = 0; i < 250; i++) await sql`select ${i}::int as ${sql.ref(`n${i}`)}`.execute(database.db);
    const [{ n }] = (
      await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements`.execute(database.db)
    ).rows as [{ n: number }];
    expect(n).toBeLessThanOrEqual(200);
    expect(n).toBeGreaterThan(150);
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

describe('the embedded database in a directory', () => {
  const parent = mkdtempSync(join(tmpdir(), 'annex-pglite-'));
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it('creates a missing directory whole, with shared buffers sized for one process, and reopens it', async () => {
    const dataDir = join(parent, 'db');
    let database = await openDatabase({ kind: 'pglite', dataDir });
    try {
      expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
      expect(readdirSync(parent)).toEqual(['db']);
      const { rows } = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(database.db);
      expect(rows[0]?.shared_buffers).toBe('16MB');
      await sql`create table kept (n int)`.execute(database.db);
      await sql`insert into kept values (7)`.execute(database.db);
    } finally {
      await database.close();
    }
    database = await openDatabase({ kind: 'pglite', dataDir });
    try {
      const { rows } = await sql<{ n: number }>`select n from kept`.execute(database.db);
      expect(rows).toEqual([{ n: 7 }]);
    } finally {
      await database.close();
    }
  }, 120_000);

  it('refuses a directory that holds files but no database, and leaves it as it was', async () => {
    const dataDir = join(parent, 'occupied');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'notes.txt'), 'mine');
    await expect(openDatabase({ kind: 'pglite', dataDir })).rejects.toThrow(
      `could not create the embedded database in ${dataDir}: it is not empty and holds no database`,
    );
    expect(readdirSync(dataDir)).toEqual(['notes.txt']);
    expect(readdirSync(parent).filter((name) => name.startsWith('occupied'))).toEqual(['occupied']);
  }, 120_000);
});

import type { Database, DB } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import {
  type Kysely,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type SqlBool,
  sql,
  type UnknownRow,
} from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepared, type Slots } from './prepared.js';

/** Counts the statements Kysely builds (compiles) and those the database answers. */
class Counter implements KyselyPlugin {
  built = 0;
  answered = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.built += 1;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    this.answered += 1;
    return args.result;
  }
}

describe.each(testDatabaseKinds('prepared reads'))('prepared reads on $name', (kind) => {
  let database: Database;
  let db: Kysely<DB>;
  const counter = new Counter();

  beforeAll(async () => {
    database = await kind.open();
    db = database.db.withPlugin(counter);
    await db
      .insertInto('organizations')
      .values(['acme', 'globex', 'initech'].map((slug) => ({ slug, name: slug.toUpperCase() })))
      .execute();
  });
  afterAll(async () => {
    await database?.close();
  });

  // Organizations among `slugs`, optionally only those whose name is `name`.
  const organizations = prepared(
    (kysely, choices: { byName: boolean }, v: Slots<{ slugs: readonly string[]; name: string | null }>) => {
      let query = kysely.selectFrom('organizations').select('slug').where(sql<SqlBool>`slug = any(${v.slugs}::text[])`);
      if (choices.byName) query = query.where(sql<SqlBool>`name = ${v.name}`);
      return query.orderBy('slug');
    },
  );

  it('builds a statement once per set of choices, and runs it with each call’s values', async () => {
    const before = { ...counter };
    const slugs = (rows: { slug: string }[]) => rows.map((r) => r.slug);
    expect(slugs(await organizations(db, { byName: false }, { slugs: ['acme', 'globex'], name: null }))).toEqual([
      'acme',
      'globex',
    ]);
    expect(slugs(await organizations(db, { byName: false }, { slugs: ['initech', 'nobody'], name: null }))).toEqual([
      'initech',
    ]);
    expect(slugs(await organizations(db, { byName: true }, { slugs: ['acme', 'globex'], name: 'GLOBEX' }))).toEqual([
      'globex',
    ]);
    expect(slugs(await organizations(db, { byName: true }, { slugs: ['acme', 'globex'], name: 'ACME' }))).toEqual([
      'acme',
    ]);
    // Two variants built, four statements answered.
    expect(counter.built - before.built).toBe(2);
    expect(counter.answered - before.answered).toBe(4);
  });

  it('runs in a transaction as well', async () => {
    const rows = await db
      .transaction()
      .execute((trx) => organizations(trx, { byName: false }, { slugs: ['acme'], name: null }));
    expect(rows).toEqual([{ slug: 'acme' }]);
  });
});

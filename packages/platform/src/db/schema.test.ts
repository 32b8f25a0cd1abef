import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { migrateToLatest } from './migrate.js';

// The row types in schema.ts are written by hand; this test holds them to the schema the
// migrations build. It reads schema.ts with the TypeScript checker (the merged `DB` interface)
// and compares every table and column with information_schema of a freshly migrated database:
// the same tables, the same columns, the same nullability, a compatible type, no insert may
// leave out a not-null column the database does not fill, and no insert may name a generated one.
// (A column with a default may still be required on insert: the code chose to always name it.)

type Kind = 'string' | 'number' | 'boolean' | 'date' | 'json' | 'string[]' | 'bigint';

interface DeclaredColumn {
  select: { kinds: Set<Kind>; nullable: boolean };
  insertOptional: boolean;
  insertNever: boolean;
}

const schemaFile = fileURLToPath(new URL('./schema.ts', import.meta.url));

function declaredTables(): Map<string, Map<string, DeclaredColumn>> {
  const program = ts.createProgram([schemaFile], {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(schemaFile);
  if (!source) throw new Error('schema.ts not found');
  const moduleSymbol = checker.getSymbolAtLocation(source);
  const dbSymbol = moduleSymbol && checker.getExportsOfModule(moduleSymbol).find((s) => s.name === 'DB');
  if (!dbSymbol) throw new Error('schema.ts exports no DB interface');
  const dbType = checker.getDeclaredTypeOfSymbol(dbSymbol);

  const kindsOf = (
    parts: ts.Type[],
  ): { kinds: Set<Kind>; nullable: boolean; undefinedIncluded: boolean; never: boolean } => {
    const kinds = new Set<Kind>();
    let nullable = false;
    let undefinedIncluded = false;
    const never = parts.every((part) => (part.flags & ts.TypeFlags.Never) !== 0);
    for (const part of parts) {
      const f = part.flags;
      if (f & ts.TypeFlags.Never) continue;
      if (f & ts.TypeFlags.Null) nullable = true;
      else if (f & ts.TypeFlags.Undefined) undefinedIncluded = true;
      else if (f & (ts.TypeFlags.StringLike | ts.TypeFlags.TemplateLiteral)) kinds.add('string');
      else if (f & ts.TypeFlags.NumberLike) kinds.add('number');
      else if (f & ts.TypeFlags.BigIntLike) kinds.add('bigint');
      else if (f & ts.TypeFlags.BooleanLike) kinds.add('boolean');
      else if (checker.isArrayType(part)) {
        const [element] = checker.getTypeArguments(part as ts.TypeReference);
        kinds.add(element && element.flags & ts.TypeFlags.StringLike ? 'string[]' : 'json');
      } else if (part.getSymbol()?.name === 'Date') kinds.add('date');
      else kinds.add('json');
    }
    return { kinds, nullable, undefinedIncluded, never };
  };

  // Kysely's ColumnType<S, I, U> carries its select and insert types as phantom properties;
  // like Kysely's own SelectType / InsertType, a union is read member by member.
  const side = (type: ts.Type, key: '__select__' | '__insert__'): ts.Type[] =>
    (type.isUnion() ? type.types : [type]).flatMap((member) => {
      const property = member.getProperty(key);
      if (!property) return [member];
      const inner = checker.getTypeOfSymbol(property);
      return inner.isUnion() ? inner.types : [inner];
    });

  const tables = new Map<string, Map<string, DeclaredColumn>>();
  for (const table of checker.getPropertiesOfType(dbType)) {
    const tableType = checker.getTypeOfSymbol(table);
    const columns = new Map<string, DeclaredColumn>();
    for (const column of checker.getPropertiesOfType(tableType)) {
      const type = checker.getTypeOfSymbol(column);
      const select = kindsOf(side(type, '__select__'));
      const insert = kindsOf(side(type, '__insert__'));
      columns.set(column.name, {
        select: { kinds: select.kinds, nullable: select.nullable },
        insertOptional: insert.undefinedIncluded || insert.never || (column.flags & ts.SymbolFlags.Optional) !== 0,
        insertNever: insert.never,
      });
    }
    tables.set(table.name, columns);
  }
  return tables;
}

interface ActualColumn {
  table_name: string;
  column_name: string;
  data_type: string;
  udt_name: string;
  is_nullable: 'YES' | 'NO';
  column_default: string | null;
  is_generated: string;
  is_identity: string;
}

/** The TypeScript kinds a PostgreSQL column type may be declared as. */
function compatibleKinds(column: ActualColumn): Kind[] {
  switch (column.udt_name) {
    case 'text':
    case 'varchar':
    case 'uuid':
    case 'citext':
    case 'inet':
    case 'bytea':
    case 'tsvector':
      return ['string'];
    case 'int2':
    case 'int4':
    case 'float4':
    case 'float8':
      return ['number'];
    // pg returns int8 and numeric as strings unless parsed; both ways are in use.
    case 'int8':
    case 'numeric':
      return ['number', 'string', 'bigint'];
    case 'bool':
      return ['boolean'];
    case 'timestamptz':
    case 'timestamp':
    case 'date':
      return ['date'];
    case 'jsonb':
    case 'json':
      return ['json', 'string[]', 'string', 'number', 'boolean'];
    case '_text':
    case '_varchar':
    case '_uuid':
      return ['string[]'];
    default:
      return column.data_type === 'USER-DEFINED' ? ['string'] : [];
  }
}

describe('schema.ts against the migrated database', () => {
  const opened = openDatabase({ kind: 'pglite-memory' });
  afterAll(async () => (await opened).close());

  it('declares every table and column the migrations create, with their nullability, type and defaults', async () => {
    const { db } = await opened;
    await migrateToLatest(db);
    const { rows } = await sql<ActualColumn>`
      select c.table_name, c.column_name, c.data_type, c.udt_name, c.is_nullable, c.column_default,
             c.is_generated, c.is_identity
        from information_schema.columns c
        join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
       where c.table_schema = 'public' and t.table_type = 'BASE TABLE'
         and c.table_name not like 'kysely_%' and c.table_name <> 'annex_migrations'
       order by c.table_name, c.ordinal_position`.execute(db);
    const actual = new Map<string, ActualColumn[]>();
    for (const row of rows) actual.set(row.table_name, [...(actual.get(row.table_name) ?? []), row]);

    const declared = declaredTables();
    const problems: string[] = [];
    for (const table of actual.keys()) if (!declared.has(table)) problems.push(`${table}: table not declared in DB`);
    for (const table of declared.keys()) if (!actual.has(table)) problems.push(`${table}: declared but no such table`);

    for (const [table, columns] of actual) {
      const declaredColumns = declared.get(table);
      if (!declaredColumns) continue;
      for (const name of declaredColumns.keys())
        if (!columns.some((c) => c.column_name === name))
          problems.push(`${table}.${name}: declared but no such column`);
      for (const column of columns) {
        const where = `${table}.${column.column_name}`;
        const mine = declaredColumns.get(column.column_name);
        if (!mine) {
          problems.push(`${where}: column not declared`);
          continue;
        }
        const nullable = column.is_nullable === 'YES';
        if (mine.select.nullable !== nullable)
          problems.push(
            `${where}: ${nullable ? 'nullable' : 'not null'} in the database, declared ${mine.select.nullable ? 'nullable' : 'not null'}`,
          );
        const allowed = compatibleKinds(column);
        const wrong = [...mine.select.kinds].filter((k) => !allowed.includes(k));
        if (allowed.length === 0) problems.push(`${where}: no TypeScript mapping for ${column.udt_name}`);
        else if (wrong.length > 0) problems.push(`${where}: ${column.udt_name} declared as ${wrong.join(' | ')}`);
        const filled =
          column.column_default !== null || column.is_generated === 'ALWAYS' || column.is_identity === 'YES';
        if (!filled && !nullable && mine.insertOptional && !mine.insertNever)
          problems.push(`${where}: not null without a default, but declared optional on insert`);
        if (column.is_generated === 'ALWAYS' && !mine.insertNever)
          problems.push(`${where}: a generated column cannot be inserted (declare its insert type never)`);
      }
    }
    expect(problems).toEqual([]);
  });
});

import { type RawBuilder, sql } from 'kysely';

// Rows inside one JSON document (a listing's page with its plans and providers): each row is
// the array of its columns' values, in the order of the repository's column list, and is named
// again from that same list when read. A document of objects carried every column's name once
// per row: over a third of a page's bytes, built by the database and parsed again here.

export interface JsonRows<R> {
  /** SQL: the row of the columns as a JSON array of their values, in their order. */
  readonly sql: RawBuilder<unknown[]>;
  /** The row such an array holds, under its columns' names (without their alias). */
  read(values: readonly unknown[]): R;
}

/**
 * JSON rows of these columns (`alias.column`). JSON has no timestamps: the columns named in
 * `timestamps` arrive as ISO text and are read back as `Date`s.
 */
export function jsonRows<R>(columns: readonly string[], timestamps: readonly string[] = []): JsonRows<R> {
  const names = columns.map((column) => column.slice(column.indexOf('.') + 1));
  const isTimestamp = names.map((name) => timestamps.includes(name));
  return {
    sql: sql<unknown[]>`json_build_array(${sql.join(columns.map((column) => sql.ref(column)))})`,
    read(values) {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) {
        const value = values[i];
        row[names[i] as string] = isTimestamp[i] && value !== null ? new Date(value as string) : value;
      }
      return row as R;
    },
  };
}

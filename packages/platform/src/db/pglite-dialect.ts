import type { PGlite } from '@electric-sql/pglite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';

/** PGlite's module: its protocol's serializer and parser, its type parsers. */
export type PGliteModule = typeof import('@electric-sql/pglite');

/**
 * A Kysely dialect over PGlite, PostgreSQL compiled to WebAssembly and run in process.
 *
 * PGlite is one backend with one session, so the driver hands out its single connection
 * to one caller at a time: a transaction holds it until commit or rollback, and other
 * queries queue behind it. That gives the same isolation a pooled `pg` connection gives.
 * Every statement runs prepared (`runStatement`).
 */
export class PGliteDialect implements Dialect {
  readonly #client: PGlite;
  readonly #pglite: PGliteModule;

  constructor(client: PGlite, pglite: PGliteModule) {
    this.#client = client;
    this.#pglite = pglite;
  }

  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.#client, this.#pglite);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
}

class PGliteDriver implements Driver {
  readonly #connection: PGliteConnection;
  #queue: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;

  constructor(client: PGlite, pglite: PGliteModule) {
    this.#connection = new PGliteConnection(client, pglite);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    this.#release = release;
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const parts = ['begin'];
    if (settings.isolationLevel) parts.push(`isolation level ${settings.isolationLevel}`);
    if (settings.accessMode) parts.push(settings.accessMode);
    await connection.executeQuery(CompiledQuery.raw(parts.join(' ')));
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }
  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quoteIdent(name)}`));
  }
  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to savepoint ${quoteIdent(name)}`));
  }
  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release savepoint ${quoteIdent(name)}`));
  }

  async releaseConnection(): Promise<void> {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  async destroy(): Promise<void> {
    await this.#connection.client.close();
  }
}

class PGliteConnection implements DatabaseConnection {
  constructor(
    readonly client: PGlite,
    readonly pglite: PGliteModule,
  ) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const result = await runStatement<R>(this.client, this.pglite, compiledQuery.sql, compiledQuery.parameters);
    return {
      rows: result.rows,
      ...(result.affected !== undefined && isMutation(compiledQuery)
        ? { numAffectedRows: BigInt(result.affected) }
        : {}),
    };
  }

  // biome-ignore lint/correctness/useYield: PGlite has no cursors; this driver never streams.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite dialect does not support streaming queries');
  }
}

/** A statement PGlite has parsed under a name of its own, and the types of its parameters. */
interface PreparedStatement {
  name: string;
  parameterTypes: readonly number[];
}

/** What a PGlite holds prepared: statements by text, least recently used first. */
interface PreparedCache {
  statements: Map<string, PreparedStatement>;
  /** Names given so far (each statement's is new). */
  named: number;
  /** The schema may have changed since they were prepared: close them all first. */
  stale: boolean;
}

const preparedCaches = new WeakMap<PGlite, PreparedCache>();
/**
 * Statements kept prepared per PGlite. Each holds its plan in the backend's memory (some 60 kB
 * for a join), and a text that varies with its input (an `in (…)` list's length) must not grow
 * it without end; a service's hot statements are a few dozen, and one evicted is prepared again.
 */
const MAX_PREPARED = 200;
/** Statements kept prepared: those that read or write rows. */
const ROW_STATEMENTS = new Set(['select', 'insert', 'update', 'delete', 'with', 'values', 'merge']);
/**
 * Statements run once that leave the schema alone. After any other (DDL, `do`), the prepared
 * statements are closed: a `select *` prepared before an `alter table` would otherwise fail
 * ("cached plan must not change result type").
 */
const SCHEMA_KEEPING = new Set([
  'begin',
  'start',
  'commit',
  'end',
  'rollback',
  'abort',
  'savepoint',
  'release',
  'set',
  'reset',
  'show',
  'listen',
  'unlisten',
  'notify',
  'lock',
  'analyze',
  'vacuum',
  'explain',
]);
const FIRST_KEYWORD = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*([A-Za-z]+)/;

/**
 * Runs one statement on PGlite. One that reads or writes rows, or takes parameters, runs
 * prepared: parsed (and described, for its parameters' types) once per text under a name of
 * its own (the most recently used `MAX_PREPARED` kept), then bound and executed in one call
 * into the backend; others run once, unnamed, in one call. The answer is decoded here
 * (`decodeAnswer`). PGlite's `query` parses, describes, plans and binds on every call, in five
 * calls into the backend, and parses the answer into a message per row before making the
 * rows. Values are serialized, and rows parsed, by the client's own serializers and parsers,
 * as `query` does. Call it holding the connection.
 */
async function runStatement<R>(
  client: PGlite,
  pglite: PGliteModule,
  text: string,
  values: readonly unknown[],
): Promise<{ rows: R[]; affected: number | undefined }> {
  const { serialize } = pglite.protocol;
  return client.runExclusive(async () => {
    // As `query` refuses (isDatabaseUnavailable knows this message): the protocol calls below do not check.
    if (client.closed) throw new Error('PGlite is closed');
    let cache = preparedCaches.get(client);
    if (!cache) {
      cache = { statements: new Map(), named: 0, stale: false };
      preparedCaches.set(client, cache);
    }
    // Sent ahead of the statement's own messages: closing statements no longer kept.
    const closing: Uint8Array[] = [];
    if (cache.stale) {
      for (const { name } of cache.statements.values()) closing.push(serialize.close({ type: 'S', name }));
      cache.statements.clear();
      cache.stale = false;
    }
    const keyword = FIRST_KEYWORD.exec(text)?.[1]?.toLowerCase() ?? '';
    let output: Uint8Array;
    if (values.length === 0 && !ROW_STATEMENTS.has(keyword)) {
      output = await rawAnswer(client, [
        ...closing,
        serialize.parse({ text }),
        serialize.bind({}),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
        serialize.sync(),
      ]);
      const answer = decodeAnswer<R>(output, client, pglite);
      if (!SCHEMA_KEEPING.has(keyword)) cache.stale = true;
      return answer;
    }
    let statement = cache.statements.get(text);
    if (statement) {
      // Most recently used last.
      cache.statements.delete(text);
      cache.statements.set(text, statement);
    } else {
      if (cache.statements.size >= MAX_PREPARED) {
        const [oldText, oldest] = cache.statements.entries().next().value as [string, PreparedStatement];
        cache.statements.delete(oldText);
        closing.push(serialize.close({ type: 'S', name: oldest.name }));
      }
      cache.named += 1;
      const name = `annex_${cache.named}`;
      const described = await client.execProtocolStream(
        concatBytes([
          ...closing.splice(0),
          serialize.parse({ name, text }),
          serialize.describe({ type: 'S', name }),
          serialize.sync(),
        ]),
        { syncToFs: false },
      );
      statement = { name, parameterTypes: pglite.parse.parseDescribeStatementResults(described) };
      cache.statements.set(text, statement);
    }
    const types = statement.parameterTypes;
    const serialized = values.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serializer = client.serializers[types[i] ?? 0];
      return serializer ? serializer(value) : String(value);
    });
    output = await rawAnswer(client, [
      ...closing,
      serialize.bind({ statement: statement.name, values: serialized }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ]);
    return decodeAnswer<R>(output, client, pglite);
  });
}

/** The backend's answer to these messages as it writes it (views into its memory, so copied), unparsed. */
async function rawAnswer(client: PGlite, messages: readonly Uint8Array[]): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  await client.execProtocolRawStream(concatBytes(messages), {
    syncToFs: false,
    onRawData: (chunk) => chunks.push(chunk.slice()),
  });
  await client.syncToFs();
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : concatBytes(chunks);
}

/**
 * Listeners of notifications by channel, for the notifications that arrive in a statement's
 * answer read by `decodeAnswer` (the ones PGlite reads itself reach `PGlite.listen`'s
 * callbacks). A listener registers here as well as with `listen`; each notification arrives
 * by one of the two ways, never both.
 */
export function pgliteNotificationListeners(client: PGlite): Map<string, Set<(payload: string) => void>> {
  let listeners = notificationListeners.get(client);
  if (!listeners) {
    listeners = new Map();
    notificationListeners.set(client, listeners);
  }
  return listeners;
}

const notificationListeners = new WeakMap<PGlite, Map<string, Set<(payload: string) => void>>>();

const ROW_DESCRIPTION = 0x54; // 'T'
const DATA_ROW = 0x44; // 'D'
const COMMAND_COMPLETE = 0x43; // 'C'
const NOTIFICATION = 0x41; // 'A'
/** Messages of an answer that say nothing to the caller. */
const SILENT = new Set([
  0x31, // '1' ParseComplete
  0x32, // '2' BindComplete
  0x33, // '3' CloseComplete
  0x49, // 'I' EmptyQueryResponse
  0x4e, // 'N' NoticeResponse (PGlite's own parser drops notices too, unless debugging)
  0x6e, // 'n' NoData
  0x5a, // 'Z' ReadyForQuery
]);

/**
 * The rows (and, for a command, the rows it affected) of one bound and executed statement,
 * read straight from the backend's answer: each value decoded where it lies and parsed by
 * the client's parser for its type. Notifications go to `pgliteNotificationListeners`, in a
 * microtask as PGlite delivers them. An ErrorResponse (or anything unexpected) goes through
 * PGlite's parser, so that the error thrown is the one `query` throws.
 */
function decodeAnswer<R>(
  output: Uint8Array,
  client: PGlite,
  pglite: PGliteModule,
): { rows: R[]; affected: number | undefined } {
  const bytes = Buffer.from(output.buffer, output.byteOffset, output.byteLength);
  const { parseType } = pglite.types;
  let names: string[] = [];
  let types: number[] = [];
  const rows: Record<string, unknown>[] = [];
  let affected: number | undefined;
  let offset = 0;
  while (offset < bytes.length) {
    const code = bytes[offset] as number;
    const end = offset + 1 + bytes.readInt32BE(offset + 1);
    let at = offset + 5;
    if (code === DATA_ROW) {
      const count = bytes.readInt16BE(at);
      at += 2;
      const row: Record<string, unknown> = {};
      for (let i = 0; i < count; i++) {
        const length = bytes.readInt32BE(at);
        at += 4;
        if (length < 0) {
          row[names[i] as string] = null;
          continue;
        }
        row[names[i] as string] = parseType(
          bytes.toString('utf8', at, at + length),
          types[i] as number,
          client.parsers,
        );
        at += length;
      }
      rows.push(row);
    } else if (code === ROW_DESCRIPTION) {
      const count = bytes.readInt16BE(at);
      at += 2;
      names = new Array(count);
      types = new Array(count);
      for (let i = 0; i < count; i++) {
        const nul = bytes.indexOf(0, at);
        names[i] = bytes.toString('utf8', at, nul);
        // After the name: table oid (4), column number (2), type oid (4), size (2), modifier (4), format (2).
        types[i] = bytes.readInt32BE(nul + 7);
        at = nul + 19;
      }
    } else if (code === COMMAND_COMPLETE) {
      // "INSERT 0 3", "UPDATE 2", "SELECT 5", "BEGIN": the count, where there is one, comes last.
      const tag = bytes.toString('utf8', at, end - 1);
      const count = Number(tag.slice(tag.lastIndexOf(' ') + 1));
      if (tag.includes(' ') && Number.isInteger(count)) affected = count;
    } else if (code === NOTIFICATION) {
      const channelStart = at + 4; // after the notifying process's id
      const channelEnd = bytes.indexOf(0, channelStart);
      const channel = bytes.toString('utf8', channelStart, channelEnd);
      const payload = bytes.toString('utf8', channelEnd + 1, bytes.indexOf(0, channelEnd + 1));
      for (const listener of notificationListeners.get(client)?.get(channel) ?? []) {
        queueMicrotask(() => listener(payload));
      }
    } else if (!SILENT.has(code)) {
      throw pgliteError(output, pglite, code);
    }
    offset = end;
  }
  return { rows: rows as R[], affected };
}

/** The error PGlite's own parser reads from an answer (what `query` would throw). */
function pgliteError(output: Uint8Array, pglite: PGliteModule, code: number): Error {
  let error: Error | undefined;
  new pglite.protocol.Parser().parse(output, (message) => {
    if (!error && message instanceof pglite.messages.DatabaseError) error = message;
  });
  return error ?? new Error(`PGlite answered an unexpected message (${String.fromCharCode(code)})`);
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

function isMutation(query: CompiledQuery): boolean {
  const kind = query.query.kind;
  return (
    kind === 'InsertQueryNode' || kind === 'UpdateQueryNode' || kind === 'DeleteQueryNode' || kind === 'MergeQueryNode'
  );
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

import type { DB } from '@annex/platform';
import type { Kysely, Transaction } from 'kysely';

/** Repositories take a database or an open transaction first; transactions open at the edge. */
export type Executor = Kysely<DB> | Transaction<DB>;

import type { DB } from '@annex/platform';
import type { Kysely, Transaction } from 'kysely';

/** A repository function takes the database or an open transaction first. */
export type Executor = Kysely<DB> | Transaction<DB>;

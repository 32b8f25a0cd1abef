import type { DB } from '@annex/platform';
import type { Kysely, Transaction } from 'kysely';

/** A repository function takes the database or an open transaction first. */
export type Executor = Kysely<DB> | Transaction<DB>;

/** The broker's database handle, as the service context holds it. */
export type BrokerDb = Kysely<DB>;

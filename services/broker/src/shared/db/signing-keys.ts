import type { BrokerSigningKeysTable } from '@annex/platform';
import { type Insertable, type Selectable, sql } from 'kysely';
import type { Executor } from './executor.js';

export type SigningKeyRow = Selectable<BrokerSigningKeysTable>;

export async function listSigningKeys(db: Executor): Promise<SigningKeyRow[]> {
  return db.selectFrom('broker_signing_keys').selectAll().orderBy('signs_from').execute();
}

export async function insertSigningKey(db: Executor, row: Insertable<BrokerSigningKeysTable>): Promise<void> {
  await db.insertInto('broker_signing_keys').values(row).execute();
}

/** Retires every key still signing at `at` (the new key takes over then). */
export async function retireSigningKeys(db: Executor, at: Date): Promise<void> {
  await db.updateTable('broker_signing_keys').set({ retired_at: at }).where('retired_at', 'is', null).execute();
}

/** Serialises key creation between replicas (and between bootstrap and rotation) until the transaction ends. */
export async function lockSigningKeys(trx: Executor): Promise<void> {
  await sql`lock table broker_signing_keys in share row exclusive mode`.execute(trx);
}

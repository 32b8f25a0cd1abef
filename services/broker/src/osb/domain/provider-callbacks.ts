import { recordAudit } from '../../shared/domain/audit.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import { BrokerFailure } from '../../shared/domain/errors.js';
import { expediteProviderOperation } from '../db/operations.js';

/**
 * A provider reports that an async operation it answered 202 for has ended. The broker
 * does not take the provider's word for the outcome: it polls `last_operation` at once
 * (instead of at its next backoff), so the state the platform sees is the one the
 * provider's OSB API reports, and a replayed or forged report changes nothing.
 */
export async function reportOperationEnded(
  ctx: BrokerContext,
  caller: { providerId: string; tokenId: string },
  providerOperation: string,
  reported: { state: 'succeeded' | 'failed'; description: string },
): Promise<{ operations: number }> {
  const found = await expediteProviderOperation(ctx.db, caller.providerId, providerOperation);
  if (found.length === 0) {
    throw new BrokerFailure('NotFound', `no operation "${providerOperation}" of this provider`);
  }
  for (const op of found) {
    await recordAudit(
      ctx.db,
      { kind: 'provider', platformId: null, tokenId: caller.tokenId, originatingIdentity: null },
      {
        action: 'operation.end_reported',
        result: reported.state,
        operationId: op.id,
        detail: { provider_operation: providerOperation, description: reported.description, was: op.state },
      },
    );
  }
  return { operations: found.length };
}

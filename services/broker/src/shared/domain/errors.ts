/**
 * Typed failures of the broker's domain. Each has a stable code; `osb/errors.ts` maps
 * them to an OSB status and error key, in one table.
 */
export type BrokerFailureCode =
  | 'BadRequest'
  | 'Conflict'
  | 'Gone'
  | 'NotFound'
  | 'AsyncRequired'
  | 'ConcurrencyError'
  | 'RequiresApp'
  | 'MaintenanceInfoConflict'
  | 'NotSupported'
  | 'ProviderRejected'
  | 'ProviderFailed';

export class BrokerFailure extends Error {
  constructor(
    readonly code: BrokerFailureCode,
    message: string,
    readonly extra: { status?: number; instanceUsable?: boolean; updateRepeatable?: boolean; error?: string } = {},
  ) {
    super(message);
    this.name = 'BrokerFailure';
  }
}

export const badRequest = (message: string) => new BrokerFailure('BadRequest', message);
export const conflict = (message: string) => new BrokerFailure('Conflict', message);
export const gone = (message: string) => new BrokerFailure('Gone', message);
export const notFound = (message: string) => new BrokerFailure('NotFound', message);
export const asyncRequired = () =>
  new BrokerFailure(
    'AsyncRequired',
    'This request requires the client to support asynchronous operations (accepts_incomplete=true).',
  );
export const concurrencyError = (message: string) => new BrokerFailure('ConcurrencyError', message);

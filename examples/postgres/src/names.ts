import { createHash } from 'node:crypto';

/**
 * PostgreSQL identifiers of an instance and its bindings. They are derived from the broker's
 * ids by hashing, never taken from input: only `[a-z0-9_]`, well under 63 bytes, and the same
 * after a restart, so the provider finds what it created without a table of its own.
 */
export interface InstanceNames {
  database: string;
  owner: string;
}

const digest = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 24);

export function instanceNames(instanceId: string): InstanceNames {
  const hash = digest(`instance:${instanceId}`);
  return { database: `annex_db_${hash}`, owner: `annex_owner_${hash}` };
}

export function bindingRole(instanceId: string, bindingId: string): string {
  return `annex_u_${digest(`binding:${instanceId}:${bindingId}`)}`;
}

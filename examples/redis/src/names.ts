import { createHash } from 'node:crypto';

/**
 * Names in Redis, derived from the broker's ids by hashing (never taken from input), the same
 * after a restart: an instance's key prefix and the ACL users of its bindings.
 *
 * - keys and channels of an instance: `i-<24 hex>:*`
 * - ACL user of a binding: `annex-i-<24 hex>-b-<16 hex>`, so an instance's users are found by name
 */
const digest = (value: string, length: number) => createHash('sha256').update(value).digest('hex').slice(0, length);

/** The instance's key prefix, without the `:` that follows it in every key. */
export function keyPrefix(instanceId: string): string {
  return `i-${digest(`instance:${instanceId}`, 24)}`;
}

/** The start of the names of every ACL user of an instance. */
export function userPrefix(instanceId: string): string {
  return `annex-${keyPrefix(instanceId)}-`;
}

export function bindingUser(instanceId: string, bindingId: string): string {
  return `${userPrefix(instanceId)}b-${digest(`binding:${instanceId}:${bindingId}`, 16)}`;
}

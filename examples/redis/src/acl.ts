import type { RedisPlan } from './plans.js';

/**
 * The ACL rules of a binding's user: its instance's keys only, the data commands, and on plans
 * with pub/sub its instance's channels. Commands that reach beyond a key prefix are removed:
 * those without key arguments that list or count the whole keyspace (KEYS, SCAN, RANDOMKEY,
 * DBSIZE), those that change database (SELECT, MOVE, SWAPDB, COPY ... DB), scripting, admin
 * and `@dangerous` commands (FLUSHALL, CONFIG, DEBUG, ...), and PUBSUB's channel listings.
 */
export function aclRules(prefix: string, plan: RedisPlan): string[] {
  return [
    'resetkeys',
    `~${prefix}:*`,
    'resetchannels',
    ...(plan.pubsub ? [`&${prefix}:*`] : []),
    '-@all',
    '+@read',
    '+@write',
    '+@keyspace',
    '+@string',
    '+@hash',
    '+@list',
    '+@set',
    '+@sortedset',
    '+@stream',
    '+@bitmap',
    '+@hyperloglog',
    '+@geo',
    '+@transaction',
    '+@connection',
    '-@admin',
    '-@dangerous',
    '-@scripting',
    '-@pubsub',
    ...(plan.pubsub ? ['+@pubsub', '-pubsub'] : []),
    '-keys',
    '-scan',
    '-randomkey',
    '-dbsize',
    '-select',
    '-move',
    '-swapdb',
    '-copy',
  ];
}

import type { DB, Logger, OutboundPolicy, Principal, SecretBox } from '@annex/platform';
import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import type { Kysely } from 'kysely';
import type { BrokerApi } from '../broker-client.js';
import type { Viewer } from '../domain/visibility.js';

/** Per request. Loaders live in the context object (Pothos keys them by it). */
export interface CatalogContext {
  principal: Principal;
  /** What `principal` may see; every catalog query filters by it. */
  viewer: Viewer;
  db: Kysely<DB>;
  secretBox: SecretBox;
  requestId: string;
  log: Logger;
  /** Where providers' OSB URLs may point (ANNEX_ALLOW_PRIVATE_NETWORKS). */
  outbound: OutboundPolicy;
  /** The caller's raw API token (no `Bearer `), forwarded to the broker; unset for anonymous callers. */
  bearer?: string;
  /** The broker's apps API as this caller sees it (apps, add-ons, config vars live there). */
  broker: BrokerApi;
  /** Aborted when the client goes away (ends subscriptions' long polls at once). */
  signal?: AbortSignal;
}

export const builder = new SchemaBuilder<{
  Context: CatalogContext;
  DefaultFieldNullability: false;
  Scalars: {
    JSON: { Input: unknown; Output: unknown };
    DateTime: { Input: Date; Output: Date };
  };
}>({
  plugins: [ErrorsPlugin, RelayPlugin, DataloaderPlugin],
  defaultFieldNullability: false,
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodesQueryOptions: false,
  },
  errors: { defaultTypes: [], directResult: true },
});

function literalValue(node: ValueNode): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
    case Kind.ENUM:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map(literalValue);
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, literalValue(f.value)]));
    case Kind.VARIABLE:
      throw new GraphQLError('variables inside JSON literals are not supported; pass the whole value as a variable');
  }
}

builder.addScalarType(
  'JSON',
  new GraphQLScalarType({
    name: 'JSON',
    description: 'Any JSON value.',
    serialize: (value) => value,
    parseValue: (value) => value,
    parseLiteral: literalValue,
  }),
);

builder.addScalarType(
  'DateTime',
  new GraphQLScalarType<Date, string>({
    name: 'DateTime',
    description: 'An ISO 8601 timestamp in UTC.',
    serialize: (value) => (value instanceof Date ? value : new Date(String(value))).toISOString(),
    parseValue: (value) => {
      const date = new Date(String(value));
      if (Number.isNaN(date.getTime())) throw new GraphQLError('expected an ISO 8601 timestamp');
      return date;
    },
  }),
);

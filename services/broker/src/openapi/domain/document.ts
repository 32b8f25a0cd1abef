import {
  API_ERROR_STATUSES,
  addon,
  answers,
  apiError,
  app,
  appDetail,
  attachment,
  billingAccount,
  event,
  invoice,
  listedApp,
  preflight,
  queries,
  release,
  requests,
  successStatuses,
  unscopedRoutes,
  webhookDelivery,
} from '@annex/contracts/v1';
import {
  type AnyScope,
  OPERATION_SCOPES,
  PROVIDER_SCOPES,
  type ProviderScope,
  type RestOperation,
  SCOPES,
  type Scope,
} from '@annex/platform';
import {
  CALLBACK_ERROR_STATUSES,
  callbackError,
  PROVIDER_CALLBACKS,
  type ProviderCallbackRoute,
} from '@annex/sdk/callbacks';
import * as z from 'zod';

// The OpenAPI 3.1 document of the broker's `/v1` API and its provider callback API, generated
// from what the broker itself mounts and decodes with: the routes of the scope table
// (`OPERATION_SCOPES`), of `unscopedRoutes` and of the provider callbacks (`PROVIDER_CALLBACKS`
// of @annex/sdk/callbacks), each route's request body, query, answer and success statuses from
// @annex/contracts/v1 or that table. Nothing here names a route: a route added to those tables
// is in the document. JSON Schema comes from zod (`z.toJSONSchema`, draft
// 2020-12, the dialect of OpenAPI 3.1).

/** An OpenAPI 3.1 document, as JSON. */
export type OpenApiDocument = {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: {
    schemas: Record<string, unknown>;
    responses: Record<string, unknown>;
    securitySchemes: Record<string, unknown>;
  };
  tags: { name: string; description: string }[];
};

export type OpenApiOperation = {
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  security: Record<string, string[]>[];
  'x-annex-scope'?: AnyScope;
  'x-annex-route': string;
  parameters?: { name: string; in: 'path' | 'query' | 'header'; required: boolean; schema: unknown }[];
  requestBody?: { required: boolean; content: { 'application/json': { schema: unknown } } };
  responses: Record<
    string,
    { description: string; content?: { 'application/json': { schema: unknown } } } | { $ref: string }
  >;
};

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Route = RestOperation | keyof typeof unscopedRoutes | ProviderCallbackRoute;

/** The schemas the document names (`#/components/schemas/…`), by the name. */
const NAMED = {
  App: app,
  AppDetail: appDetail,
  ListedApp: listedApp,
  Addon: addon,
  Attachment: attachment,
  Release: release,
  Preflight: preflight,
  Event: event,
  WebhookDelivery: webhookDelivery,
  BillingAccount: billingAccount,
  Invoice: invoice,
  ApiError: apiError,
  CallbackError: callbackError,
} as const;

const TAGS: Record<string, string> = {
  apps: 'Apps, their add-ons and attachments, config vars, releases and events (docs/apps.md)',
  addons: 'Add-ons: plan changes, credential rotation, sharing, single sign-on',
  platforms: "The calling platform's webhook (docs/apps.md, Webhooks)",
  'webhook-deliveries': 'The webhook delivery log',
  billing: 'Billing accounts, payment methods, spend caps, invoices and usage (docs/billing.md)',
  provider:
    'The provider callback API: what a provider sends the broker with its provider token (docs/provider-protocol.md)',
};

const STATUS_WORDS: Record<number, string> = {
  200: 'Done.',
  201: 'Created.',
  202: 'Accepted: the work goes on; the answer says where it stands.',
  204: 'Done; no body.',
  304: 'Not modified since the ETag given in If-None-Match.',
};

/** Every `/v1` route the broker mounts: the scope table's REST routes, the unscoped ones, the provider callbacks. */
export function documentedRoutes(): Route[] {
  const scoped = Object.keys(OPERATION_SCOPES).filter((key): key is RestOperation => /^[A-Z]+ \/v1\//.test(key));
  return [
    ...scoped,
    ...(Object.keys(unscopedRoutes) as (keyof typeof unscopedRoutes)[]),
    ...(Object.keys(PROVIDER_CALLBACKS) as ProviderCallbackRoute[]),
  ];
}

/** What the contracts say of a route: its body, query, answer and success statuses. */
function contractOf(route: Route): {
  request?: z.ZodType;
  query?: z.ZodObject;
  answer?: z.ZodType;
  statuses: readonly number[];
} {
  const callback = (
    PROVIDER_CALLBACKS as Record<
      string,
      { request?: z.ZodType; query?: z.ZodObject; answer: z.ZodType; statuses: readonly number[] } | undefined
    >
  )[route];
  if (callback) return callback;
  const request = (requests as Record<string, z.ZodType | undefined>)[route];
  const query = (queries as Record<string, z.ZodObject | undefined>)[route];
  const answer = (answers as Record<string, z.ZodType | undefined>)[route];
  return {
    ...(request ? { request } : {}),
    ...(query ? { query } : {}),
    ...(answer ? { answer } : {}),
    statuses: successStatuses[route] ?? [200],
  };
}

/**
 * Builds the document. `serverUrl` is where the broker is reached (its public URL).
 *
 * @example
 * const document = openApiDocument({ serverUrl: 'http://127.0.0.1:4001' });
 * document.paths['/v1/apps']?.get?.['x-annex-scope']; // 'apps:read'
 */
export function openApiDocument(options: { serverUrl: string }): OpenApiDocument {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(NAMED)) registry.add(schema, { id });
  const schemas: Record<string, unknown> = {};
  // zod names registered schemas in `$defs`; the document keeps them in components.
  const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => {
    const converted = z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      io,
      metadata: registry,
      unrepresentable: 'any',
    }) as Record<string, unknown>;
    const { $schema: _, $defs, ...rest } = converted;
    for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, unknown>))
      schemas[id] ??= componentRefs(def);
    return componentRefs(rest);
  };
  const named = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  }).schemas;
  for (const [id, schema] of Object.entries(named)) {
    const { $schema: _, $id: __, ...own } = schema as Record<string, unknown>;
    schemas[id] = own;
  }

  const paths: OpenApiDocument['paths'] = {};
  for (const route of documentedRoutes()) {
    const [verb, expressPath] = route.split(' ') as [string, string];
    const method = verb.toLowerCase() as Method;
    const path = expressPath.replace(/:([A-Za-z]+)/g, '{$1}');
    const scope = (OPERATION_SCOPES as Record<string, AnyScope | undefined>)[route];
    const providerScope = scope !== undefined && scope in PROVIDER_SCOPES;
    const caller =
      route in PROVIDER_CALLBACKS ? 'provider' : (unscopedRoutes as Record<string, 'stripe' | undefined>)[route];
    const contract = contractOf(route);
    const segment = expressPath.split('/')[2] ?? 'v1';

    const parameters: NonNullable<OpenApiOperation['parameters']> = [];
    for (const [, name] of expressPath.matchAll(/:([A-Za-z]+)/g)) {
      parameters.push({ name: name as string, in: 'path', required: true, schema: { type: 'string', minLength: 1 } });
    }
    for (const [name, field] of Object.entries(contract.query?.shape ?? {})) {
      parameters.push({
        name,
        in: 'query',
        required: !(field as z.ZodType).safeParse(undefined).success,
        schema: jsonSchema(field as z.ZodType, 'input'),
      });
    }
    if (caller === 'stripe') {
      parameters.push({ name: 'stripe-signature', in: 'header', required: true, schema: { type: 'string' } });
    }

    const { request: body, answer } = contract;
    const responses: OpenApiOperation['responses'] = {};
    for (const status of contract.statuses) {
      responses[String(status)] =
        answer && status !== 204 && status !== 304
          ? {
              description: STATUS_WORDS[status] ?? 'Done.',
              content: { 'application/json': { schema: jsonSchema(answer, 'output') } },
            }
          : { description: STATUS_WORDS[status] ?? 'Done.' };
    }
    const errors = caller === 'provider' ? CALLBACK_ERROR_STATUSES : API_ERROR_STATUSES;
    for (const status of errors) {
      responses[String(status)] = {
        $ref: `#/components/responses/${caller === 'provider' ? 'CallbackError' : 'ApiError'}`,
      };
    }

    const operation: OpenApiOperation = {
      operationId: operationId(method, expressPath),
      // What the list of operations shows beside each path: who may call it.
      summary: scope ? `needs ${scope}` : caller === 'provider' ? 'provider token' : 'signed by Stripe',
      description: scope
        ? `Needs a ${providerScope ? 'provider ' : ''}token with the \`${scope}\` scope (${providerScope ? PROVIDER_SCOPES[scope as ProviderScope] : SCOPES[scope as Scope]}).`
        : caller === 'provider'
          ? "A provider callback: needs the provider's API token (`annex_provider_…`); it acts on that provider's instances only."
          : 'Called by Stripe, which signs the exact bytes of the body (`Stripe-Signature`); no API token.',
      tags: [segment],
      security: scope
        ? [providerScope ? { providerToken: [scope] } : { apiToken: [scope] }]
        : caller === 'provider'
          ? [{ providerToken: [] }]
          : [],
      ...(scope ? { 'x-annex-scope': scope } : {}),
      'x-annex-route': route,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(body
        ? {
            requestBody: {
              required: !body.safeParse({}).success,
              content: { 'application/json': { schema: jsonSchema(body, 'input') } },
            },
          }
        : {}),
      responses,
    };
    paths[path] = { ...paths[path], [method]: operation };
  }

  const usedTags = new Set(Object.values(paths).flatMap((ops) => Object.values(ops).flatMap((op) => op.tags)));
  return {
    openapi: '3.1.0',
    info: {
      title: 'Annex broker API',
      version: 'v1',
      description:
        "The broker's `/v1` REST API (apps, add-ons, attachments, config vars, releases, webhooks, billing, single sign-on) and the provider callback API (`/v1/provider`). Generated from the contracts the broker decodes requests and builds answers with (docs/openapi.md). Every refusal answers the error body of its API and changes nothing.",
    },
    servers: [{ url: options.serverUrl }],
    paths,
    components: {
      schemas,
      responses: {
        ApiError: {
          description:
            'Refused, nothing changed: the error code, a message naming what is wrong and, where it applies, the field at fault (`invalid_input`), the name taken and its owner (`name_taken`, `var_collision`) or the scope the token lacks (`forbidden`). A 503 carries `Retry-After`.',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } },
        },
        CallbackError: {
          description: 'Refused, nothing changed: an OSB error key and a description naming what is wrong.',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/CallbackError' } } },
        },
      },
      securitySchemes: {
        apiToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'annex_org_…, annex_platform_… or annex_admin_…',
          description: `An org, platform or admin API token. Each operation names the scope it needs (\`x-annex-scope\`); admin tokens have every scope. Scopes: ${Object.entries(
            SCOPES,
          )
            .map(([name, words]) => `\`${name}\` (${words})`)
            .join('; ')}.`,
        },
        providerToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'annex_provider_…',
          description: `A provider's API token: the callbacks act on that provider's instances only; a provider's own data (\`/v1/providers/:provider/...\`, also open to admin tokens) needs the provider scope the operation names. Scopes: ${Object.entries(
            PROVIDER_SCOPES,
          )
            .map(([name, words]) => `\`${name}\` (${words})`)
            .join('; ')}.`,
        },
      },
    },
    tags: Object.entries(TAGS)
      .filter(([name]) => usedTags.has(name))
      .map(([name, description]) => ({ name, description })),
  };
}

/** `GET /v1/apps/:app/config-vars` → `getAppsByAppConfigVars`. */
function operationId(method: Method, path: string): string {
  const words = path
    .split('/')
    .slice(2)
    .flatMap((segment) => (segment.startsWith(':') ? ['by', segment.slice(1)] : segment.split('-')));
  return method + words.map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join('');
}

/** zod's `#/$defs/X` references, pointed at the document's components. */
function componentRefs<T>(schema: T): T {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/$defs/', '"#/components/schemas/')) as T;
}

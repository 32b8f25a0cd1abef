import fc from 'fast-check';
import {
  anyValue,
  bodyText,
  deepJsonValue,
  type Field,
  forgedId,
  hostileAuthorization,
  hostileJson,
  hostileNumber,
  hostileString,
  jsonText,
  mutated,
  oddHeaders,
} from './arbitraries.js';
import type { Attacker, Probe, Rival } from './target.js';

// Requests to the catalog's GraphQL API: every query and mutation a customer reaches, with
// hostile variables (wrong types, control characters, forged ids and global ids of the
// rival's objects), hostile literals spliced into documents, and documents that are not
// GraphQL at all, as the attacker organization, its platform or anonymously.

interface Operation {
  document: string;
  variables: Record<string, Field<unknown>>;
}

const optional = <T>(valid: fc.Arbitrary<T>) => fc.oneof(fc.constant(undefined), valid);

export function graphqlProbes(attacker: Attacker, rival: Rival): fc.Arbitrary<Probe> {
  const forged = forgedId(rival, [attacker.app, attacker.addon]);
  const name = (valid: fc.Arbitrary<unknown>): Field<unknown> => ({ valid, hostile: fc.oneof(forged, anyValue) });
  const app = name(fc.constant(attacker.app));
  const addon = name(fc.constant(attacker.addon));
  const attachmentName = fc.stringMatching(/^[A-Z][A-Z_]{0,6}$/);
  const plan = name(fc.constantFrom('ai-gateway:starter', 'ai-gateway:scale'));
  const parameters: Field<unknown> = {
    valid: optional(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })),
    hostile: fc.oneof(
      hostileJson,
      fc.dictionary(hostileString, hostileJson, { maxKeys: 3 }),
      deepJsonValue.map((deep) => ({ deep })),
    ),
  };
  const input = (fields: Record<string, Field<unknown>>): Field<unknown> => ({
    valid: mutated(fields, 1),
    hostile: anyValue,
  });
  const result = '{ __typename ... on Error { message } }';

  const operations: Operation[] = [
    {
      document: 'query($name: String!) { app(name: $name) { id name organization configVars { name value } } }',
      variables: { name: app },
    },
    {
      document: 'query($name: String!) { addon(name: $name) { id name organization attachments { name } } }',
      variables: { name: addon },
    },
    {
      document: 'query($id: ID!) { node(id: $id) { id __typename } }',
      variables: { id: name(fc.constant(attacker.app)) },
    },
    {
      document: 'query($id: ID!) { plan(id: $id) { id slug } }',
      variables: { id: name(fc.constant('ai-gateway:starter')) },
    },
    {
      document: 'query($id: ID, $slug: String) { service(id: $id, slug: $slug) { id slug } }',
      variables: { id: name(optional(fc.constant('ai-gateway'))), slug: name(optional(fc.constant('ai-gateway'))) },
    },
    {
      document: 'query($slug: String!) { provider(slug: $slug) { slug name } }',
      variables: { slug: name(fc.constant('ai-gateway')) },
    },
    {
      document:
        'query($first: Int, $after: String, $filter: ServiceFilter) { services(first: $first, after: $after, filter: $filter) { edges { node { slug } } pageInfo { endCursor } } }',
      variables: {
        first: { valid: optional(fc.integer({ min: 1, max: 100 })), hostile: fc.oneof(hostileNumber, anyValue) },
        after: { valid: fc.constant(undefined), hostile: fc.oneof(hostileString, forged) },
        filter: {
          valid: optional(fc.record({ search: fc.string({ maxLength: 10 }) })),
          hostile: fc.oneof(
            fc.record(
              { search: anyValue, category: anyValue, provider: anyValue, region: anyValue, freeOnly: anyValue },
              { requiredKeys: [] },
            ),
            anyValue,
          ),
        },
      },
    },
    { document: '{ apps { id name } categories { slug } providers { slug } }', variables: {} },
    {
      document: 'query($organization: String) { billingAccount(organization: $organization) { __typename } }',
      variables: { organization: name(optional(fc.constant(attacker.organization))) },
    },
    {
      document: 'query($organization: String) { invoices(organization: $organization) { id } }',
      variables: {
        organization: { valid: fc.constant(undefined), hostile: fc.oneof(fc.constant(rival.organization), anyValue) },
      },
    },
    {
      document: `query($input: AttachPreflightInput!) { attachPreflight(input: $input) ${result} }`,
      variables: { input: input({ app, plan, parameters, as: name(optional(attachmentName)) }) },
    },
    {
      document: `mutation($input: CreateAppInput!) { createApp(input: $input) ${result} }`,
      variables: {
        input: input({
          name: name(fc.stringMatching(/^fuzz-[a-z]{1,6}$/)),
          organization: { valid: fc.constant(undefined), hostile: fc.oneof(fc.constant(rival.organization), anyValue) },
        }),
      },
    },
    {
      document: `mutation($input: CreateAddonInput!) { createAddon(input: $input) ${result} }`,
      variables: { input: input({ app, plan, parameters, as: name(optional(attachmentName)) }) },
    },
    {
      document: `mutation($input: AttachAddonInput!) { attachAddon(input: $input) ${result} }`,
      variables: {
        input: input({ app, addon, as: name(optional(attachmentName)), replace: name(optional(fc.boolean())) }),
      },
    },
    {
      document: `mutation($input: DetachAddonInput!) { detachAddon(input: $input) ${result} }`,
      variables: { input: input({ app, name: name(attachmentName) }) },
    },
    {
      document: `mutation($input: DestroyAddonInput!) { destroyAddon(input: $input) ${result} }`,
      variables: { input: input({ addon }) },
    },
    {
      document: `mutation($input: ChangeAddonPlanInput!) { changeAddonPlan(input: $input) ${result} }`,
      variables: { input: input({ addon, plan }) },
    },
    {
      document: `mutation($input: RotateAddonCredentialsInput!) { rotateAddonCredentials(input: $input) ${result} }`,
      variables: {
        input: input({
          addon,
          graceSeconds: { valid: optional(fc.nat({ max: 600 })), hostile: fc.oneof(hostileNumber, anyValue) },
        }),
      },
    },
    {
      document: `mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) ${result} }`,
      variables: {
        input: input({
          app,
          vars: {
            valid: fc.dictionary(
              fc.stringMatching(/^[A-Z][A-Z0-9_]{0,10}$/),
              fc.option(fc.string({ maxLength: 20 }), { nil: null }),
              {
                minKeys: 1,
                maxKeys: 3,
              },
            ),
            hostile: fc.oneof(
              fc.dictionary(hostileString, fc.oneof(hostileString, anyValue), { maxKeys: 3 }),
              anyValue,
            ),
          },
        }),
      },
    },
    {
      document: `mutation($input: RollbackConfigInput!) { rollbackConfig(input: $input) ${result} }`,
      variables: {
        input: input({
          app,
          version: { valid: fc.integer({ min: 1, max: 10 }), hostile: fc.oneof(hostileNumber, anyValue) },
        }),
      },
    },
    {
      document: `mutation($input: ShareAddonInput!) { shareAddon(input: $input) ${result} }`,
      variables: { input: input({ addon, organization: name(fc.constant(rival.organization)) }) },
    },
    {
      document: `mutation($input: ShareAddonInput!) { unshareAddon(input: $input) ${result} }`,
      variables: { input: input({ addon, organization: name(fc.constant(rival.organization)) }) },
    },
    {
      document: `mutation($input: OpenAddonDashboardInput!) { openAddonDashboard(input: $input) ${result} }`,
      variables: { input: input({ addon, app: name(optional(fc.constant(attacker.app))) }) },
    },
    {
      document: `mutation($manifest: JSON!) { publishManifest(manifest: $manifest) { __typename } }`,
      variables: {
        manifest: {
          valid: hostileJson,
          hostile: fc.oneof(
            anyValue,
            deepJsonValue,
            deepJsonValue.map((deep) => ({ slug: 'intruder', services: [deep] })),
          ),
        },
      },
    },
    {
      document: `mutation($name: String!, $slug: String!) { createOrganization(name: $name, slug: $slug) { __typename } }`,
      variables: { name: name(fc.constant('x')), slug: name(fc.constant(rival.organization)) },
    },
    {
      document: `mutation($id: ID!) { revokeApiToken(id: $id) { __typename } }`,
      variables: { id: name(fc.uuid().map(String)) },
    },
  ];

  const operation = fc
    .constantFrom(...operations)
    .chain((op) => fc.record({ document: fc.constant(op.document), variables: mutated(op.variables, 1) }));
  /** A document that is not what the schema expects: spliced literals, garbage, odd shapes. */
  const strangeDocument = fc.oneof(
    hostileString,
    fc
      .tuple(hostileString, fc.constantFrom('app', 'addon', 'provider'))
      .map(
        ([text, field]) =>
          `{ ${field}(${field === 'provider' ? 'slug' : 'name'}: ${JSON.stringify(text)}) { __typename } }`,
      ),
    fc.constantFrom(
      '{ node(id: "") { id } }',
      '{ __schema { types { name } } }',
      '{ servce { id } }',
      'query { apps { id } } query { apps { id } }',
      '{ apps { addons { app { addons { app { addons { app { name } } } } } } } }',
      `{ ${'a: __typename '.repeat(2000)}}`,
      `{ apps ${'@skip(if: false) '.repeat(500)}{ id } }`,
    ),
  );

  return fc
    .record({
      operation: fc.oneof(
        { weight: 8, arbitrary: operation },
        { weight: 1, arbitrary: strangeDocument.map((document) => ({ document, variables: {} })) },
      ),
      request: mutated(
        {
          authorization: {
            valid: fc.constantFrom(
              `Bearer ${attacker.orgToken}`,
              `Bearer ${attacker.orgToken}`,
              `Bearer ${attacker.platformToken}`,
            ),
            hostile: fc.oneof(hostileAuthorization, fc.constant(`Bearer ${attacker.providerToken}`)),
          },
          transport: { valid: fc.constant('post'), hostile: fc.constant('get') },
          operationName: { valid: fc.constant(undefined), hostile: anyValue },
          extensions: { valid: fc.constant(undefined), hostile: anyValue },
          odd: { valid: fc.constant(undefined), hostile: oddHeaders },
          raw: { valid: fc.constant(undefined), hostile: bodyText(anyValue) },
        },
        1,
      ),
    })
    .map(({ operation, request }): Probe => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (request.authorization !== undefined) headers.authorization = String(request.authorization);
      Object.assign(headers, request.odd);
      if (request.transport === 'get') {
        const search = new URLSearchParams({
          query: operation.document.replaceAll(/[\ud800-\udfff]/g, ''),
          variables: jsonText(operation.variables).replaceAll(/[\ud800-\udfff]/g, ''),
        });
        return { method: 'GET', path: `/graphql?${search}`, headers };
      }
      const body =
        (request.raw as string | undefined) ??
        jsonText({
          query: operation.document,
          variables: operation.variables,
          ...(request.operationName !== undefined ? { operationName: request.operationName } : {}),
          ...(request.extensions !== undefined ? { extensions: request.extensions } : {}),
        });
      return { method: 'POST', path: '/graphql', headers, body };
    });
}

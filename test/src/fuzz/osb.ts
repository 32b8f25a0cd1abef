import fc from 'fast-check';
import {
  anyValue,
  attackerTokens,
  bodyText,
  deepJsonValue,
  forgedId,
  hostileAuthorization,
  hostileBasic,
  hostileHeaderText,
  hostileJson,
  hostileString,
  jsonText,
  mutated,
  oddHeaders,
  pathSegment,
} from './arbitraries.js';
import type { Attacker, Probe, Rival } from './target.js';

// Requests to the OSB API (`/v2`) with the attacker platform's credentials: every route,
// forged instance and binding ids (the rival platform's among them), hostile bodies, query
// strings and headers, and hostile basic-auth credentials. Each request is a valid one with
// up to two fields replaced, so most get past validation to the handlers and the provider.

const ROUTES = [
  { template: '/v2/catalog', methods: ['GET'] },
  { template: '/v2/service_instances/:instance', methods: ['PUT', 'PATCH', 'GET', 'DELETE'] },
  { template: '/v2/service_instances/:instance/last_operation', methods: ['GET'] },
  { template: '/v2/service_instances/:instance/service_bindings/:binding', methods: ['PUT', 'GET', 'DELETE'] },
  { template: '/v2/service_instances/:instance/service_bindings/:binding/last_operation', methods: ['GET'] },
] as const;

export function osbProbes(attacker: Attacker, rival: Rival): fc.Arbitrary<Probe> {
  const tokens = attackerTokens(attacker);
  const instanceIds = ['fuzz-instance-1', 'fuzz-instance-2', 'fuzz-instance-3', 'fuzz-instance-4'];
  const bindingIds = ['fuzz-binding-1', 'fuzz-binding-2'];

  const body = mutated({
    service_id: { valid: fc.constant(attacker.serviceId), hostile: anyValue },
    plan_id: { valid: fc.constantFrom(...attacker.planIds), hostile: anyValue },
    organization_guid: { valid: fc.constant('org-guid'), hostile: anyValue },
    space_guid: { valid: fc.constant('space-guid'), hostile: anyValue },
    context: {
      valid: fc.constant({ platform: 'cloudfoundry', organization_guid: 'org-guid', space_guid: 'space-guid' }),
      hostile: fc.oneof(
        hostileJson,
        deepJsonValue.map((deep) => ({ platform: 'cloudfoundry', deep })),
      ),
    },
    parameters: {
      valid: fc.oneof(
        fc.constant(undefined),
        fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
      ),
      hostile: fc.oneof(
        fc.dictionary(hostileString, hostileJson, { maxKeys: 3 }),
        deepJsonValue.map((deep) => ({ deep })),
        anyValue,
      ),
    },
    maintenance_info: {
      valid: fc.constant(undefined),
      hostile: fc.oneof(fc.record({ version: hostileString }), anyValue),
    },
    previous_values: {
      valid: fc.constant(undefined),
      hostile: fc.oneof(fc.record({ plan_id: anyValue, service_id: anyValue, maintenance_info: anyValue }), anyValue),
    },
    bind_resource: {
      valid: fc.constant({ app_guid: 'app-guid' }),
      hostile: fc.oneof(fc.record({ app_guid: hostileString, route: hostileString }), anyValue),
    },
    app_guid: { valid: fc.constant('app-guid'), hostile: anyValue },
  });

  const queryValue = (value: unknown) => encodeURIComponent(String(value).replaceAll(/[\ud800-\udfff]/g, ''));
  const identityHeader = fc.oneof(
    fc
      .tuple(fc.constantFrom('cloudfoundry', 'kubernetes', 'x', ''), hostileJson)
      .map(([platform, value]) => `${platform} ${Buffer.from(JSON.stringify(value) ?? 'null').toString('base64')}`),
    hostileHeaderText,
  );

  return fc
    .record({
      route: fc.constantFrom(...ROUTES),
      pick: fc.nat(),
      request: mutated(
        {
          method: {
            valid: fc.constant(undefined),
            hostile: fc.constantFrom('POST', 'OPTIONS', 'HEAD', 'PATCH', 'PUT'),
          },
          instance: { valid: fc.constantFrom(...instanceIds), hostile: pathSegment(forgedId(rival)) },
          binding: { valid: fc.constantFrom(...bindingIds), hostile: pathSegment(forgedId(rival)) },
          path: {
            valid: fc.constant(undefined),
            hostile: fc.oneof(
              pathSegment(hostileString).map((text) => `/v2/${text}`),
              fc.constantFrom(
                '/v2',
                '/v2/',
                '/v2//catalog',
                '/v2/service_instances/',
                '/v2/service_instances//last_operation',
              ),
            ),
          },
          accepts_incomplete: { valid: fc.constantFrom('true', 'true', 'false'), hostile: hostileString },
          service_id: {
            valid: fc.constant(attacker.serviceId),
            hostile: fc.oneof(fc.constant(undefined), hostileString),
          },
          plan_id: {
            valid: fc.constantFrom(...attacker.planIds),
            hostile: fc.oneof(fc.constant(undefined), hostileString),
          },
          operation: { valid: fc.constant(undefined), hostile: hostileString },
          authorization: {
            valid: fc.constantFrom(...tokens.osb),
            hostile: fc.oneof(hostileAuthorization, hostileBasic),
          },
          version: {
            valid: fc.constant('2.17'),
            hostile: fc.constantFrom(undefined, '2.16', '2.13', '2.11', '1.0', '3.0', '', '2.17.1', 'latest'),
          },
          identity: { valid: fc.constant(undefined), hostile: identityHeader },
          odd: { valid: fc.constant(undefined), hostile: oddHeaders },
        },
        1,
      ),
      body: fc.oneof({ weight: 12, arbitrary: body }, { weight: 1, arbitrary: anyValue }),
      rawBody: fc.oneof(
        { weight: 8, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: bodyText(fc.constant(null)) },
      ),
    })
    .map(({ route, pick, request, body, rawBody }): Probe => {
      const method = (request.method as string | undefined) ?? (route.methods[pick % route.methods.length] as string);
      const path =
        (request.path as string | undefined) ??
        route.template.replace(':instance', String(request.instance)).replace(':binding', String(request.binding));
      const query = ['accepts_incomplete', 'service_id', 'plan_id', 'operation']
        .filter((name) => request[name as keyof typeof request] !== undefined)
        .map((name) => `${name}=${queryValue(request[name as keyof typeof request])}`)
        .join('&');
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (request.version !== undefined) headers['x-broker-api-version'] = String(request.version);
      if (request.authorization !== undefined) headers.authorization = String(request.authorization);
      if (request.identity !== undefined) headers['x-broker-api-originating-identity'] = String(request.identity);
      Object.assign(headers, request.odd);
      const text = rawBody ?? (method === 'PUT' || method === 'PATCH' ? jsonText(body) : undefined);
      return {
        method,
        path: query ? `${path}?${query}` : path,
        headers,
        ...(text !== undefined ? { body: text } : {}),
      };
    });
}

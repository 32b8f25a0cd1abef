import fc from 'fast-check';
import {
  anyValue,
  bodyText,
  type Field,
  forgedId,
  hostileAuthorization,
  hostileJson,
  hostileNumber,
  hostileString,
  jsonText,
  mutated,
  oddHeaders,
  type PathParameter,
  pathSegment,
} from './arbitraries.js';
import type { Attacker, Probe, Rival } from './target.js';

// Requests to the provider callbacks (`/v1/provider`, docs/provider-protocol.md §3) with the
// token of a provider that owns nothing the rival uses: completing the rival's operations,
// pushing config into its instances, reporting usage against them, reading allowances.

interface Route {
  method: string;
  template: string;
  body?: Record<string, Field<unknown>>;
  query?: Record<string, Field<unknown>>;
}

/**
 * `as: 'intruder'` aims a provider that owns nothing the rival uses at the rival's
 * instances and operations; `as: 'gateway'` is the AI gateway, which owns the add-ons of
 * both organizations, acting on the attacker's add-on with hostile config, usage and
 * completions (the rival's ids stay out: acting on them is the gateway's right).
 */
export function providerProbes(attacker: Attacker, rival: Rival, as: 'intruder' | 'gateway'): fc.Arbitrary<Probe> {
  const instances = as === 'intruder' ? rival.instances : attacker.instances;
  const operations = as === 'intruder' ? rival.operations : attacker.operations;
  const token = as === 'intruder' ? attacker.providerToken : attacker.gatewayToken;
  const strangers = as === 'intruder' ? forgedId(rival) : fc.oneof(hostileString, fc.uuid().map(String));
  const usageRecord = mutated(
    {
      idempotencyKey: { valid: fc.uuid().map(String), hostile: anyValue },
      instanceId: { valid: fc.constantFrom(...instances), hostile: strangers },
      unit: { valid: fc.constantFrom('1k_tokens', 'requests'), hostile: anyValue },
      quantity: { valid: fc.nat({ max: 1000 }), hostile: fc.oneof(hostileNumber, anyValue) },
      at: {
        valid: fc
          .date({ noInvalidDate: true, min: new Date('2026-01-01'), max: new Date('2027-01-01') })
          .map((d) => d.toISOString()),
        hostile: anyValue,
      },
    },
    1,
  );
  const routes: Route[] = [
    {
      method: 'POST',
      template: '/v1/provider/operations/:operation/complete',
      body: {
        state: { valid: fc.constantFrom('succeeded', 'failed'), hostile: anyValue },
        description: { valid: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }), hostile: anyValue },
      },
    },
    {
      method: 'POST',
      template: '/v1/provider/instances/:instance/config',
      body: {
        config: {
          valid: fc.dictionary(fc.stringMatching(/^[A-Z][A-Z0-9_]{0,10}$/), fc.string({ maxLength: 20 }), {
            maxKeys: 3,
          }),
          hostile: fc.oneof(
            fc.dictionary(hostileString, fc.oneof(hostileString, anyValue), { maxKeys: 3 }),
            hostileJson,
          ),
        },
        reason: { valid: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), hostile: anyValue },
      },
    },
    {
      method: 'POST',
      template: '/v1/provider/usage',
      body: {
        records: {
          valid: fc.array(usageRecord, { minLength: 1, maxLength: 3 }),
          hostile: fc.oneof(fc.constant([]), fc.array(usageRecord, { minLength: 1001, maxLength: 1001 }), anyValue),
        },
      },
    },
    {
      method: 'GET',
      template: '/v1/provider/instances/:instance/allowance',
      query: {
        unit: {
          valid: fc.constantFrom('1k_tokens', 'requests'),
          hostile: fc.oneof(fc.constant(undefined), hostileString),
        },
      },
    },
  ];
  const params: Record<string, PathParameter> = {
    operation: { valid: fc.constantFrom(...operations), hostile: strangers },
    instance: { valid: fc.constantFrom(...instances), hostile: strangers },
  };

  const probe = (route: Route): fc.Arbitrary<Probe> => {
    const names = [...route.template.matchAll(/:(\w+)/g)].map((m) => m[1] as string);
    const pathFields = Object.fromEntries(
      names.map((name) => {
        const field = params[name] as PathParameter;
        return [name, { valid: field.valid.map(encodeURIComponent), hostile: pathSegment(field.hostile) }];
      }),
    );
    return fc
      .record({
        path: mutated(pathFields, 1),
        query: mutated(route.query ?? {}, 1),
        body: mutated(route.body ?? {}, 1),
        request: mutated(
          {
            authorization: {
              valid: fc.constant(`Bearer ${token}`),
              hostile: fc.oneof(
                hostileAuthorization,
                fc.constant(`Bearer ${attacker.orgToken}`),
                fc.constant(`Bearer ${attacker.platformToken}`),
              ),
            },
            method: { valid: fc.constant(route.method), hostile: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH') },
            odd: { valid: fc.constant(undefined), hostile: oddHeaders },
            raw: { valid: fc.constant(undefined), hostile: bodyText(anyValue) },
          },
          1,
        ),
      })
      .map(({ path, query, body, request }): Probe => {
        let target = route.template;
        for (const name of names) target = target.replace(`:${name}`, String(path[name]));
        const search = Object.entries(query)
          .map(([key, value]) => `${key}=${encodeURIComponent(String(value).replaceAll(/[\ud800-\udfff]/g, ''))}`)
          .join('&');
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (request.authorization !== undefined) headers.authorization = String(request.authorization);
        Object.assign(headers, request.odd);
        const text = (request.raw as string | undefined) ?? (route.body ? jsonText(body) : undefined);
        return {
          method: request.method as string,
          path: search ? `${target}?${search}` : target,
          headers,
          ...(text !== undefined ? { body: text } : {}),
        };
      });
  };
  return fc.oneof(...routes.map(probe));
}

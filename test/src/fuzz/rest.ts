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

// Requests to the `/v1` REST API (apps, add-ons, config vars, releases, events, shares,
// webhooks, billing) with the attacker organization's and platform's tokens: every route,
// the rival's apps and add-ons by name, raw id and global id, hostile bodies and queries.

type Fields = Record<string, Field<unknown>>;

interface Route {
  method: string;
  template: string;
  body?: Fields;
  query?: Fields;
}

const optional = <T>(valid: fc.Arbitrary<T>) => fc.oneof(fc.constant(undefined), valid);

export function restProbes(attacker: Attacker, rival: Rival): fc.Arbitrary<Probe> {
  const appName = fc.stringMatching(/^fuzz-[a-z]{1,6}$/);
  const attachmentName = fc.stringMatching(/^[A-Z][A-Z_]{0,6}$/);
  const plan = fc.constantFrom('ai-gateway:starter', 'ai-gateway:scale');
  const parameters: Field<unknown> = {
    valid: optional(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })),
    hostile: fc.oneof(hostileJson, fc.dictionary(hostileString, hostileJson, { maxKeys: 3 })),
  };
  const as: Field<unknown> = { valid: optional(attachmentName), hostile: anyValue };
  const replace: Field<unknown> = { valid: optional(fc.boolean()), hostile: anyValue };
  const wrong = (valid: fc.Arbitrary<unknown>, hostile: fc.Arbitrary<unknown> = anyValue): Field<unknown> => ({
    valid,
    hostile,
  });

  const routes: Route[] = [
    { method: 'GET', template: '/v1/apps' },
    {
      method: 'POST',
      template: '/v1/apps',
      body: {
        name: wrong(appName),
        organization: wrong(fc.constant(undefined), fc.oneof(fc.constant(rival.organization), anyValue)),
      },
    },
    { method: 'GET', template: '/v1/apps/:app' },
    {
      method: 'GET',
      template: '/v1/addons',
      query: { app: wrong(optional(fc.constant(attacker.app)), forgedId(rival)) },
    },
    { method: 'GET', template: '/v1/addons/:addon' },
    {
      method: 'POST',
      template: '/v1/apps/:app/addons/preflight',
      body: {
        plan: wrong(optional(plan)),
        addon: wrong(optional(fc.constant(attacker.addon)), forgedId(rival)),
        parameters,
        as,
        replace,
      },
    },
    { method: 'POST', template: '/v1/apps/:app/addons', body: { plan: wrong(plan), parameters, as, replace } },
    {
      method: 'POST',
      template: '/v1/apps/:app/attachments/preflight',
      body: { addon: wrong(fc.constant(attacker.addon), forgedId(rival)), as, replace },
    },
    {
      method: 'POST',
      template: '/v1/apps/:app/attachments',
      body: { addon: wrong(fc.constant(attacker.addon), forgedId(rival)), as, replace },
    },
    { method: 'DELETE', template: '/v1/apps/:app/attachments/:name' },
    { method: 'DELETE', template: '/v1/addons/:addon' },
    { method: 'PATCH', template: '/v1/addons/:addon', body: { plan: wrong(plan) } },
    {
      method: 'POST',
      template: '/v1/addons/:addon/rotate',
      body: { graceSeconds: wrong(optional(fc.integer({ min: 0, max: 600 })), fc.oneof(hostileNumber, anyValue)) },
    },
    { method: 'GET', template: '/v1/addons/:addon/shares' },
    {
      method: 'POST',
      template: '/v1/addons/:addon/shares',
      body: { organization: wrong(fc.constant(attacker.organization)) },
    },
    { method: 'DELETE', template: '/v1/addons/:addon/shares/:organization' },
    { method: 'GET', template: '/v1/apps/:app/config-vars' },
    { method: 'GET', template: '/v1/apps/:app/config-var-names' },
    {
      method: 'PATCH',
      template: '/v1/apps/:app/config-vars',
      body: {
        vars: wrong(
          fc.dictionary(
            fc.stringMatching(/^[A-Z][A-Z0-9_]{0,10}$/),
            fc.option(fc.string({ maxLength: 20 }), { nil: null }),
            {
              minKeys: 1,
              maxKeys: 3,
            },
          ),
          fc.oneof(fc.dictionary(hostileString, fc.oneof(hostileString, anyValue), { maxKeys: 3 }), anyValue),
        ),
        reason: wrong(optional(fc.string({ maxLength: 20 }))),
        secret: wrong(optional(fc.boolean())),
      },
    },
    {
      method: 'POST',
      template: '/v1/apps/:app/config-vars/confirm',
      body: { release: wrong(fc.integer({ min: 1, max: 20 }), fc.oneof(hostileNumber, anyValue)) },
    },
    { method: 'GET', template: '/v1/apps/:app/releases' },
    {
      method: 'POST',
      template: '/v1/apps/:app/releases/rollback',
      body: { version: wrong(fc.integer({ min: 1, max: 20 }), fc.oneof(hostileNumber, anyValue)) },
    },
    {
      method: 'GET',
      template: '/v1/apps/:app/events',
      query: {
        after: wrong(optional(fc.nat({ max: 1000 }).map(String)), fc.oneof(hostileString, hostileNumber.map(String))),
        // A long poll waits up to 25 s for events: keep generated waits short.
        waitMs: wrong(
          optional(fc.constantFrom('0', '10')),
          fc.constantFrom('-1', 'NaN', '1e-9', '0x10', '', 'abc', '-1e309'),
        ),
      },
    },
    {
      method: 'POST',
      template: '/v1/addons/:addon/sso',
      body: { app: wrong(optional(fc.constant(attacker.app)), forgedId(rival)), user: wrong(fc.constant(undefined)) },
    },
    { method: 'GET', template: '/v1/platforms/self/webhook' },
    {
      method: 'PUT',
      template: '/v1/platforms/self/webhook',
      body: { url: wrong(fc.constant('http://127.0.0.1:9/annex'), fc.oneof(hostileString, anyValue)) },
    },
    { method: 'POST', template: '/v1/platforms/self/webhook/rotate' },
    { method: 'DELETE', template: '/v1/platforms/self/webhook' },
    {
      method: 'GET',
      template: '/v1/webhook-deliveries',
      query: {
        state: wrong(optional(fc.constantFrom('pending', 'delivered', 'failed')), hostileString),
        app: wrong(optional(fc.constant(attacker.app)), forgedId(rival)),
      },
    },
    { method: 'POST', template: '/v1/webhook-deliveries/:id/redeliver' },
    {
      method: 'GET',
      template: '/v1/billing/account',
      query: {
        organization: wrong(
          optional(fc.constant(attacker.organization)),
          fc.oneof(fc.constant(rival.organization), hostileString),
        ),
      },
    },
    { method: 'POST', template: '/v1/billing/setup-intent' },
    {
      method: 'POST',
      template: '/v1/billing/card-checkout',
      body: { returnUrl: wrong(fc.constant('https://console.example/billing'), fc.oneof(hostileString, anyValue)) },
    },
    {
      method: 'PUT',
      template: '/v1/billing/payment-method',
      body: { paymentMethod: wrong(fc.constant('pm_card_visa')) },
    },
    {
      method: 'PUT',
      template: '/v1/billing/spend-caps',
      body: {
        app: wrong(optional(fc.constant(attacker.app)), forgedId(rival)),
        limitCents: wrong(
          fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: null }),
          fc.oneof(hostileNumber, anyValue),
        ),
      },
    },
    { method: 'GET', template: '/v1/billing/invoices' },
    { method: 'GET', template: '/v1/billing/invoices/:id' },
    {
      method: 'GET',
      template: '/v1/billing/usage',
      query: {
        app: wrong(optional(fc.constant(attacker.app)), forgedId(rival)),
        period: wrong(optional(fc.constantFrom('2026-12', '2026-01')), hostileString),
      },
    },
    {
      method: 'PUT',
      template: '/v1/billing/providers/:provider',
      body: {
        revenueShare: wrong(optional(fc.double({ min: 0, max: 1, noNaN: true })), fc.oneof(hostileNumber, anyValue)),
        stripeAccount: wrong(optional(fc.constant('acct_123')), hostileString),
      },
    },
    {
      method: 'POST',
      template: '/v1/billing/jobs/:job',
      body: { period: wrong(optional(fc.constant('2026-11')), hostileString) },
    },
  ];

  const params: Record<string, PathParameter> = {
    app: { valid: fc.constantFrom(attacker.app, attacker.app, 'fuzz-a'), hostile: forgedId(rival) },
    addon: { valid: fc.constant(attacker.addon), hostile: forgedId(rival) },
    name: { valid: attachmentName, hostile: forgedId(rival) },
    organization: { valid: fc.constant(rival.organization), hostile: hostileString },
    id: { valid: fc.nat({ max: 50 }).map(String), hostile: forgedId(rival) },
    provider: { valid: fc.constant('ai-gateway'), hostile: hostileString },
    job: { valid: fc.constantFrom('invoices', 'dunning', 'payouts'), hostile: hostileString },
  };
  const tokens = [`Bearer ${attacker.orgToken}`, `Bearer ${attacker.orgToken}`, `Bearer ${attacker.platformToken}`];

  const probe = (route: Route): fc.Arbitrary<Probe> => {
    const names = [...route.template.matchAll(/:(\w+)/g)].map((m) => m[1] as string);
    const pathFields = Object.fromEntries(
      names.map((name) => [
        name,
        { valid: (params[name] as PathParameter).valid, hostile: pathSegment((params[name] as PathParameter).hostile) },
      ]),
    );
    return fc
      .record({
        path: mutated(pathFields, 1),
        query: mutated(route.query ?? {}, 1),
        body: mutated(route.body ?? {}, 2),
        request: mutated(
          {
            method: {
              valid: fc.constant(route.method),
              hostile: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
            },
            authorization: {
              valid: fc.constantFrom(...tokens),
              hostile: fc.oneof(hostileAuthorization, fc.constant(`Bearer ${attacker.providerToken}`)),
            },
            odd: { valid: fc.constant(undefined), hostile: oddHeaders },
            raw: { valid: fc.constant(undefined), hostile: bodyText(anyValue) },
          },
          1,
        ),
      })
      .map(({ path, query, body, request }) => {
        // Valid values are plain names; hostile ones come percent-encoded (or not) by pathSegment.
        let target = route.template;
        for (const name of names) target = target.replace(`:${name}`, String(path[name]));
        const search = Object.entries(query)
          .map(([key, value]) => `${key}=${encodeURIComponent(String(value).replaceAll(/[\ud800-\udfff]/g, ''))}`)
          .join('&');
        const method = request.method as string;
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (request.authorization !== undefined) headers.authorization = String(request.authorization);
        Object.assign(headers, request.odd);
        const text = (request.raw as string | undefined) ?? (route.body ? jsonText(body) : undefined);
        return {
          method,
          path: search ? `${target}?${search}` : target,
          headers,
          ...(text !== undefined ? { body: text } : {}),
        };
      });
  };
  return fc.oneof(...routes.map(probe));
}

import type { ApiPreflight } from '../../broker-client.js';
import { InvalidInputError } from '../../domain/errors.js';
import { builder, needsScope } from '../builder.js';
import { APP_ERRORS } from './app-errors.js';
import { ProblemRef } from './errors.js';
import { ServiceHealthEnum } from './provider-health.js';

// What an attach would do, before anything is created (docs/apps.md, "Preflight"): the
// price, the exact var names, collisions with the app's vars, parameter problems.

const ConfigVarCollisionInfoRef = builder
  .objectRef<{ name: string; owner: string }>('ConfigVarCollisionInfo')
  .implement({
    description: 'A var the attach would set that the app already has.',
    fields: (t) => ({
      name: t.exposeString('name'),
      owner: t.exposeString('owner', { description: '`user` or `attachment:<name>`.' }),
    }),
  });

const PreflightRef = builder.objectRef<ApiPreflight>('Preflight').implement({
  description: 'What an attach would do; nothing was created. `ok` is false when it would be refused.',
  fields: (t) => ({
    ok: t.exposeBoolean('ok'),
    serviceSlug: t.string({ resolve: (p) => p.service }),
    planSlug: t.string({ resolve: (p) => p.plan }),
    priceCents: t.int({ description: 'Monthly price in cents.', resolve: (p) => p.price?.cents ?? 0 }),
    currency: t.string({ resolve: (p) => p.price?.currency ?? 'usd' }),
    free: t.boolean({ resolve: (p) => p.price?.free ?? false }),
    attachmentName: t.exposeString('attachmentName', {
      description: "The attachment's name (`as`, or the service's default): the prefix of its vars.",
    }),
    nameTaken: t.exposeBoolean('nameTaken', {
      description: 'The app already has an attachment of that name: choose another `as`; `replace` does not help.',
    }),
    configVars: t.stringList({
      description: 'The var names the attach would set.',
      resolve: (p) => p.configVars ?? [],
    }),
    collisions: t.field({
      type: [ConfigVarCollisionInfoRef],
      description: 'Vars the app already has under these names (refused unless `replace`).',
      resolve: (p) => p.collisions ?? [],
    }),
    parameterErrors: t.field({
      type: [ProblemRef],
      description: "Parameters that do not match the plan's schema.",
      resolve: (p) => (p.parameterErrors ?? []).map((e) => ({ path: e.field, message: e.message })),
    }),
    prorationCents: t.int({
      nullable: true,
      description: 'What attaching now costs until the end of the month (per second, capped); null for free plans.',
      resolve: (p) => p.proration?.cents ?? null,
    }),
    prorationUntil: t.string({
      nullable: true,
      description: 'The end of the prorated period (the first instant of next month, ISO).',
      resolve: (p) => p.proration?.to ?? null,
    }),
    billingMode: t.string({
      description: '`stripe`, or `ledger-only` when nothing is charged on this installation.',
      resolve: (p) => p.billingMode ?? 'ledger-only',
    }),
    paymentRequired: t.boolean({
      description: 'The attach would be refused until the organization has a default payment method.',
      resolve: (p) => p.paymentRequired ?? false,
    }),
    billingNotice: t.string({ nullable: true, resolve: (p) => p.billingNotice ?? null }),
    problems: t.stringList({
      description: 'Everything that would make the attach fail, in words.',
      resolve: (p) => p.problems ?? [],
    }),
    serviceHealth: t.field({
      type: ServiceHealthEnum,
      description: "The service's coarse health, as `Service.health` reads it now.",
      resolve: (p) => p.serviceHealth ?? 'ok',
    }),
    warnings: t.stringList({
      description: 'What does not refuse the attach but may make it fail (the service is FAILING), in words.',
      resolve: (p) => p.warnings ?? [],
    }),
  }),
});

const AttachPreflightInput = builder.inputType('AttachPreflightInput', {
  description: 'Exactly one of `plan` (a new add-on) or `addon` (an existing one).',
  fields: (t) => ({
    app: t.string({ required: true }),
    plan: t.string({ description: '`service:plan`: preflight of createAddon.' }),
    addon: t.string({ description: 'An existing add-on: preflight of attachAddon.' }),
    as: t.string(),
    parameters: t.field({ type: 'JSON', description: 'With `plan` only.' }),
    replace: t.boolean(),
  }),
});

builder.queryField('attachPreflight', (t) =>
  t.field({
    ...needsScope('Query.attachPreflight'),
    type: PreflightRef,
    description: 'What createAddon (with `plan`) or attachAddon (with `addon`) would do. Reads only.',
    args: { input: t.arg({ type: AttachPreflightInput, required: true }) },
    errors: { types: [...APP_ERRORS], union: { name: 'AttachPreflightResult' } },
    resolve: (_root, { input }, ctx) => {
      const plan = input.plan ?? null;
      const addon = input.addon ?? null;
      if ((plan === null) === (addon === null)) {
        throw new InvalidInputError([{ path: 'input', message: 'pass exactly one of plan (new add-on) or addon' }]);
      }
      if (addon !== null && input.parameters != null) {
        throw new InvalidInputError([
          { path: 'input.parameters', message: 'parameters apply to a new add-on (plan), not to attaching one' },
        ]);
      }
      if (plan !== null) {
        return ctx.broker.preflightAddon(input.app, {
          plan,
          as: input.as,
          parameters: input.parameters ?? undefined,
          replace: input.replace,
        });
      }
      return ctx.broker.preflightAttach(input.app, { addon: addon as string, as: input.as, replace: input.replace });
    },
  }),
);

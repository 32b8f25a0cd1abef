import {
  BrokerUnavailableError,
  ConflictError,
  DashboardNotOfferedError,
  ForbiddenError,
  PlanNotOfferedError,
} from '../../apps/errors.js';
import type { ApiAddon, ApiApp, ApiAttachment, ApiRelease } from '../../broker-client.js';
import { InvalidInputError, NotAuthorizedError, NotFoundError, type Problem } from '../../domain/errors.js';
import { builder, needsScope } from '../builder.js';
import { FREE_TEXT } from '../input-text.js';
import { APP_ERRORS } from './app-errors.js';
import { AddonRef, AppRef, AttachmentRef, ReleaseRef } from './apps.js';

// Mutations of apps, add-ons and config vars. Each is one call to the broker's `/v1` API
// with the caller's token; the broker authorizes and validates, and its refusal comes back
// as a typed member of the result union. Add-on work is asynchronous: the answer shows the
// add-on or attachment in its starting state; `addon(name)` or `addonEvents` show the rest.

const errors = (name: string) => ({ types: [...APP_ERRORS], union: { name: `${name}Result` } });

const CreateAppSuccess = builder.objectRef<{ app: ApiApp }>('CreateAppSuccess').implement({
  fields: (t) => ({ app: t.field({ type: AppRef, resolve: (r) => r.app }) }),
});
const AddonCreated = builder
  .objectRef<{ addon: ApiAddon; attachment: ApiAttachment | null }>('CreateAddonSuccess')
  .implement({
    description: 'The add-on is being provisioned; the attachment to the app follows once it is.',
    fields: (t) => ({
      addon: t.field({ type: AddonRef, resolve: (r) => r.addon }),
      attachment: t.field({ type: AttachmentRef, nullable: true, resolve: (r) => r.attachment ?? null }),
    }),
  });
const attachmentResult = (name: string, description: string) =>
  builder.objectRef<{ attachment: ApiAttachment }>(name).implement({
    description,
    fields: (t) => ({ attachment: t.field({ type: AttachmentRef, resolve: (r) => r.attachment }) }),
  });
const addonResult = (name: string, description: string) =>
  builder.objectRef<{ addon: ApiAddon }>(name).implement({
    description,
    fields: (t) => ({ addon: t.field({ type: AddonRef, resolve: (r) => r.addon }) }),
  });
const releaseResult = (name: string, description: string) =>
  builder.objectRef<{ release: ApiRelease }>(name).implement({
    description,
    fields: (t) => ({ release: t.field({ type: ReleaseRef, resolve: (r) => r.release }) }),
  });

const AttachAddonSuccess = attachmentResult('AttachAddonSuccess', 'Attaching: binding at the provider, then the vars.');
const DetachAddonSuccess = attachmentResult('DetachAddonSuccess', 'Detaching: the vars are removed, then unbound.');
const DestroyAddonSuccess = addonResult('DestroyAddonSuccess', 'Detached everywhere, then deprovisioned.');
const ChangeAddonPlanSuccess = addonResult('ChangeAddonPlanSuccess', 'The plan change is under way.');
const RotateSuccess = addonResult(
  'RotateAddonCredentialsSuccess',
  'New credentials are being made; the old ones are revoked after the grace period or once every app confirmed.',
);
const SharesResult = (name: string, description: string) =>
  builder.objectRef<{ organizations: string[] }>(name).implement({
    description,
    fields: (t) => ({
      organizations: t.stringList({
        description: 'Every organization the add-on is now shared with.',
        resolve: (r) => r.organizations,
      }),
    }),
  });
const ShareAddonSuccess = SharesResult(
  'ShareAddonSuccess',
  "The organization's apps may now attach the add-on; its owner keeps it (and pays for it).",
);
const UnshareAddonSuccess = SharesResult('UnshareAddonSuccess', 'The organization may no longer attach the add-on.');
const ShareAddonInput = builder.inputType('ShareAddonInput', {
  fields: (t) => ({
    addon: t.string({ required: true, description: 'The add-on, by name or id.' }),
    organization: t.string({ required: true, description: 'The slug of the organization to share with.' }),
  }),
});

const OpenAddonDashboardSuccess = builder
  .objectRef<{ url: string; expiresAt: string }>('OpenAddonDashboardSuccess')
  .implement({
    description:
      "Send the user's browser to `url` now: the provider's SSO URL with a single-use token naming the caller (the person a console session acts for, else the API token).",
    fields: (t) => ({
      url: t.exposeString('url'),
      expiresAt: t.field({
        type: 'DateTime',
        description: 'The token is refused after this (60 s).',
        resolve: (r) => new Date(r.expiresAt),
      }),
    }),
  });
const OpenAddonDashboardInput = builder.inputType('OpenAddonDashboardInput', {
  fields: (t) => ({
    addon: t.string({ required: true, description: 'The add-on, by name or id.' }),
    app: t.string({
      description: 'The app the user comes from, one the add-on is attached to (default: the app that owns it).',
    }),
  }),
});

const RollbackConfigSuccess = releaseResult(
  'RollbackConfigSuccess',
  "The new release, equal to the earlier one's vars.",
);
const SetConfigVarsSuccess = builder.objectRef<{ release: ApiRelease | null }>('SetConfigVarsSuccess').implement({
  description: 'The release the change made; none when the vars already had these values.',
  fields: (t) => ({
    release: t.field({ type: ReleaseRef, nullable: true, resolve: (r) => r.release }),
    unchanged: t.boolean({
      description: 'True when nothing changed (no release).',
      resolve: (r) => r.release === null,
    }),
  }),
});

const CreateAppInput = builder.inputType('CreateAppInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    organization: t.string({ description: "The organization's slug; needed with a platform or admin token." }),
  }),
});
const CreateAddonInput = builder.inputType('CreateAddonInput', {
  fields: (t) => ({
    app: t.string({ required: true, description: 'The app that will own the add-on and get it attached.' }),
    plan: t.string({ required: true, description: '`service:plan` slugs, e.g. `acme-postgres:hobby`.' }),
    as: t.string({ description: "Attachment name (default: the prefix of the service's declared var)." }),
    parameters: t.field({ type: 'JSON', description: "Checked against the plan's schema." }),
    replace: t.boolean({ description: 'Take over vars the app already has under these names.' }),
  }),
});
const AttachAddonInput = builder.inputType('AttachAddonInput', {
  fields: (t) => ({
    addon: t.string({ required: true }),
    app: t.string({ required: true }),
    as: t.string(),
    replace: t.boolean(),
  }),
});
const DetachAddonInput = builder.inputType('DetachAddonInput', {
  fields: (t) => ({
    app: t.string({ required: true }),
    name: t.string({ required: true, description: 'The attachment name, e.g. `DATABASE`.' }),
  }),
});
const DestroyAddonInput = builder.inputType('DestroyAddonInput', {
  fields: (t) => ({ addon: t.string({ required: true }) }),
});
const ChangeAddonPlanInput = builder.inputType('ChangeAddonPlanInput', {
  fields: (t) => ({
    addon: t.string({ required: true }),
    plan: t.string({ required: true, description: 'The new plan: its slug, or `service:plan`.' }),
  }),
});
const RotateAddonCredentialsInput = builder.inputType('RotateAddonCredentialsInput', {
  fields: (t) => ({
    addon: t.string({ required: true }),
    graceSeconds: t.int({ description: 'How long the old credentials keep working at most (broker default).' }),
  }),
});
const RollbackConfigInput = builder.inputType('RollbackConfigInput', {
  fields: (t) => ({
    app: t.string({ required: true }),
    version: t.int({ required: true, description: 'The release whose vars to restore.' }),
  }),
});
const SetConfigVarsInput = builder.inputType('SetConfigVarsInput', {
  fields: (t) => ({
    app: t.string({ required: true }),
    vars: t.field({ type: 'JSON', required: true, description: '`{"NAME": "value"}`; null removes the var.' }),
    reason: t.string({ extensions: FREE_TEXT }),
    secret: t.boolean({
      description:
        'Whether the values are secret (kept out of release diffs); default: true for new vars, unchanged for others.',
    }),
  }),
});

/** `vars` of setConfigVars: an object of strings or nulls. */
function configVarChanges(vars: unknown): Record<string, string | null> {
  if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) {
    throw new InvalidInputError([{ path: 'vars', message: 'expected an object of NAME: "value" (or null to remove)' }]);
  }
  const problems: Problem[] = [];
  for (const [name, value] of Object.entries(vars)) {
    if (value !== null && typeof value !== 'string') {
      problems.push({ path: `vars.${name}`, message: 'expected a string, or null to remove the var' });
    }
  }
  if (Object.keys(vars).length === 0) problems.push({ path: 'vars', message: 'names no var' });
  if (problems.length > 0) throw new InvalidInputError(problems);
  return vars as Record<string, string | null>;
}

builder.mutationFields((t) => ({
  createApp: t.field({
    ...needsScope('Mutation.createApp'),
    type: CreateAppSuccess,
    args: { input: t.arg({ type: CreateAppInput, required: true }) },
    errors: errors('CreateApp'),
    resolve: async (_root, { input }, ctx) => ({ app: await ctx.broker.createApp(input) }),
  }),
  createAddon: t.field({
    ...needsScope('Mutation.createAddon'),
    type: AddonCreated,
    description:
      'Provisions an add-on of `plan` for `app` and attaches it there. Use attachPreflight first to see what it would do.',
    args: { input: t.arg({ type: CreateAddonInput, required: true }) },
    errors: errors('CreateAddon'),
    resolve: async (_root, { input }, ctx) => {
      const { app, ...rest } = input;
      const created = await ctx.broker.createAddon(app, rest);
      return { addon: created.addon, attachment: created.attachment ?? null };
    },
  }),
  attachAddon: t.field({
    ...needsScope('Mutation.attachAddon'),
    type: AttachAddonSuccess,
    args: { input: t.arg({ type: AttachAddonInput, required: true }) },
    errors: errors('AttachAddon'),
    resolve: (_root, { input }, ctx) =>
      ctx.broker.attachAddon(input.app, { addon: input.addon, as: input.as, replace: input.replace }),
  }),
  detachAddon: t.field({
    ...needsScope('Mutation.detachAddon'),
    type: DetachAddonSuccess,
    args: { input: t.arg({ type: DetachAddonInput, required: true }) },
    errors: errors('DetachAddon'),
    resolve: (_root, { input }, ctx) => ctx.broker.detachAddon(input.app, input.name),
  }),
  destroyAddon: t.field({
    ...needsScope('Mutation.destroyAddon'),
    type: DestroyAddonSuccess,
    args: { input: t.arg({ type: DestroyAddonInput, required: true }) },
    errors: errors('DestroyAddon'),
    resolve: (_root, { input }, ctx) => ctx.broker.destroyAddon(input.addon),
  }),
  changeAddonPlan: t.field({
    ...needsScope('Mutation.changeAddonPlan'),
    type: ChangeAddonPlanSuccess,
    args: { input: t.arg({ type: ChangeAddonPlanInput, required: true }) },
    errors: errors('ChangeAddonPlan'),
    resolve: (_root, { input }, ctx) => ctx.broker.changeAddonPlan(input.addon, input.plan),
  }),
  rotateAddonCredentials: t.field({
    ...needsScope('Mutation.rotateAddonCredentials'),
    type: RotateSuccess,
    args: { input: t.arg({ type: RotateAddonCredentialsInput, required: true }) },
    errors: errors('RotateAddonCredentials'),
    resolve: (_root, { input }, ctx) => ctx.broker.rotateAddonCredentials(input.addon, input.graceSeconds),
  }),
  shareAddon: t.field({
    ...needsScope('Mutation.shareAddon'),
    type: ShareAddonSuccess,
    args: { input: t.arg({ type: ShareAddonInput, required: true }) },
    errors: errors('ShareAddon'),
    resolve: (_root, { input }, ctx) => ctx.broker.shareAddon(input.addon, input.organization),
  }),
  unshareAddon: t.field({
    ...needsScope('Mutation.unshareAddon'),
    type: UnshareAddonSuccess,
    description: 'Refused (Conflict) while apps of that organization still have it attached.',
    args: { input: t.arg({ type: ShareAddonInput, required: true }) },
    errors: errors('UnshareAddon'),
    resolve: (_root, { input }, ctx) => ctx.broker.unshareAddon(input.addon, input.organization),
  }),
  openAddonDashboard: t.field({
    ...needsScope('Mutation.openAddonDashboard'),
    type: OpenAddonDashboardSuccess,
    description:
      "Single sign-on into the add-on's provider dashboard (docs/provider-protocol.md §2). Only the owning organization's callers; refused (Conflict) until it is provisioned.",
    args: { input: t.arg({ type: OpenAddonDashboardInput, required: true }) },
    errors: {
      types: [
        NotAuthorizedError,
        ForbiddenError,
        NotFoundError,
        InvalidInputError,
        ConflictError,
        DashboardNotOfferedError,
        BrokerUnavailableError,
      ],
      union: { name: 'OpenAddonDashboardResult' },
    },
    resolve: async (_root, { input }, ctx) => {
      try {
        return await ctx.broker.openAddonDashboard(input.addon, input.app);
      } catch (error) {
        // The broker's `not_offered` here is about the provider, not a plan.
        if (error instanceof PlanNotOfferedError) throw new DashboardNotOfferedError(error.message);
        throw error;
      }
    },
  }),
  rollbackConfig: t.field({
    ...needsScope('Mutation.rollbackConfig'),
    type: RollbackConfigSuccess,
    args: { input: t.arg({ type: RollbackConfigInput, required: true }) },
    errors: errors('RollbackConfig'),
    resolve: async (_root, { input }, ctx) => ({ release: await ctx.broker.rollbackConfig(input.app, input.version) }),
  }),
  setConfigVars: t.field({
    ...needsScope('Mutation.setConfigVars'),
    type: SetConfigVarsSuccess,
    description: "Sets or removes the app's own (`user`) vars in one release.",
    args: { input: t.arg({ type: SetConfigVarsInput, required: true }) },
    errors: errors('SetConfigVars'),
    resolve: async (_root, { input }, ctx) => {
      const vars = configVarChanges(input.vars);
      const answer = await ctx.broker.setConfigVars(input.app, { vars, reason: input.reason, secret: input.secret });
      return { release: 'unchanged' in answer ? null : answer };
    },
  }),
}));

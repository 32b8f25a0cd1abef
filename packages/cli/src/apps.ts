import {
  parseAssignments,
  parseAttachmentName,
  parseParams,
  parsePlanSlug,
  parseServicePlan,
  parseVarNames,
  parseVersion,
  parseWholeNumber,
} from './args.js';
import { CliError } from './client.js';
import { arg, type Command, type CommandContext, ERROR, flag, INVALID_INPUT, many, mutate, one } from './context.js';
import { money, table } from './output.js';
import { type Progress, waitFor } from './wait.js';

// The apps verbs (docs/apps.md): apps, add-ons, attachments, config vars and releases,
// all through the catalog's GraphQL API.

interface AttachmentView {
  id: string;
  name: string;
  app: { name: string };
  addon: { name: string; serviceSlug: string; planSlug: string };
  state: string;
  configVarNames: string[];
  lastError: string | null;
}

interface AddonView {
  id: string;
  name: string;
  app: { name: string };
  serviceSlug: string;
  planSlug: string;
  providerSlug: string;
  state: string;
  lastError: string | null;
  createdAt: string;
  attachments: AttachmentView[];
}

interface AppView {
  id: string;
  name: string;
  organization: string;
  releaseVersion: number;
  createdAt: string;
}

interface ConfigVarView {
  name: string;
  value: string | null;
  owner: string;
}

interface ReleaseView {
  version: number;
  diff: { name: string; change: string; value: string | null }[];
  actor: string;
  reason: string;
  createdAt: string;
}

interface PreflightView {
  ok: boolean;
  serviceSlug: string;
  planSlug: string;
  priceCents: number;
  currency: string;
  free: boolean;
  configVars: string[];
  collisions: { name: string; owner: string }[];
  parameterErrors: { path: string; message: string }[];
  problems: string[];
  /** Billing (docs/billing.md). */
  prorationCents: number | null;
  prorationUntil: string | null;
  billingMode: string;
  paymentRequired: boolean;
  billingNotice: string | null;
}

const APP = 'id name organization releaseVersion createdAt';
const ATTACHMENT = 'id name app { name } addon { name serviceSlug planSlug } state configVarNames lastError';
const ADDON = `id name app { name } serviceSlug planSlug providerSlug state lastError createdAt attachments { ${ATTACHMENT} }`;
const RELEASE = 'version diff { name change value } actor reason createdAt';
const PREFLIGHT =
  'ok serviceSlug planSlug priceCents currency free configVars collisions { name owner } parameterErrors { path message } problems prorationCents prorationUntil billingMode paymentRequired billingNotice';
// Errors a mutation may return that carry more than a message.
const COLLISION = '... on ConfigVarCollision { name owner }';

const DEFAULT_TIMEOUT_SECONDS = 300;
const ADDON_BUSY = new Set(['PROVISIONING', 'CHANGING_PLAN', 'DESTROYING']);
const ATTACHMENT_BUSY = new Set(['ATTACHING', 'ROTATING', 'DETACHING']);

const lower = (state: string) => state.toLowerCase().replaceAll('_', ' ');

function timeoutOf(ctx: CommandContext): number {
  const value = one(ctx, 'timeout', false);
  return value === undefined ? DEFAULT_TIMEOUT_SECONDS : parseWholeNumber('timeout', value, 1, 86_400, 'seconds');
}

/** `--timeout` only means something with `--wait`; saying it alone is probably a mistake. */
function waitOf(ctx: CommandContext): number | null {
  const wait = flag(ctx, 'wait');
  const timeout = timeoutOf(ctx);
  if (!wait && ctx.options.timeout !== undefined) throw new CliError('--timeout is only used with --wait', 2);
  return wait ? timeout : null;
}

function noExtraArgs(ctx: CommandContext, count: number, usage: string): void {
  if (ctx.args.length > count) {
    throw new CliError(`unexpected argument "${ctx.args[count]}"; usage: ${usage}`, 2);
  }
}

async function fetchApp<T>(ctx: CommandContext, name: string, fields: string): Promise<T> {
  const data = await ctx
    .client()
    .request<{ app: T | null }>(`query($name: String!) { app(name: $name) { ${fields} } }`, { name });
  if (!data.app) throw new CliError(`app "${name}" not found`, 1);
  return data.app;
}

async function fetchAddon(ctx: CommandContext, name: string): Promise<AddonView | null> {
  const data = await ctx
    .client()
    .request<{ addon: AddonView | null }>(`query($name: String!) { addon(name: $name) { ${ADDON} } }`, { name });
  return data.addon;
}

async function requireAddon(ctx: CommandContext, name: string): Promise<AddonView> {
  const addon = await fetchAddon(ctx, name);
  if (!addon) throw new CliError(`add-on "${name}" not found`, 1);
  return addon;
}

function addonStatus(addon: AddonView): string {
  return `${addon.name} ${lower(addon.state)}${addon.lastError ? ` (${addon.lastError})` : ''}`;
}

/** An add-on settles when neither it nor the attachment watched is between states. */
function addonSettled(addon: AddonView | null, attachmentId?: string): Progress {
  if (!addon) return { done: false, failure: 'the add-on is gone', status: 'gone' };
  let status = lower(addon.state);
  if (addon.state === 'FAILED') {
    return { done: true, failure: `add-on ${addon.name} failed: ${addon.lastError ?? 'no error recorded'}`, status };
  }
  if (ADDON_BUSY.has(addon.state)) return { done: false, status };
  if (attachmentId) {
    const attachment = addon.attachments.find((a) => a.id === attachmentId);
    if (!attachment) return { done: false, status: `${status}, attachment not listed yet` };
    status = `${status}, ${attachment.name} ${lower(attachment.state)}`;
    if (attachment.state === 'FAILED') {
      return {
        done: true,
        failure: `attaching ${addon.name} to ${attachment.app.name} as ${attachment.name} failed: ${attachment.lastError ?? addon.lastError ?? 'no error recorded'}`,
        status,
      };
    }
    if (ATTACHMENT_BUSY.has(attachment.state)) return { done: false, status };
  }
  return { done: true, status };
}

function priceOf(p: { free: boolean; priceCents: number; currency: string }): string {
  return p.free ? 'free' : `${money(p.priceCents, p.currency)}/month`;
}

function printPreflight(ctx: CommandContext, preflight: PreflightView, target: string): number {
  if (ctx.json) {
    ctx.printJson(preflight);
    return preflight.ok ? 0 : 1;
  }
  const lines = [
    `Dry run: ${target} (nothing was created)`,
    `  plan:         ${preflight.serviceSlug}:${preflight.planSlug}, ${priceOf(preflight)}`,
    `  config vars:  ${preflight.configVars.join(', ') || '(none)'}`,
  ];
  if (preflight.prorationCents !== null) {
    lines.push(
      `  this month:   ${money(preflight.prorationCents, preflight.currency)} until ${preflight.prorationUntil?.slice(0, 10)} (per second)`,
    );
  }
  if (preflight.billingNotice && !preflight.paymentRequired) lines.push(`  billing:      ${preflight.billingNotice}`);
  for (const c of preflight.collisions) lines.push(`  collision:    ${c.name} is already set, owned by ${c.owner}`);
  for (const e of preflight.parameterErrors) lines.push(`  parameter:    ${e.path || '(root)'}: ${e.message}`);
  // Problems restate the collisions and parameter errors in words; list only the others.
  const said = preflight.parameterErrors.map((e) => `${e.path}: ${e.message}`);
  const collided = preflight.collisions.map((c) => new RegExp(`\\b${c.name}\\b`));
  for (const p of preflight.problems) {
    if (!said.includes(p) && !collided.some((name) => name.test(p))) lines.push(`  problem:      ${p}`);
  }
  lines.push(
    preflight.ok
      ? '  outcome:      would succeed'
      : `  outcome:      would be refused${preflight.collisions.length > 0 ? ' (--replace takes over colliding vars)' : ''}`,
  );
  ctx.print(lines.join('\n'));
  return preflight.ok ? 0 : 1;
}

async function preflight(ctx: CommandContext, input: Record<string, unknown>): Promise<PreflightView> {
  const data = await ctx.client().request<{ attachPreflight: PreflightView & { __typename: string } }>(
    `query($input: AttachPreflightInput!) { attachPreflight(input: $input) {
      __typename ... on Preflight { ${PREFLIGHT} } ${ERROR}
      ... on InvalidInput { inputProblems: problems { path message } } } }`,
    { input },
  );
  const result = data.attachPreflight;
  // Preflight's `problems` are words and InvalidInput's are objects: one is aliased.
  if (result.__typename !== 'Preflight') {
    const failure = result as unknown as { message?: string; inputProblems?: { path: string; message: string }[] };
    throw new CliError(
      failure.message ?? `unexpected ${result.__typename}`,
      1,
      (failure.inputProblems ?? []).map((p) => `${p.path}: ${p.message}`),
    );
  }
  return result;
}

function attachmentLine(a: AttachmentView): string {
  return `${a.app.name} as ${a.name} (${lower(a.state)}): ${a.configVarNames.join(', ') || 'no vars yet'}${a.lastError ? ` — ${a.lastError}` : ''}`;
}

export const appCommands: Record<string, Command> = {
  apps: {
    usage: 'annex apps',
    summary: 'list the apps the token can see',
    async run(ctx) {
      noExtraArgs(ctx, 0, this.usage);
      const data = await ctx.client().request<{ apps: AppView[] }>(`{ apps { ${APP} } }`);
      if (ctx.json) return ctx.printJson(data.apps);
      ctx.print(
        table(
          data.apps.map((a) => ({ app: a.name, organization: a.organization, release: `v${a.releaseVersion}` })),
          ['app', 'organization', 'release'],
        ),
      );
    },
  },

  'apps:create': {
    usage: 'annex apps:create NAME [--org ORG]',
    summary: 'create an app (an org token creates it in its organization; others name one with --org)',
    async run(ctx) {
      const name = arg(ctx, 0, 'NAME');
      noExtraArgs(ctx, 1, this.usage);
      const result = await mutate<{ __typename: string; app: AppView }>(
        ctx,
        'createApp',
        `mutation($input: CreateAppInput!) { createApp(input: $input) {
          __typename ... on CreateAppSuccess { app { ${APP} } } ${ERROR} ${INVALID_INPUT} } }`,
        { input: { name, organization: one(ctx, 'org', false) ?? null } },
        'CreateAppSuccess',
      );
      if (ctx.json) return ctx.printJson(result.app);
      ctx.print(`Created app ${result.app.name} in ${result.app.organization}`);
    },
  },

  'apps:info': {
    usage: 'annex apps:info --app APP',
    summary: 'an app: its add-ons, attachments and current release',
    async run(ctx) {
      const name = one(ctx, 'app', false) ?? arg(ctx, 0, '--app APP');
      const app = await fetchApp<AppView & { addons: AddonView[]; attachments: AttachmentView[] }>(
        ctx,
        name,
        `${APP} addons { ${ADDON} } attachments { ${ATTACHMENT} }`,
      );
      if (ctx.json) return ctx.printJson(app);
      ctx.print(
        [
          `=== ${app.name}`,
          `organization: ${app.organization}`,
          `release:      v${app.releaseVersion}`,
          `created:      ${app.createdAt}`,
          '',
          'Add-ons owned:',
          table(
            app.addons.map((a) => ({ addon: a.name, plan: `${a.serviceSlug}:${a.planSlug}`, state: lower(a.state) })),
            ['addon', 'plan', 'state'],
          ),
          '',
          'Attachments:',
          table(
            app.attachments.map((a) => ({
              as: a.name,
              addon: a.addon.name,
              state: lower(a.state),
              vars: a.configVarNames.join(', '),
            })),
            ['as', 'addon', 'state', 'vars'],
          ),
        ].join('\n'),
      );
    },
  },

  addons: {
    usage: 'annex addons [--app APP]',
    summary: 'list add-ons: those attached to APP, or those of every app the token can see',
    async run(ctx) {
      noExtraArgs(ctx, 0, this.usage);
      const appName = one(ctx, 'app', false);
      let rows: { addon: AddonView; attachedAs: string[] }[];
      if (appName) {
        const app = await fetchApp<{ addons: AddonView[]; attachments: AttachmentView[] }>(
          ctx,
          appName,
          `addons { ${ADDON} } attachments { ${ATTACHMENT} }`,
        );
        const byName = new Map(app.addons.map((a) => [a.name, a]));
        // Add-ons another app owns show up through their attachment to this app.
        for (const attachment of app.attachments) {
          if (!byName.has(attachment.addon.name)) {
            const addon = await fetchAddon(ctx, attachment.addon.name);
            if (addon) byName.set(addon.name, addon);
          }
        }
        rows = [...byName.values()].map((addon) => ({
          addon,
          attachedAs: app.attachments.filter((a) => a.addon.name === addon.name).map((a) => a.name),
        }));
      } else {
        const data = await ctx
          .client()
          .request<{ apps: { addons: AddonView[] }[] }>(`{ apps { addons { ${ADDON} } } }`);
        rows = data.apps.flatMap((a) =>
          a.addons.map((addon) => ({ addon, attachedAs: addon.attachments.map((t) => `${t.name}@${t.app.name}`) })),
        );
      }
      if (ctx.json) return ctx.printJson(rows.map((r) => r.addon));
      ctx.print(
        table(
          rows.map(({ addon, attachedAs }) => ({
            addon: addon.name,
            plan: `${addon.serviceSlug}:${addon.planSlug}`,
            owner: addon.app.name,
            state: lower(addon.state),
            attached: attachedAs.join(', '),
          })),
          ['addon', 'plan', 'owner', 'state', 'attached'],
        ),
      );
    },
  },

  'addons:info': {
    usage: 'annex addons:info ADDON',
    summary: 'an add-on: plan, state, last error and every attachment with its vars',
    async run(ctx) {
      const name = arg(ctx, 0, 'ADDON');
      noExtraArgs(ctx, 1, this.usage);
      const addon = await requireAddon(ctx, name);
      if (ctx.json) return ctx.printJson(addon);
      ctx.print(
        [
          `=== ${addon.name}`,
          `plan:       ${addon.serviceSlug}:${addon.planSlug} (provider ${addon.providerSlug})`,
          `owner app:  ${addon.app.name}`,
          `state:      ${lower(addon.state)}`,
          ...(addon.lastError ? [`last error: ${addon.lastError}`] : []),
          `created:    ${addon.createdAt}`,
          'attachments:',
          ...(addon.attachments.length > 0 ? addon.attachments.map((a) => `  ${attachmentLine(a)}`) : ['  (none)']),
        ].join('\n'),
      );
    },
  },

  'addons:create': {
    usage:
      'annex addons:create SERVICE:PLAN --app APP [--as NAME] [--param KEY=VALUE ...] [--replace] [--dry-run] [--wait [--timeout SECONDS]]',
    summary: 'create an add-on for APP and attach it (--dry-run: price, vars and collisions, creating nothing)',
    async run(ctx) {
      const plan = parseServicePlan(arg(ctx, 0, 'SERVICE:PLAN'));
      noExtraArgs(ctx, 1, this.usage);
      const app = one(ctx, 'app') as string;
      const as = one(ctx, 'as', false);
      const input = {
        app,
        plan,
        as: as === undefined ? null : parseAttachmentName(as),
        parameters: parseParams(many(ctx, 'param')),
        replace: flag(ctx, 'replace'),
      };
      const dryRun = flag(ctx, 'dry-run');
      const timeout = waitOf(ctx);
      if (dryRun) {
        if (timeout !== null) throw new CliError('--dry-run creates nothing, so there is nothing to --wait for', 2);
        return printPreflight(ctx, await preflight(ctx, input), `create ${plan} for ${app}`);
      }
      const created = await mutate<{ __typename: string; addon: AddonView; attachment: AttachmentView | null }>(
        ctx,
        'createAddon',
        `mutation($input: CreateAddonInput!) { createAddon(input: $input) {
          __typename ... on CreateAddonSuccess { addon { ${ADDON} } attachment { ${ATTACHMENT} } }
          ${ERROR} ${INVALID_INPUT} ${COLLISION} } }`,
        { input },
        'CreateAddonSuccess',
      );
      let { addon, attachment } = created;
      if (timeout !== null) {
        const attachmentId = attachment?.id;
        addon = (await waitFor(
          ctx,
          `creating ${addon.name}`,
          timeout,
          () => fetchAddon(ctx, addon.name),
          (a) => addonSettled(a, attachmentId),
        )) as AddonView;
        attachment = addon.attachments.find((a) => a.id === attachmentId) ?? attachment;
      }
      if (ctx.json) return ctx.printJson({ addon, attachment });
      const attached = attachment ? `, attached as ${attachment.name}` : ' (not bindable: no attachment)';
      ctx.print(
        timeout !== null
          ? `Created ${addon.name} (${plan}) for ${app}${attached}${attachment ? `: ${attachment.configVarNames.join(', ')}` : ''}`
          : `Creating ${addon.name} (${plan}) for ${app}${attached}: ${lower(addon.state)}. Follow it with \`annex addons:info ${addon.name}\`, or pass --wait.`,
      );
    },
  },

  'addons:attach': {
    usage: 'annex addons:attach ADDON --app APP [--as NAME] [--replace] [--dry-run] [--wait [--timeout SECONDS]]',
    summary: 'attach an existing add-on to APP under a name (its vars are set in APP)',
    async run(ctx) {
      const addonName = arg(ctx, 0, 'ADDON');
      noExtraArgs(ctx, 1, this.usage);
      const app = one(ctx, 'app') as string;
      const as = one(ctx, 'as', false);
      const input = {
        addon: addonName,
        app,
        as: as === undefined ? null : parseAttachmentName(as),
        replace: flag(ctx, 'replace'),
      };
      const dryRun = flag(ctx, 'dry-run');
      const timeout = waitOf(ctx);
      if (dryRun) {
        if (timeout !== null) throw new CliError('--dry-run attaches nothing, so there is nothing to --wait for', 2);
        return printPreflight(ctx, await preflight(ctx, input), `attach ${addonName} to ${app}`);
      }
      let { attachment } = await mutate<{ __typename: string; attachment: AttachmentView }>(
        ctx,
        'attachAddon',
        `mutation($input: AttachAddonInput!) { attachAddon(input: $input) {
          __typename ... on AttachAddonSuccess { attachment { ${ATTACHMENT} } }
          ${ERROR} ${INVALID_INPUT} ${COLLISION} } }`,
        { input },
        'AttachAddonSuccess',
      );
      if (timeout !== null) {
        const addon = (await waitFor(
          ctx,
          `attaching ${addonName} to ${app}`,
          timeout,
          () => fetchAddon(ctx, addonName),
          (a) => addonSettled(a, attachment.id),
        )) as AddonView;
        attachment = addon.attachments.find((a) => a.id === attachment.id) ?? attachment;
      }
      if (ctx.json) return ctx.printJson(attachment);
      ctx.print(
        timeout !== null
          ? `Attached ${addonName} to ${app} as ${attachment.name}: ${attachment.configVarNames.join(', ')}`
          : `Attaching ${addonName} to ${app} as ${attachment.name}: ${lower(attachment.state)}. Pass --wait to follow it.`,
      );
    },
  },

  'addons:detach': {
    usage: 'annex addons:detach NAME --app APP [--wait [--timeout SECONDS]]',
    summary: 'detach the attachment NAME from APP (its vars leave APP)',
    async run(ctx) {
      const name = arg(ctx, 0, 'NAME');
      noExtraArgs(ctx, 1, this.usage);
      const app = one(ctx, 'app') as string;
      const timeout = waitOf(ctx);
      let { attachment } = await mutate<{ __typename: string; attachment: AttachmentView }>(
        ctx,
        'detachAddon',
        `mutation($input: DetachAddonInput!) { detachAddon(input: $input) {
          __typename ... on DetachAddonSuccess { attachment { ${ATTACHMENT} } } ${ERROR} ${INVALID_INPUT} } }`,
        { input: { app, name } },
        'DetachAddonSuccess',
      );
      if (timeout !== null) {
        const id = attachment.id;
        const seen = await waitFor(
          ctx,
          `detaching ${name} from ${app}`,
          timeout,
          async () =>
            (await fetchAddon(ctx, attachment.addon.name))?.attachments.find((a) => a.id === id) ?? {
              ...attachment,
              state: 'DETACHED',
            },
          (a): Progress =>
            a.state === 'FAILED'
              ? {
                  done: true,
                  failure: `detaching ${name} failed: ${a.lastError ?? 'no error recorded'}`,
                  status: 'failed',
                }
              : { done: !ATTACHMENT_BUSY.has(a.state), status: lower(a.state) },
        );
        attachment = seen;
      }
      if (ctx.json) return ctx.printJson(attachment);
      ctx.print(
        timeout !== null
          ? `Detached ${name} (${attachment.addon.name}) from ${app}`
          : `Detaching ${name} (${attachment.addon.name}) from ${app}: ${lower(attachment.state)}`,
      );
    },
  },

  'addons:destroy': {
    usage: 'annex addons:destroy ADDON [--confirm ADDON] [--wait [--timeout SECONDS]]',
    summary: 'detach an add-on everywhere and deprovision it (without a terminal, --confirm ADDON is required)',
    async run(ctx) {
      const name = arg(ctx, 0, 'ADDON');
      noExtraArgs(ctx, 1, this.usage);
      const timeout = waitOf(ctx);
      const confirm = one(ctx, 'confirm', false);
      if (confirm === undefined) {
        if (!ctx.ask) {
          throw new CliError(`destroying ${name} needs --confirm ${name} when there is no terminal to ask`, 2);
        }
        const answer = (
          await ctx.ask(`This destroys ${name} and removes its vars from every app. Type ${name} to confirm: `)
        ).trim();
        if (answer !== name)
          throw new CliError(`confirmation "${answer}" does not match ${name}; nothing was destroyed`, 2);
      } else if (confirm !== name) {
        throw new CliError(`--confirm ${confirm} does not match ${name}; nothing was destroyed`, 2);
      }
      let { addon } = await mutate<{ __typename: string; addon: AddonView }>(
        ctx,
        'destroyAddon',
        `mutation($input: DestroyAddonInput!) { destroyAddon(input: $input) {
          __typename ... on DestroyAddonSuccess { addon { ${ADDON} } } ${ERROR} ${INVALID_INPUT} } }`,
        { input: { addon: name } },
        'DestroyAddonSuccess',
      );
      if (timeout !== null) {
        const last = addon;
        addon = await waitFor(
          ctx,
          `destroying ${name}`,
          timeout,
          async () => (await fetchAddon(ctx, name)) ?? { ...last, state: 'DESTROYED', attachments: [] },
          (a): Progress =>
            a.state === 'FAILED'
              ? {
                  done: true,
                  failure: `destroying ${name} failed: ${a.lastError ?? 'no error recorded'}`,
                  status: 'failed',
                }
              : { done: a.state === 'DESTROYED', status: addonStatus(a) },
        );
      }
      if (ctx.json) return ctx.printJson(addon);
      ctx.print(timeout !== null ? `Destroyed ${name}` : `Destroying ${name}: ${lower(addon.state)}`);
    },
  },

  'addons:share': {
    usage: 'annex addons:share ADDON --org ORG',
    summary: "let another organization's apps attach an add-on (its owner keeps it and pays for it)",
    async run(ctx) {
      return share(ctx, 'shareAddon', 'ShareAddonSuccess', this.usage);
    },
  },

  'addons:unshare': {
    usage: 'annex addons:unshare ADDON --org ORG',
    summary: 'stop sharing an add-on with an organization (refused while its apps have it attached)',
    async run(ctx) {
      return share(ctx, 'unshareAddon', 'UnshareAddonSuccess', this.usage);
    },
  },

  'addons:upgrade': {
    usage: 'annex addons:upgrade ADDON PLAN [--wait [--timeout SECONDS]]',
    summary: 'move an add-on to another plan of its service (PLAN or SERVICE:PLAN)',
    async run(ctx) {
      const name = arg(ctx, 0, 'ADDON');
      const target = parsePlanSlug(arg(ctx, 1, 'PLAN'));
      noExtraArgs(ctx, 2, this.usage);
      const timeout = waitOf(ctx);
      let { addon } = await mutate<{ __typename: string; addon: AddonView }>(
        ctx,
        'changeAddonPlan',
        `mutation($input: ChangeAddonPlanInput!) { changeAddonPlan(input: $input) {
          __typename ... on ChangeAddonPlanSuccess { addon { ${ADDON} } } ${ERROR} ${INVALID_INPUT} } }`,
        { input: { addon: name, plan: target.service ? `${target.service}:${target.plan}` : target.plan } },
        'ChangeAddonPlanSuccess',
      );
      if (timeout !== null) {
        addon = (await waitFor(
          ctx,
          `changing ${name} to ${target.plan}`,
          timeout,
          () => fetchAddon(ctx, name),
          (a): Progress => {
            const progress = addonSettled(a);
            if (progress.done && !progress.failure && a && a.planSlug !== target.plan) {
              return {
                done: true,
                failure: `${name} stayed on ${a.planSlug}: ${a.lastError ?? 'the plan change did not happen'}`,
                status: progress.status,
              };
            }
            return progress;
          },
        )) as AddonView;
      }
      if (ctx.json) return ctx.printJson(addon);
      ctx.print(
        timeout !== null
          ? `${name} is now on ${addon.serviceSlug}:${addon.planSlug}`
          : `Changing ${name} to ${target.plan}: ${lower(addon.state)}`,
      );
    },
  },

  'addons:rotate': {
    usage: 'annex addons:rotate ADDON [--grace SECONDS] [--wait [--timeout SECONDS]]',
    summary: 'new credentials for every attachment; the old ones are revoked after the grace period',
    async run(ctx) {
      const name = arg(ctx, 0, 'ADDON');
      noExtraArgs(ctx, 1, this.usage);
      const grace = one(ctx, 'grace', false);
      const timeout = waitOf(ctx);
      let { addon } = await mutate<{ __typename: string; addon: AddonView }>(
        ctx,
        'rotateAddonCredentials',
        `mutation($input: RotateAddonCredentialsInput!) { rotateAddonCredentials(input: $input) {
          __typename ... on RotateAddonCredentialsSuccess { addon { ${ADDON} } } ${ERROR} ${INVALID_INPUT} } }`,
        {
          input: {
            addon: name,
            graceSeconds: grace === undefined ? null : parseWholeNumber('grace', grace, 0, 604_800, 'seconds'),
          },
        },
        'RotateAddonCredentialsSuccess',
      );
      if (timeout !== null) {
        addon = (await waitFor(
          ctx,
          `rotating ${name}`,
          timeout,
          () => fetchAddon(ctx, name),
          (a): Progress => {
            const progress = addonSettled(a);
            if (progress.failure || !progress.done || !a) return progress;
            const failed = a.attachments.find((t) => t.state === 'FAILED');
            if (failed) {
              return {
                done: true,
                failure: `rotating ${name} failed for ${failed.app.name} (${failed.name}): ${failed.lastError ?? 'no error recorded'}`,
                status: 'failed',
              };
            }
            const rotating = a.attachments.filter((t) => t.state === 'ROTATING').length;
            // A rotation that fails keeps the old credentials in place and says so in lastError.
            const kept = rotating === 0 && a.attachments.find((t) => t.lastError?.startsWith('rotation failed'));
            if (kept) {
              return {
                done: true,
                failure: `${kept.app.name} (${kept.name}) keeps its old credentials: ${kept.lastError}`,
                status: 'failed',
              };
            }
            return { done: rotating === 0, status: `${rotating} attachment(s) rotating` };
          },
        )) as AddonView;
      }
      if (ctx.json) return ctx.printJson(addon);
      ctx.print(
        timeout !== null
          ? `Rotated ${name}: new credentials in ${addon.attachments.map((a) => `${a.app.name} (${a.name})`).join(', ') || 'no app'}`
          : `Rotating ${name}. Pass --wait to follow it.`,
      );
    },
  },

  config: {
    usage: 'annex config --app APP [--reveal]',
    summary: 'config vars of APP with their owners; values with --reveal or --json (token scope config:read)',
    async run(ctx) {
      noExtraArgs(ctx, 0, this.usage);
      const name = one(ctx, 'app') as string;
      const reveal = flag(ctx, 'reveal');
      const app = await fetchApp<{ releaseVersion: number; configVars: ConfigVarView[] }>(
        ctx,
        name,
        'releaseVersion configVars { name value owner }',
      );
      if (ctx.json) return ctx.printJson({ app: name, release: app.releaseVersion, vars: app.configVars });
      const hidden = reveal && app.configVars.some((v) => v.value === null);
      ctx.print(
        [
          `=== ${name} config vars (v${app.releaseVersion})`,
          table(
            app.configVars.map((v) => ({ name: v.name, owner: v.owner, ...(reveal ? { value: v.value ?? '' } : {}) })),
            reveal ? ['name', 'owner', 'value'] : ['name', 'owner'],
          ),
          ...(hidden ? ['(values are hidden: the token lacks the config:read scope)'] : []),
        ].join('\n'),
      );
    },
  },

  'config:set': {
    usage: 'annex config:set KEY=VALUE ... --app APP [--reason TEXT]',
    summary: 'set user config vars of APP, as one release',
    async run(ctx) {
      const vars = parseAssignments(ctx.args);
      return setVars(ctx, vars, `set ${Object.keys(vars).join(', ')}`);
    },
  },

  'config:unset': {
    usage: 'annex config:unset KEY ... --app APP [--reason TEXT]',
    summary: 'remove user config vars of APP, as one release',
    async run(ctx) {
      const names = parseVarNames(ctx.args);
      return setVars(ctx, Object.fromEntries(names.map((n) => [n, null])), `unset ${names.join(', ')}`);
    },
  },

  releases: {
    usage: 'annex releases --app APP [--limit N]',
    summary: 'config releases of APP, newest first: version, changed names, actor, reason',
    async run(ctx) {
      noExtraArgs(ctx, 0, this.usage);
      const name = one(ctx, 'app') as string;
      const limitText = one(ctx, 'limit', false);
      const limit = limitText === undefined ? 20 : parseWholeNumber('limit', limitText, 1, 100);
      const data = await ctx
        .client()
        .request<{ app: { releases: ReleaseView[] } | null }>(
          `query($name: String!, $first: Int) { app(name: $name) { releases(first: $first) { ${RELEASE} } } }`,
          { name, first: limit },
        );
      if (!data.app) throw new CliError(`app "${name}" not found`, 1);
      if (ctx.json) return ctx.printJson(data.app.releases);
      ctx.print(
        table(
          data.app.releases.map((r) => ({
            version: `v${r.version}`,
            changes: r.diff
              .map((d) => `${d.change === 'removed' ? '-' : d.change === 'added' ? '+' : '~'}${d.name}`)
              .join(' '),
            actor: r.actor,
            reason: r.reason,
            created: r.createdAt,
          })),
          ['version', 'changes', 'actor', 'reason', 'created'],
        ),
      );
    },
  },

  'releases:rollback': {
    usage: 'annex releases:rollback VERSION --app APP',
    summary: 'a new release whose config vars equal those of VERSION (v3 or 3)',
    async run(ctx) {
      const version = parseVersion(arg(ctx, 0, 'VERSION'));
      noExtraArgs(ctx, 1, this.usage);
      const app = one(ctx, 'app') as string;
      const { release } = await mutate<{ __typename: string; release: ReleaseView }>(
        ctx,
        'rollbackConfig',
        `mutation($input: RollbackConfigInput!) { rollbackConfig(input: $input) {
          __typename ... on RollbackConfigSuccess { release { ${RELEASE} } } ${ERROR} ${INVALID_INPUT} } }`,
        { input: { app, version } },
        'RollbackConfigSuccess',
      );
      if (ctx.json) return ctx.printJson(release);
      ctx.print(`Rolled back ${app} to v${version}: now v${release.version}`);
    },
  },
};

async function share(
  ctx: CommandContext,
  field: 'shareAddon' | 'unshareAddon',
  success: string,
  usage: string,
): Promise<undefined> {
  const name = arg(ctx, 0, 'ADDON');
  noExtraArgs(ctx, 1, usage);
  const organization = one(ctx, 'org') as string;
  const result = await mutate<{ __typename: string; organizations: string[] }>(
    ctx,
    field,
    `mutation($input: ShareAddonInput!) { ${field}(input: $input) {
      __typename ... on ${success} { organizations } ${ERROR} ${INVALID_INPUT} } }`,
    { input: { addon: name, organization } },
    success,
  );
  if (ctx.json) return ctx.printJson(result.organizations);
  ctx.print(
    result.organizations.length > 0
      ? `${name} is shared with ${result.organizations.join(', ')}`
      : `${name} is shared with no other organization`,
  );
  return undefined;
}

async function setVars(ctx: CommandContext, vars: Record<string, string | null>, reason: string): Promise<undefined> {
  const app = one(ctx, 'app') as string;
  const { release } = await mutate<{ __typename: string; release: ReleaseView | null }>(
    ctx,
    'setConfigVars',
    `mutation($input: SetConfigVarsInput!) { setConfigVars(input: $input) {
      __typename ... on SetConfigVarsSuccess { release { ${RELEASE} } } ${ERROR} ${INVALID_INPUT} ${COLLISION} } }`,
    { input: { app, vars, reason: one(ctx, 'reason', false) ?? reason } },
    'SetConfigVarsSuccess',
  );
  // The vars already had these values: no release is made.
  if (ctx.json) return ctx.printJson(release ?? { unchanged: true });
  ctx.print(
    release ? `${app}: ${reason} (v${release.version})` : `${app}: no change (the vars already have these values)`,
  );
  return undefined;
}

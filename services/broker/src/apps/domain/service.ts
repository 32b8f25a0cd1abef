import { randomUUID } from 'node:crypto';
import {
  type ReleaseKeptVar,
  recentServiceCalls,
  SERVICE_HEALTH_RULE,
  type ServiceHealth,
  serviceHealthOf,
} from '@annex/platform';
import { validateParameters } from '@annex/sdk';
import { type PriceNotice, priceNotice, requirePaymentMethod } from '../../billing/index.js';
import { findInstance, sealParameters, updateServiceInstance } from '../../osb/index.js';
import { findPlanById, type PlanContext } from '../../shared/db/catalog.js';
import type { Executor } from '../../shared/db/executor.js';
import { type ApiCaller, ApiFailure, invalidInput, mayAccess } from '../../shared/domain/api-failure.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import { BrokerFailure } from '../../shared/domain/errors.js';
import {
  addonOwnerAndName,
  claimAddonForPlanChange,
  insertAddonUnlessNameTaken,
  type Lease,
  markAddonDestroying,
  releaseAddonLease,
  returnAddonToProvisioned,
} from '../db/addons.js';
import { insertAppUnlessNameTaken } from '../db/apps.js';
import {
  attachedByOrganization,
  attachmentNameTaken,
  confirmReleaseOnLiveAttachments,
  hasOtherLiveAttachment,
  insertAttachment as insertAttachmentRow,
  liveAttachments,
  lockLiveAttachmentByName,
  markAttachmentDetaching,
  markAttachmentRotating,
  releaseAttachmentLease,
} from '../db/attachments.js';
import { findAttachmentOwnedVar, listVarOwners, listVarsNamed } from '../db/config-vars.js';
import { findOrganizationIdBySlug } from '../db/organizations.js';
import { serviceSlugById } from '../db/plans.js';
import { deleteAddonShare, insertAddonShare, isAddonSharedWith, listShareOrganizationSlugs } from '../db/shares.js';
import type { AddonRow, AppRow, AttachmentRow } from '../db/store.js';
import { findAddon, findApp, findAttachableAddon } from './access.js';
import { advanceAddon, advanceAttachment, appsCaller, appsCallerFor, type Held } from './advance.js';
import {
  APP_NAME,
  ATTACHMENT_NAME,
  attachmentVarNames,
  CONFIG_VAR_NAME,
  generateAddonName,
  varLayout,
} from './naming.js';
import { organizationSlug, resolvePlanRef, resolveSiblingPlan } from './plans.js';
import {
  type AppEvent,
  applyConfigChange,
  currentVars,
  type Release,
  type ReleaseActor,
  recordEvent,
  recordEvents,
  releaseSnapshot,
  type VarChange,
} from './releases.js';

// The commands of the apps API. Each checks everything before it writes; a refusal changes
// nothing. Work at providers happens in `advance.ts`, started here and finished by the
// reconciler when a provider is slow.

export function actorOf(caller: ApiCaller): ReleaseActor {
  const p = caller.principal;
  switch (p.kind) {
    case 'org':
      return { kind: 'org', id: p.tokenId, name: `org token of ${p.organization}` };
    case 'platform':
      return { kind: 'platform', id: p.tokenId, name: 'platform token' };
    default:
      return { kind: 'admin', id: p.tokenId, name: 'admin token' };
  }
}

/** How long a request keeps a lease on the rows it is moving forward. */
const REQUEST_LEASE_MS = 120_000;

export async function createApp(
  ctx: BrokerContext,
  caller: ApiCaller,
  input: { name: string; organization?: string | undefined },
): Promise<AppRow> {
  if (!APP_NAME.test(input.name)) {
    throw invalidInput('name', 'must be 2-30 characters: lowercase letters, digits and dashes, starting with a letter');
  }
  let organizationId: string;
  if (caller.principal.kind === 'org' && !input.organization) organizationId = caller.principal.organizationId;
  else {
    if (!input.organization) throw invalidInput('organization', 'required with a platform or admin token');
    const orgId = await findOrganizationIdBySlug(ctx.db, input.organization);
    if (!orgId || !mayAccess(caller, orgId))
      throw new ApiFailure('not_found', `organization "${input.organization}" not found`);
    organizationId = orgId;
  }
  const platformId = caller.principal.kind === 'platform' ? caller.principal.platformId : null;
  const row = await insertAppUnlessNameTaken(ctx.db, {
    name: input.name,
    organization_id: organizationId,
    platform_id: platformId,
  });
  if (!row) throw new ApiFailure('name_taken', `app name "${input.name}" is taken`, { field: 'name' });
  return row;
}

export interface AttachRequest {
  as?: string | undefined;
  replace?: boolean | undefined;
}

export interface Preflight {
  ok: boolean;
  service: string;
  plan: string;
  price: { free: boolean; cents: number; currency: string; interval: 'month' };
  /** Billing (docs/billing.md): what attaching now costs until the month ends; null for free plans. */
  proration: PriceNotice['proration'];
  billingMode: PriceNotice['billingMode'];
  paymentRequired: boolean;
  /** E.g. that billing is ledger-only, or that a payment method is needed. */
  billingNotice: string | null;
  /** The attachment's name (`--as`, or the service's default), which prefixes the vars. */
  attachmentName: string;
  /** The app already has an attachment of that name: choose another, `replace` does not help. */
  nameTaken: boolean;
  configVars: string[];
  collisions: { name: string; owner: string }[];
  parameterErrors: { field: string; message: string }[];
  problems: string[];
  /** The service's coarse health (docs/provider-portal.md, "Health"). */
  serviceHealth: ServiceHealth;
  /** What does not refuse the attach but may make it fail (a failing service). */
  warnings: string[];
}

interface AttachPlan {
  name: string;
  varNames: string[];
  collisions: { name: string; owner: string }[];
  nameTaken: boolean;
}

/** The attachment name and vars an attach would use, and what they collide with. */
async function planAttachment(
  db: Executor,
  app: AppRow,
  plan: PlanContext,
  request: AttachRequest,
): Promise<AttachPlan> {
  const layout = varLayout(plan.service.slug, plan.service.config_vars);
  const name = request.as?.trim() || layout.defaultName;
  if (!ATTACHMENT_NAME.test(name)) {
    throw invalidInput(
      'as',
      'must be upper case letters, digits and underscores, starting with a letter (e.g. DATABASE)',
    );
  }
  const varNames = attachmentVarNames(layout, name);
  const existing = varNames.length ? await listVarsNamed(db, app.id, varNames) : [];
  const taken = await attachmentNameTaken(db, app.id, name);
  return {
    name,
    varNames,
    collisions: existing.map((e) => ({ name: e.name, owner: e.attachment ? `attachment:${e.attachment}` : 'user' })),
    nameTaken: taken,
  };
}

function describePrice(plan: PlanContext): Preflight['price'] {
  return { free: plan.plan.free, cents: plan.plan.price_cents, currency: plan.plan.currency, interval: 'month' };
}

/** What creating (with `plan`) or attaching (with `addon`) would do; writes nothing. */
export async function preflight(
  ctx: BrokerContext,
  caller: ApiCaller,
  appRef: string,
  input: AttachRequest & {
    plan?: string | undefined;
    addon?: string | undefined;
    parameters?: Record<string, unknown>;
  },
): Promise<Preflight> {
  const app = await findApp(ctx.db, caller, appRef);
  const orgSlug = await organizationSlug(ctx.db, app.organization_id, caller);
  let plan: PlanContext;
  const problems: string[] = [];
  let parameterErrors: Preflight['parameterErrors'] = [];
  if (input.addon) {
    const addon = await findAttachableAddon(ctx.db, caller, input.addon, app.organization_id);
    await checkShareable(ctx.db, addon, app);
    const context = await findPlanById(ctx.db, addon.plan_id);
    if (!context) throw new ApiFailure('not_found', 'the add-on plan no longer exists');
    plan = context;
    if (addon.state !== 'provisioned' && addon.state !== 'provisioning') problems.push(`the add-on is ${addon.state}`);
  } else if (input.plan) {
    plan = await resolvePlanRef(ctx.db, input.plan, orgSlug);
    const schema = plan.plan.schemas?.service_instance?.create?.parameters;
    if (schema) {
      parameterErrors = validateParameters(schema as Record<string, unknown>, input.parameters ?? {}).map((p) => ({
        field: p.path === '/' ? 'parameters' : `parameters${p.path.replaceAll('/', '.')}`,
        message: p.message,
      }));
    }
  } else throw invalidInput('plan', 'give either plan (SERVICE:PLAN) or addon');
  const attach = await planAttachment(ctx.db, app, plan, input);
  if (attach.nameTaken) problems.push(nameTakenMessage(app, attach.name));
  const blocking = input.replace ? [] : attach.collisions;
  // Vars of the attachment whose name is taken are part of that problem: --replace cannot take them.
  const sameName = `attachment:${attach.name}`;
  for (const c of blocking) {
    if (!(attach.nameTaken && c.owner === sameName))
      problems.push(`config var ${c.name} is already set (owner: ${c.owner}); ${TAKE_OVER}`);
  }
  if (attach.varNames.length === 0)
    problems.push('the service declares no config vars; their names come from the credentials');
  for (const e of parameterErrors) problems.push(`${e.field}: ${e.message}`);
  // Attaching an existing add-on costs nothing more; creating one is priced.
  const billing: PriceNotice = input.addon
    ? { billingMode: ctx.billing.mode, paymentRequired: false, proration: null, notice: null }
    : await priceNotice(ctx, app.organization_id, plan);
  if (billing.paymentRequired && billing.notice) problems.push(billing.notice);
  const serviceHealth = serviceHealthOf((await recentServiceCalls(ctx.db, [plan.service.id])).get(plan.service.id));
  const warnings =
    serviceHealth === 'failing'
      ? [
          `the service ${plan.service.slug} is failing: most of its provider's recent calls failed (in the last ${SERVICE_HEALTH_RULE.windowMinutes} minutes), so this may fail too`,
        ]
      : [];
  return {
    ok:
      parameterErrors.length === 0 &&
      !attach.nameTaken &&
      blocking.length === 0 &&
      !billing.paymentRequired &&
      (problems.length === 0 || attach.varNames.length === 0),
    service: plan.service.slug,
    plan: plan.plan.slug,
    price: describePrice(plan),
    proration: billing.proration,
    billingMode: billing.billingMode,
    paymentRequired: billing.paymentRequired,
    billingNotice: billing.notice,
    attachmentName: attach.name,
    nameTaken: attach.nameTaken,
    configVars: attach.varNames,
    collisions: attach.collisions,
    parameterErrors,
    problems,
    serviceHealth,
    warnings,
  };
}

async function checkShareable(db: Executor, addon: AddonRow, app: AppRow): Promise<void> {
  if (addon.organization_id !== app.organization_id) {
    if (!(await isAddonSharedWith(db, addon.id, app.organization_id))) {
      throw new ApiFailure('not_found', `add-on "${addon.name}" not found for the organization of app "${app.name}"`);
    }
  }
  if (addon.state === 'destroyed' || addon.state === 'destroying' || addon.state === 'failed') {
    throw new ApiFailure('conflict', `add-on "${addon.name}" is ${addon.state}`);
  }
}

// People read these in the CLI and the console, programs through the API: each names the
// CLI flag and the API field that resolve it.
const TAKE_OVER = 'pass --replace ("replace" in the API) to take it over';

function nameTakenMessage(app: AppRow, name: string): string {
  return `app ${app.name} already has an attachment named ${name}; choose another with --as NAME ("as" in the API)`;
}

function refuseCollisions(attach: AttachPlan, replace: boolean | undefined, app: AppRow): void {
  if (attach.nameTaken) {
    throw new ApiFailure('name_taken', nameTakenMessage(app, attach.name), { field: 'as' });
  }
  const collision = replace ? undefined : attach.collisions[0];
  if (collision) {
    throw new ApiFailure(
      'var_collision',
      `config var ${collision.name} of app ${app.name} is already set (owner: ${collision.owner}); ${TAKE_OVER}`,
      { name: collision.name, owner: collision.owner },
    );
  }
}

function leaseUntil(): Date {
  return new Date(Date.now() + REQUEST_LEASE_MS);
}

/** This replica's lease for a request moving rows forward. */
function requestLease(ctx: BrokerContext): Lease {
  return { owner: ctx.replicaId, expiresAt: leaseUntil() };
}

/**
 * Runs the first steps in the request; the reconciler finishes what a slow provider leaves.
 * The request's lease on a row still in progress ends when it stops (so the reconciler may take
 * the row up at once); a row whose step is done is out of the reconciler's sight, and its lease
 * is left to lapse rather than ended by one more statement.
 */
async function driveInRequest(
  ctx: BrokerContext,
  addon: string | AddonRow | null,
  attachment: string | AttachmentRow | null,
  held: Held = {},
): Promise<void> {
  const idOf = (ref: string | { id: string }) => (typeof ref === 'string' ? ref : ref.id);
  let addonDone = addon === null;
  let attachmentDone = attachment === null;
  try {
    if (addon) addonDone = (await advanceAddon(ctx, addon, held)) === 'done';
    if (attachment) attachmentDone = (await advanceAttachment(ctx, attachment, held)) === 'done';
  } finally {
    if (addon && !addonDone) await releaseAddonLease(ctx.db, idOf(addon));
    if (attachment && !attachmentDone) await releaseAttachmentLease(ctx.db, idOf(attachment));
  }
}

export async function createAddon(
  ctx: BrokerContext,
  caller: ApiCaller,
  appRef: string,
  input: AttachRequest & { plan: string; parameters?: Record<string, unknown> | undefined },
): Promise<{ addonId: string; attachmentId: string; addon: AddonRow | undefined }> {
  const parameters = input.parameters ?? {};
  const rows = await ctx.db.transaction().execute(async (trx) => {
    const app = await findApp(trx, caller, appRef, true);
    const orgSlug = await organizationSlug(trx, app.organization_id, caller);
    const plan = await resolvePlanRef(trx, input.plan, orgSlug);
    const schema = plan.plan.schemas?.service_instance?.create?.parameters;
    if (schema) {
      const problem = validateParameters(schema as Record<string, unknown>, parameters)[0];
      if (problem) {
        const field = problem.path === '/' ? 'parameters' : `parameters${problem.path.replaceAll('/', '.')}`;
        throw invalidInput(field, problem.message);
      }
    }
    if (plan.plan.bindable === false || (plan.plan.bindable === null && !plan.service.bindable)) {
      throw invalidInput('plan', `plan "${input.plan}" is not bindable, so it cannot be attached to an app`);
    }
    const attach = await planAttachment(trx, app, plan, input);
    refuseCollisions(attach, input.replace, app);
    // Before any row exists or any provider is called: a paid plan needs a payment method.
    await requirePaymentMethod(ctx, trx, app.organization_id, plan);
    const addonId = randomUUID();
    const parametersSealed = sealParameters(ctx.secretBox, parameters);
    let addon: AddonRow | undefined;
    // A generated name rarely clashes; the unique name decides in the insert, and a clash draws again.
    for (let i = 0; i < 5 && !addon; i++) {
      addon = await insertAddonUnlessNameTaken(trx, {
        id: addonId,
        name: generateAddonName(plan.service.slug),
        organization_id: app.organization_id,
        app_id: app.id,
        service_id: plan.service.id,
        plan_id: plan.plan.id,
        parameters: '{}',
        parameters_sealed: parametersSealed,
        state: 'provisioning',
        last_error: null,
        lease_owner: ctx.replicaId,
        lease_expires_at: leaseUntil(),
        destroyed_at: null,
      });
    }
    if (!addon) throw new Error('no free add-on name after 5 draws');
    const attachment = await insertAttachment(ctx, trx, app, addonId, attach.name, input.replace);
    await recordEvents(trx, [
      {
        appId: app.id,
        addonId,
        kind: 'addon.provisioning',
        detail: { addon: addon.name, service: plan.service.slug, plan: plan.plan.slug },
      },
      attachment.event,
    ]);
    return { addon, attachment: attachment.row, plan, appName: app.name, orgSlug };
  });
  // The rows just written, leased to this request, and what was read to write them: the first
  // steps need not read them again, nor look for an instance or binding under their new ids.
  const held: Held = {
    plan: rows.plan,
    appName: rows.appName,
    caller: await appsCaller(ctx, rows.orgSlug),
    inserted: true,
  };
  await driveInRequest(ctx, rows.addon, rows.attachment, held);
  // The add-on as its step left it, when that step knows (it is read otherwise).
  return { addonId: rows.addon.id, attachmentId: rows.attachment.id, addon: held.addon };
}

/** A new attachment, leased by this request, which binds it next; returns it and its event to record. */
async function insertAttachment(
  ctx: BrokerContext,
  trx: Executor,
  app: AppRow,
  addonId: string,
  name: string,
  replace: boolean | undefined,
): Promise<{ row: AttachmentRow; event: AppEvent }> {
  const row = await insertAttachmentRow(trx, {
    addon_id: addonId,
    app_id: app.id,
    name,
    binding_id: randomUUID(),
    rotating_binding_id: null,
    rotation_grace_seconds: null,
    replace_vars: replace ?? false,
    state: 'attaching',
    last_error: null,
    confirmed_release: null,
    lease_owner: ctx.replicaId,
    lease_expires_at: leaseUntil(),
    detached_at: null,
  });
  return {
    row,
    event: { appId: app.id, addonId, kind: 'attachment.attaching', detail: { attachment: name, app: app.name } },
  };
}

export async function attachAddon(
  ctx: BrokerContext,
  caller: ApiCaller,
  appRef: string,
  input: AttachRequest & { addon: string },
): Promise<{ attachmentId: string }> {
  const attachment = await ctx.db.transaction().execute(async (trx) => {
    const app = await findApp(trx, caller, appRef, true);
    const addon = await findAttachableAddon(trx, caller, input.addon, app.organization_id);
    await checkShareable(trx, addon, app);
    const plan = await findPlanById(trx, addon.plan_id);
    if (!plan) throw new ApiFailure('conflict', 'the add-on plan no longer exists');
    const attach = await planAttachment(trx, app, plan, input);
    refuseCollisions(attach, input.replace, app);
    const inserted = await insertAttachment(ctx, trx, app, addon.id, attach.name, input.replace);
    await recordEvents(trx, [inserted.event]);
    return inserted.row;
  });
  // The row just written, leased to this request: the first step need not read it again.
  await driveInRequest(ctx, null, attachment);
  return { attachmentId: attachment.id };
}

export async function detachAddon(
  ctx: BrokerContext,
  caller: ApiCaller,
  appRef: string,
  name: string,
): Promise<{ attachmentId: string }> {
  const attachmentId = await ctx.db.transaction().execute(async (trx) => {
    const app = await findApp(trx, caller, appRef);
    const attachment = await lockLiveAttachmentByName(trx, app.id, name);
    if (!attachment) throw new ApiFailure('not_found', `attachment "${name}" of app "${app.name}" not found`);
    if (attachment.state === 'detaching') return attachment.id;
    const addon = await addonOwnerAndName(trx, attachment.addon_id);
    if (addon.app_id === app.id) {
      if (!(await hasOtherLiveAttachment(trx, attachment.addon_id, app.id, attachment.id))) {
        // Like Heroku: the app that owns (and pays for) an add-on keeps an attachment to it.
        throw new ApiFailure(
          'conflict',
          `${addon.name} is owned by ${app.name}, which must keep an attachment to it; destroy the add-on (addons:destroy) instead`,
        );
      }
    }
    await markAttachmentDetaching(trx, attachment.id, requestLease(ctx));
    return attachment.id;
  });
  await driveInRequest(ctx, null, attachmentId);
  return { attachmentId };
}

export async function destroyAddon(
  ctx: BrokerContext,
  caller: ApiCaller,
  addonRef: string,
): Promise<{ addonId: string }> {
  const addonId = await ctx.db.transaction().execute(async (trx) => {
    const addon = await findAddon(trx, caller, addonRef, true);
    if (addon.state === 'destroyed') throw new ApiFailure('not_found', `add-on "${addonRef}" was destroyed`);
    if (addon.state === 'provisioning' || addon.state === 'changing_plan') {
      throw new ApiFailure('conflict', `add-on ${addon.name} is ${addon.state}; destroy it when that ends`);
    }
    if (addon.state !== 'destroying') {
      await markAddonDestroying(trx, addon.id, requestLease(ctx));
      await recordEvent(trx, addon.app_id, addon.id, 'addon.destroying', { addon: addon.name });
    }
    return addon.id;
  });
  await driveInRequest(ctx, addonId, null);
  return { addonId };
}

export async function changeAddonPlan(
  ctx: BrokerContext,
  caller: ApiCaller,
  addonRef: string,
  planRef: string,
): Promise<{ addonId: string }> {
  const addon = await findAddon(ctx.db, caller, addonRef);
  if (addon.state !== 'provisioned') throw new ApiFailure('conflict', `add-on ${addon.name} is ${addon.state}`);
  const serviceSlug = await serviceSlugById(ctx.db, addon.service_id);
  const orgSlug = await organizationSlug(ctx.db, addon.organization_id, caller);
  const target = await resolveSiblingPlan(ctx.db, serviceSlug, planRef, orgSlug);
  if (target.plan.id === addon.plan_id)
    throw invalidInput('plan', `add-on ${addon.name} is already on plan ${target.plan.slug}`);
  await requirePaymentMethod(ctx, ctx.db, addon.organization_id, target);
  const instance = await findInstance(ctx.db, addon.id);
  if (!instance) throw new ApiFailure('conflict', `add-on ${addon.name} has no instance`);
  const claimed = await claimAddonForPlanChange(ctx.db, addon.id, requestLease(ctx));
  if (!claimed) throw new ApiFailure('conflict', `add-on ${addon.name} is changing already`);
  const current = await findPlanById(ctx.db, addon.plan_id);
  try {
    await updateServiceInstance(ctx, await appsCallerFor(ctx, addon.organization_id, actorOf(caller)), {
      instanceId: addon.id,
      serviceId: target.service.osb_id,
      planId: target.plan.osb_id,
      parameters: undefined,
      context: undefined,
      previousValues: current ? { plan_id: current.plan.osb_id, service_id: current.service.osb_id } : undefined,
      maintenanceInfo: undefined,
      acceptsIncomplete: true,
    });
  } catch (error) {
    await returnAddonToProvisioned(ctx.db, addon.id);
    const message = error instanceof BrokerFailure || error instanceof Error ? error.message : String(error);
    throw new ApiFailure(
      error instanceof BrokerFailure && error.code === 'BadRequest' ? 'invalid_input' : 'provider_failed',
      `plan change refused: ${message}`,
      { field: 'plan' },
    );
  }
  await driveInRequest(ctx, addon.id, null);
  return { addonId: addon.id };
}

export async function rotateAddonCredentials(
  ctx: BrokerContext,
  caller: ApiCaller,
  addonRef: string,
  graceSeconds: number | undefined,
): Promise<{ addonId: string; attachmentIds: string[] }> {
  const rotating = await ctx.db.transaction().execute(async (trx) => {
    const addon = await findAddon(trx, caller, addonRef, true);
    if (addon.state !== 'provisioned') throw new ApiFailure('conflict', `add-on ${addon.name} is ${addon.state}`);
    const attachments = (await liveAttachments(trx, { addonId: addon.id })).filter((a) => a.state === 'attached');
    if (attachments.length === 0) throw new ApiFailure('conflict', `add-on ${addon.name} has no attachment to rotate`);
    for (const attachment of attachments) {
      await markAttachmentRotating(
        trx,
        attachment.id,
        { rotatingBindingId: randomUUID(), graceSeconds: graceSeconds ?? null },
        requestLease(ctx),
      );
    }
    return { addonId: addon.id, attachmentIds: attachments.map((a) => a.id) };
  });
  for (const id of rotating.attachmentIds) await driveInRequest(ctx, null, id);
  return rotating;
}

export async function setConfigVars(
  ctx: BrokerContext,
  caller: ApiCaller,
  appRef: string,
  input: { vars: Record<string, string | null>; reason?: string | undefined; secret?: boolean | undefined },
): Promise<Release | undefined> {
  const names = Object.keys(input.vars);
  if (names.length === 0) throw invalidInput('vars', 'give at least one var');
  for (const name of names)
    if (!CONFIG_VAR_NAME.test(name)) throw invalidInput(`vars.${name}`, 'is not a valid config var name');
  return ctx.db.transaction().execute(async (trx) => {
    const app = await findApp(trx, caller, appRef, true);
    const owned = await findAttachmentOwnedVar(trx, app.id, names);
    if (owned) {
      throw new ApiFailure(
        'var_collision',
        `config var ${owned.name} is owned by attachment ${owned.attachment}; detach or rotate it instead`,
        { name: owned.name, owner: `attachment:${owned.attachment}` },
      );
    }
    const present = await currentVars(ctx, trx, app.id);
    const missing = names.find((n) => input.vars[n] === null && !present.has(n));
    if (missing) throw new ApiFailure('not_found', `config var ${missing} is not set on ${app.name}`);
    return applyConfigChange(ctx, trx, {
      appId: app.id,
      changes: names.map((name) => ({
        name,
        value: input.vars[name] ?? null,
        attachmentId: null,
        ...(input.secret === undefined ? {} : { secret: input.secret }),
      })),
      actor: actorOf(caller),
      reason: input.reason ?? `Set ${names.join(', ')}`,
    });
  });
}

/**
 * A new release whose user vars equal release `version`'s. Add-on state never rolls back:
 * vars owned by a live attachment stay as they are (a user var taken over since stays the
 * attachment's) and are listed in the release's `kept`; vars of attachments detached since
 * are not restored, their credentials having been revoked with the binding.
 */
export async function rollbackConfig(
  ctx: BrokerContext,
  caller: ApiCaller,
  appRef: string,
  version: number,
): Promise<Release> {
  return ctx.db.transaction().execute(async (trx) => {
    const app = await findApp(trx, caller, appRef, true);
    const snapshot = await releaseSnapshot(ctx, trx, app.id, version);
    if (!snapshot) throw new ApiFailure('not_found', `release v${version} of ${app.name} not found`);
    const attachments = new Map((await liveAttachments(trx, { appId: app.id })).map((a) => [a.id, a.name]));
    const present = await currentVars(ctx, trx, app.id);
    const ownerOf = (name: string) => {
      const id = present.get(name)?.attachmentId;
      return id ? attachments.get(id) : undefined;
    };
    const changes: VarChange[] = [];
    const kept: ReleaseKeptVar[] = [];
    for (const [name, now] of present) {
      const then = snapshot.get(name);
      const attachment = ownerOf(name);
      if (attachment !== undefined) {
        if (!then || then.value !== now.value || then.attachmentId !== now.attachmentId)
          kept.push({ name, attachment });
      } else if (!then || then.attachmentId !== null) {
        changes.push({ name, value: null, attachmentId: null });
      }
    }
    for (const [name, then] of snapshot) {
      if (then.attachmentId !== null || ownerOf(name) !== undefined) continue;
      changes.push({ name, value: then.value, attachmentId: null, secret: then.secret });
    }
    const release = await applyConfigChange(ctx, trx, {
      appId: app.id,
      changes,
      kept,
      actor: actorOf(caller),
      reason: `Rollback to v${version}`,
    });
    if (!release) {
      const left = kept.map((k) => `${k.name} of attachment ${k.attachment}`).join(', ');
      const note = kept.length === 0 ? '' : ` (${left} left as ${kept.length === 1 ? 'it is' : 'they are'})`;
      throw new ApiFailure('conflict', `${app.name}'s vars already equal release v${version}${note}`);
    }
    return release;
  });
}

/** The app's vars with values (its route needs the `config:read` scope). */
export async function pullConfigVars(
  ctx: BrokerContext,
  caller: ApiCaller,
  appRef: string,
): Promise<{ release: number; vars: Record<string, string> }> {
  return ctx.db.transaction().execute(async (trx) => {
    const app = await findApp(trx, caller, appRef);
    const vars = await currentVars(ctx, trx, app.id);
    return { release: app.release_version, vars: Object.fromEntries([...vars].map(([n, v]) => [n, v.value])) };
  });
}

export async function configVarNames(
  ctx: BrokerContext,
  caller: ApiCaller,
  appRef: string,
): Promise<{ release: number; vars: { name: string; owner: string }[] }> {
  const app = await findApp(ctx.db, caller, appRef);
  const rows = await listVarOwners(ctx.db, app.id);
  return {
    release: app.release_version,
    vars: rows.map((r) => ({ name: r.name, owner: r.attachment ? `attachment:${r.attachment}` : 'user' })),
  };
}

/** The app's runtime runs `release`: old bindings it replaced can be revoked now. */
export async function confirmRelease(
  ctx: BrokerContext,
  caller: ApiCaller,
  appRef: string,
  release: number,
): Promise<void> {
  const app = await findApp(ctx.db, caller, appRef);
  if (release > app.release_version || release < 1) {
    throw invalidInput('release', `${app.name} has releases 1 to ${app.release_version}`);
  }
  await confirmReleaseOnLiveAttachments(ctx.db, app.id, release);
}

/** Lets another organization's apps attach the add-on (its owner keeps paying for it). */
export async function shareAddon(
  ctx: BrokerContext,
  caller: ApiCaller,
  addonRef: string,
  organization: string,
): Promise<{ organizations: string[] }> {
  const addon = await findAddon(ctx.db, caller, addonRef);
  if (addon.state === 'destroyed' || addon.state === 'destroying')
    throw new ApiFailure('conflict', `add-on ${addon.name} is ${addon.state}`);
  const orgId = await findOrganizationIdBySlug(ctx.db, organization);
  if (!orgId) throw new ApiFailure('not_found', `organization "${organization}" not found`, { field: 'organization' });
  if (orgId === addon.organization_id) throw invalidInput('organization', `${organization} owns ${addon.name} already`);
  await insertAddonShare(ctx.db, addon.id, orgId);
  await recordEvent(ctx.db, addon.app_id, addon.id, 'addon.shared', { organization });
  return listShares(ctx, caller, addon.id);
}

/** Stops sharing; refused while apps of that organization still have it attached. */
export async function unshareAddon(
  ctx: BrokerContext,
  caller: ApiCaller,
  addonRef: string,
  organization: string,
): Promise<{ organizations: string[] }> {
  return ctx.db.transaction().execute(async (trx) => {
    // Locked as an attach locks it: an attach through this share either committed before
    // (and is found below) or waits and then finds the share gone.
    const addon = await findAddon(trx, caller, addonRef, true);
    const orgId = await findOrganizationIdBySlug(trx, organization);
    const shared = orgId ? await isAddonSharedWith(trx, addon.id, orgId, true) : false;
    if (!orgId || !shared) throw new ApiFailure('not_found', `${addon.name} is not shared with "${organization}"`);
    if (await attachedByOrganization(trx, addon.id, orgId)) {
      // Not which app: the owner sees another organization's apps only as that organization.
      throw new ApiFailure(
        'conflict',
        `an app of ${organization} still has ${addon.name} attached; ${organization} must detach it first`,
      );
    }
    await deleteAddonShare(trx, addon.id, orgId);
    return listShares(ctx, caller, addon.id, trx);
  });
}

export async function listShares(
  ctx: BrokerContext,
  caller: ApiCaller,
  addonRef: string,
  db: Executor = ctx.db,
): Promise<{ organizations: string[] }> {
  const addon = await findAddon(db, caller, addonRef);
  return { organizations: await listShareOrganizationSlugs(db, addon.id) };
}

export type { AttachmentRow };

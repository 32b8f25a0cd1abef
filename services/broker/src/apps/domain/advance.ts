import { closeInterval, openInterval, splitInterval } from '../../billing/index.js';
import {
  bindInstance,
  deprovisionInstance,
  findBinding,
  findInstance,
  findOperation,
  provisionInstance,
  storedParameters,
  unbindInstance,
} from '../../osb/index.js';
import { findPlanById, type PlanContext } from '../../shared/db/catalog.js';
import type { Executor } from '../../shared/db/executor.js';
import type { BrokerContext, Caller } from '../../shared/domain/context.js';
import { BrokerFailure } from '../../shared/domain/errors.js';
import {
  appName,
  findAddonById,
  findAttachmentById,
  liveAttachmentsOfAddon,
  lockAttachmentBindings,
  lockAttachmentState,
  moveAddonState,
  platformIdBySlug,
  serviceVarDeclarations,
  updateAddon,
  updateAttachment,
  varsOwnedBy,
} from '../db/addon-states.js';
import {
  insertRetirement,
  listDueRetirements,
  revokeRetirement,
  revokeRetirementsOf,
  waitingRetirementsOf,
} from '../db/binding-retirements.js';
import { appReleaseVersion } from '../db/releases.js';
import type { AddonRow, AttachmentRow } from '../db/store.js';
import { credentialsToVars, varLayout } from './naming.js';
import { organizationSlug } from './plans.js';
import { type AppEvent, applyConfigChange, type ReleaseActor, recordEvent, recordEvents } from './releases.js';

// The apps layer's state machine. Each step reads what the broker's OSB machinery has
// recorded and moves an add-on or attachment one step on; every step is safe to repeat,
// so the request that starts a change, the reconciler and a replica taking over after a
// crash can all run it.

const APPS_PLATFORM_SLUG = 'annex-apps';
const appsPlatformIds = new WeakMap<BrokerContext, Promise<string>>();

/** The id of the built-in platform that owns add-on instances and bindings. */
export function appsPlatform(ctx: BrokerContext): Promise<string> {
  let id = appsPlatformIds.get(ctx);
  if (!id) {
    id = platformIdBySlug(ctx.db, APPS_PLATFORM_SLUG);
    id.catch(() => appsPlatformIds.delete(ctx));
    appsPlatformIds.set(ctx, id);
  }
  return id;
}

export async function appsCallerFor(ctx: BrokerContext, organizationId: string, actor?: ReleaseActor): Promise<Caller> {
  return appsCaller(ctx, await organizationSlug(ctx.db, organizationId), actor);
}

/** The apps platform acting for the organization `organizationSlug` (on behalf of `actor`). */
export async function appsCaller(ctx: BrokerContext, organizationSlug: string, actor?: ReleaseActor): Promise<Caller> {
  const value = { user_id: actor?.id ?? 'annex', actor_kind: actor?.kind ?? 'annex' };
  return {
    platformId: await appsPlatform(ctx),
    tokenId: null,
    organizations: [organizationSlug],
    originatingIdentity: {
      platform: 'annex',
      value,
      header: `annex ${Buffer.from(JSON.stringify(value)).toString('base64')}`,
    },
    requestIdentity: null,
  };
}

const SYSTEM: ReleaseActor = { kind: 'annex', id: null, name: 'annex' };

function failureMessage(error: unknown): string {
  return error instanceof BrokerFailure || error instanceof Error ? error.message : String(error);
}

/**
 * What the request that has just written an add-on's or attachment's rows holds already, so
 * that the steps it runs do not read it again. The reconciler holds nothing and reads it all.
 */
export interface Held {
  /** The add-on's plan, with its service and provider. */
  plan?: PlanContext;
  /** The apps platform acting for the add-on's organization. */
  caller?: Caller;
  /** The name of the app that owns the add-on. */
  appName?: string;
  /**
   * The add-on as it stands; the add-on's step records it here when it moves the add-on on,
   * for the attachment's step that follows.
   */
  addon?: AddonRow;
  /** The rows were inserted by this request: no instance or binding exists under their ids yet. */
  inserted?: boolean;
}

async function osbIds(ctx: BrokerContext, planId: string, held: Held = {}) {
  const plan = held.plan?.plan.id === planId ? held.plan : await findPlanById(ctx.db, planId);
  if (!plan) throw new Error(`plan ${planId} no longer exists`);
  return { plan, serviceId: plan.service.osb_id, planId: plan.plan.osb_id };
}

function callerFor(ctx: BrokerContext, addon: AddonRow, held: Held): Promise<Caller> {
  return held.caller ? Promise.resolve(held.caller) : appsCallerFor(ctx, addon.organization_id);
}

/** Whether the add-on still waits on something (a provider's async operation, attachments). */
export type Progress = 'done' | 'waiting';

/**
 * Moves an add-on one step on. Given the row (the request that has just written it and holds
 * its lease), it is not read again.
 */
export async function advanceAddon(ctx: BrokerContext, ref: string | AddonRow, held: Held = {}): Promise<Progress> {
  const addon = typeof ref === 'string' ? await findAddonById(ctx.db, ref) : ref;
  if (!addon) return 'done';
  switch (addon.state) {
    case 'provisioning':
      return advanceProvisioning(ctx, addon, held);
    case 'changing_plan':
      return advancePlanChange(ctx, addon);
    case 'destroying':
      return advanceDestroy(ctx, addon);
    default:
      return 'done';
  }
}

async function advanceProvisioning(ctx: BrokerContext, addon: AddonRow, held: Held): Promise<Progress> {
  const instance = held.inserted ? undefined : await findInstance(ctx.db, addon.id);
  // Where the instance stands: read, or (after a provision started here) as the provision answered.
  let provisioned = instance?.state === 'provisioned' && instance.deleted_at === null;
  if (!instance) {
    const { serviceId, planId } = await osbIds(ctx, addon.plan_id, held);
    try {
      const name = held.appName ?? (await appName(ctx.db, addon.app_id));
      const answer = await provisionInstance(ctx, await callerFor(ctx, addon, held), {
        instanceId: addon.id,
        serviceId,
        planId,
        organizationGuid: addon.organization_id,
        spaceGuid: addon.app_id,
        context: {
          platform: 'annex',
          organization_guid: addon.organization_id,
          space_guid: addon.app_id,
          app_name: name,
          instance_name: addon.name,
        },
        parameters: storedParameters(ctx.secretBox, addon),
        maintenanceInfo: undefined,
        acceptsIncomplete: true,
      });
      // A failed provision is thrown as a refusal; an answer is either done or in progress.
      if (answer.kind === 'accepted') {
        held.addon = addon;
        return 'waiting';
      }
      provisioned = true;
    } catch (error) {
      // A refusal is final; anything else (a lost connection) is retried by the reconciler.
      if (!(error instanceof BrokerFailure)) throw error;
      await failAddon(ctx, addon, failureMessage(error), held);
      return 'done';
    }
  }
  if (provisioned) {
    // The add-on's usage interval opens with the state change, in one transaction.
    const moved = await ctx.db.transaction().execute(async (trx) => {
      if (!(await moveAddonState(trx, addon.id, 'provisioning', { state: 'provisioned', last_error: null }))) {
        return false;
      }
      await openInterval(trx, addon, addon.plan_id, new Date());
      await recordEvent(trx, addon.app_id, addon.id, 'addon.provisioned', { addon: addon.name });
      return true;
    });
    if (moved) held.addon = { ...addon, state: 'provisioned', last_error: null };
    return 'done';
  }
  if (!instance || instance.state === 'failed' || instance.deleted_at !== null) {
    const op = instance?.last_operation_id ? await findOperation(ctx.db, instance.last_operation_id) : undefined;
    await failAddon(ctx, addon, op?.description || 'the provider could not provision the add-on', held);
    return 'done';
  }
  return 'waiting';
}

async function failAddon(ctx: BrokerContext, addon: AddonRow, error: string, held: Held): Promise<void> {
  await updateAddon(ctx.db, addon.id, { state: 'failed', last_error: error });
  await recordEvent(ctx.db, addon.app_id, addon.id, 'addon.failed', { error });
  held.addon = { ...addon, state: 'failed', last_error: error };
}

async function advancePlanChange(ctx: BrokerContext, addon: AddonRow): Promise<Progress> {
  const instance = await findInstance(ctx.db, addon.id);
  if (!instance) return 'waiting';
  const op = instance.last_operation_id ? await findOperation(ctx.db, instance.last_operation_id) : undefined;
  if (op && op.kind === 'update' && (op.state === 'pending' || op.state === 'polling')) return 'waiting';
  const failed = op?.kind === 'update' && op.state === 'failed';
  // A changed plan splits the usage interval in the transaction that records the change.
  await ctx.db.transaction().execute(async (trx) => {
    const moved = await moveAddonState(trx, addon.id, 'changing_plan', {
      state: 'provisioned',
      plan_id: instance.plan_id,
      last_error: failed ? op?.description || 'the provider refused the plan change' : null,
    });
    if (!moved) return;
    if (instance.plan_id !== addon.plan_id) await splitInterval(trx, addon, instance.plan_id, new Date());
    await recordEvent(trx, addon.app_id, addon.id, failed ? 'addon.failed' : 'addon.plan_changed', {
      plan_id: instance.plan_id,
      ...(failed ? { error: op?.description ?? null } : {}),
    });
  });
  return 'done';
}

async function advanceDestroy(ctx: BrokerContext, addon: AddonRow): Promise<Progress> {
  const attachments = await liveAttachmentsOfAddon(ctx.db, addon.id);
  let waiting = false;
  for (const attachment of attachments) {
    if (attachment.state !== 'detaching') await updateAttachment(ctx.db, attachment.id, { state: 'detaching' });
    if ((await advanceAttachment(ctx, attachment.id)) === 'waiting') waiting = true;
  }
  if (waiting) return 'waiting';
  const instance = await findInstance(ctx.db, addon.id);
  if (instance && instance.deleted_at === null) {
    const { serviceId, planId } = await osbIds(ctx, instance.plan_id);
    try {
      await deprovisionInstance(ctx, await appsCallerFor(ctx, addon.organization_id), {
        instanceId: addon.id,
        serviceId,
        planId,
        acceptsIncomplete: true,
      });
    } catch (error) {
      if (!(error instanceof BrokerFailure && error.code === 'Gone')) {
        await updateAddon(ctx.db, addon.id, { last_error: failureMessage(error) });
        return 'waiting';
      }
    }
    const after = await findInstance(ctx.db, addon.id);
    if (after && after.deleted_at === null) {
      const op = after.last_operation_id ? await findOperation(ctx.db, after.last_operation_id) : undefined;
      if (op?.kind === 'deprovision' && op.state === 'failed') {
        await updateAddon(ctx.db, addon.id, { last_error: op.description || 'the provider refused to deprovision' });
      }
      return 'waiting';
    }
  }
  // Billing stops in the same transaction as the state change to destroyed.
  await ctx.db.transaction().execute(async (trx) => {
    const at = new Date();
    const moved = await moveAddonState(trx, addon.id, 'destroying', {
      state: 'destroyed',
      destroyed_at: at,
      last_error: null,
    });
    if (!moved) return;
    await closeInterval(trx, addon.id, at);
    await recordEvent(trx, addon.app_id, addon.id, 'addon.destroyed', { addon: addon.name });
  });
  return 'done';
}

/**
 * Moves an attachment one step on. Given the row (the request that has just written it and
 * holds its lease), it is not read again.
 */
export async function advanceAttachment(
  ctx: BrokerContext,
  ref: string | AttachmentRow,
  held: Held = {},
): Promise<Progress> {
  const attachment = typeof ref === 'string' ? await findAttachmentById(ctx.db, ref) : ref;
  if (!attachment || attachment.detached_at) return 'done';
  switch (attachment.state) {
    case 'attaching':
      return advanceAttaching(ctx, attachment, held);
    case 'rotating':
      return advanceRotation(ctx, attachment);
    case 'detaching':
      return advanceDetaching(ctx, attachment);
    default:
      return 'done';
  }
}

async function loadAddon(ctx: BrokerContext, id: string): Promise<AddonRow> {
  const addon = await findAddonById(ctx.db, id);
  if (!addon) throw new Error(`add-on ${id} no longer exists`);
  return addon;
}

/**
 * Binds (unless the binding exists) and reports where the binding stands: its credentials when
 * bound, an error when it failed, or `waiting`. A bind made here that finishes at once runs
 * `withBound` in the transaction that records it (see `bindInstance`).
 */
async function ensureBinding(
  ctx: BrokerContext,
  addon: AddonRow,
  attachment: AttachmentRow,
  bindingId: string,
  predecessorBindingId: string | undefined,
  held: Held = {},
  withBound?: (trx: Executor, credentials: Record<string, unknown>) => Promise<void>,
): Promise<{ credentials: Record<string, unknown> } | { error: string } | 'waiting'> {
  let binding = held.inserted ? undefined : await findBinding(ctx.db, bindingId);
  if (!binding) {
    const { serviceId, planId } = await osbIds(ctx, addon.plan_id, held);
    let outcome: Awaited<ReturnType<typeof bindInstance>>;
    try {
      outcome = await bindInstance(ctx, await callerFor(ctx, addon, held), {
        instanceId: addon.id,
        bindingId,
        serviceId,
        planId,
        appGuid: attachment.app_id,
        bindResource: { app_guid: attachment.app_id },
        parameters: {},
        context: { platform: 'annex', organization_guid: addon.organization_id, space_guid: attachment.app_id },
        predecessorBindingId,
        acceptsIncomplete: true,
        ...(withBound
          ? { withBound: (trx, answer) => withBound(trx, answer.credentials as Record<string, unknown>) }
          : {}),
      });
    } catch (error) {
      if (!(error instanceof BrokerFailure)) throw error;
      return { error: failureMessage(error) };
    }
    // A finished bind answers with the credentials it has just stored: no need to read them back.
    if (outcome.kind !== 'accepted') {
      return { credentials: (outcome.body.credentials ?? {}) as Record<string, unknown> };
    }
    binding = await findBinding(ctx.db, bindingId);
  }
  if (!binding) return 'waiting';
  if (binding.state === 'bound' && binding.deleted_at === null) {
    const credentials = binding.credentials_sealed
      ? (JSON.parse(ctx.secretBox.open(binding.credentials_sealed)) as Record<string, unknown>)
      : {};
    return { credentials };
  }
  if (binding.state === 'failed' || binding.deleted_at !== null) {
    const op = binding.last_operation_id ? await findOperation(ctx.db, binding.last_operation_id) : undefined;
    return { error: op?.description || 'the provider could not bind' };
  }
  return 'waiting';
}

/** The add-on's var layout: how credentials become vars. */
async function layoutOf(ctx: BrokerContext, addon: AddonRow, held: Held) {
  const service =
    held.plan?.service.id === addon.service_id
      ? held.plan.service
      : await serviceVarDeclarations(ctx.db, addon.service_id);
  return varLayout(service.slug, service.config_vars);
}

async function varsFor(ctx: BrokerContext, addon: AddonRow, name: string, credentials: Record<string, unknown>) {
  return credentialsToVars(await layoutOf(ctx, addon, {}), name, credentials);
}

type AttachOutcome = 'attached' | 'moved' | { collision: string } | { missing: string[] };

/** An attachment's var already set and not its own, found before anything was written. */
class VarTaken extends Error {
  constructor(readonly varName: string) {
    super(`config var ${varName} is already set`);
  }
}

/**
 * The attachment's vars from the binding's credentials, written as a release, and the
 * attachment attached, in `trx`; nothing written when the attachment has moved on, a var is
 * taken (without `replace`) or the credentials hold none of the vars.
 */
async function attachVars(
  ctx: BrokerContext,
  trx: Executor,
  attachment: AttachmentRow,
  addon: AddonRow,
  layout: ReturnType<typeof varLayout>,
  credentials: Record<string, unknown>,
): Promise<AttachOutcome> {
  const { vars, missing } = credentialsToVars(layout, attachment.name, credentials);
  if (Object.keys(vars).length === 0) return { missing };
  const current = await lockAttachmentState(trx, attachment.id);
  if (!current || current.state !== 'attaching' || current.detached_at) return 'moved';
  const attached: AppEvent = {
    appId: attachment.app_id,
    addonId: addon.id,
    kind: 'attachment.attached',
    detail: { attachment: attachment.name, vars: Object.keys(vars) },
  };
  let release: Awaited<ReturnType<typeof applyConfigChange>>;
  try {
    release = await applyConfigChange(ctx, trx, {
      appId: attachment.app_id,
      changes: Object.entries(vars).map(([name, value]) => ({ name, value, attachmentId: attachment.id })),
      actor: SYSTEM,
      reason: `Attach ${addon.name} as ${attachment.name}`,
      events: [attached],
      // A var set by the user or another attachment is taken over only with `replace`.
      check: (before) => {
        if (attachment.replace_vars) return;
        const taken = Object.keys(vars).find((name) => {
          const owner = before.get(name);
          return owner !== undefined && owner.attachmentId !== attachment.id;
        });
        if (taken !== undefined) throw new VarTaken(taken);
      },
    });
  } catch (error) {
    if (error instanceof VarTaken) return { collision: error.varName };
    throw error;
  }
  await updateAttachment(trx, attachment.id, { state: 'attached', last_error: null });
  if (!release) await recordEvents(trx, [attached]);
  return 'attached';
}

async function advanceAttaching(ctx: BrokerContext, attachment: AttachmentRow, held: Held): Promise<Progress> {
  const addon = held.addon?.id === attachment.addon_id ? held.addon : await loadAddon(ctx, attachment.addon_id);
  if (addon.state === 'provisioning') return 'waiting';
  if (addon.state !== 'provisioned' && addon.state !== 'changing_plan') {
    await failAttachment(
      ctx,
      attachment,
      `the add-on is ${addon.state}${addon.last_error ? `: ${addon.last_error}` : ''}`,
    );
    return 'done';
  }
  const layout = await layoutOf(ctx, addon, held);
  // A bind that finishes at once writes the vars in the transaction recording its success.
  let outcome: AttachOutcome | undefined;
  const bound = await ensureBinding(
    ctx,
    addon,
    attachment,
    attachment.binding_id,
    undefined,
    held,
    async (trx, credentials) => {
      outcome = await attachVars(ctx, trx, attachment, addon, layout, credentials);
    },
  );
  if (bound === 'waiting') return 'waiting';
  if ('error' in bound) {
    await failAttachment(ctx, attachment, bound.error);
    return 'done';
  }
  outcome ??= await ctx.db
    .transaction()
    .execute((trx) => attachVars(ctx, trx, attachment, addon, layout, bound.credentials));
  if (typeof outcome === 'object') {
    const error =
      'missing' in outcome
        ? `the provider's credentials hold none of the vars (${outcome.missing.join(', ')})`
        : `config var ${outcome.collision} is already set and not owned by this attachment`;
    await failAttachment(ctx, attachment, error);
    await unbindQuietly(ctx, addon, attachment.binding_id);
  }
  return 'done';
}

async function failAttachment(ctx: BrokerContext, attachment: AttachmentRow, error: string): Promise<void> {
  await updateAttachment(ctx.db, attachment.id, { state: 'failed', last_error: error, detached_at: new Date() });
  await recordEvent(ctx.db, attachment.app_id, attachment.addon_id, 'attachment.failed', {
    attachment: attachment.name,
    error,
  });
}

/** Unbinds a binding nobody will use; the broker's own operation retries and mitigates. */
async function unbindQuietly(ctx: BrokerContext, addon: AddonRow, bindingId: string): Promise<void> {
  const binding = await findBinding(ctx.db, bindingId);
  if (!binding || binding.deleted_at !== null || binding.state === 'failed') return;
  try {
    await unbindAt(ctx, addon, bindingId);
  } catch (error) {
    ctx.logger.warn({ err: error, bindingId }, 'could not unbind an unused binding');
  }
}

/** Unbinds one of the add-on's bindings through the broker's durable operation. */
async function unbindAt(ctx: BrokerContext, addon: AddonRow, bindingId: string): Promise<void> {
  const { serviceId, planId } = await osbIds(ctx, addon.plan_id);
  await unbindInstance(ctx, await appsCallerFor(ctx, addon.organization_id), {
    instanceId: addon.id,
    bindingId,
    serviceId,
    planId,
    acceptsIncomplete: true,
  });
}

async function advanceDetaching(ctx: BrokerContext, attachment: AttachmentRow): Promise<Progress> {
  const addon = await loadAddon(ctx, attachment.addon_id);
  await ctx.db.transaction().execute(async (trx) => {
    const owned = await varsOwnedBy(trx, attachment.app_id, attachment.id);
    if (owned.length === 0) return;
    await applyConfigChange(ctx, trx, {
      appId: attachment.app_id,
      changes: owned.map((v) => ({ name: v.name, value: null, attachmentId: null })),
      actor: SYSTEM,
      reason: `Detach ${addon.name} (${attachment.name})`,
    });
  });
  // The current binding, one a rotation is making, and old ones still in their grace period.
  const retired = await waitingRetirementsOf(ctx.db, attachment.id);
  const pending: string[] = [attachment.binding_id, ...retired.map((r) => r.binding_id)];
  if (attachment.rotating_binding_id) pending.push(attachment.rotating_binding_id);
  let waiting = false;
  for (const bindingId of pending) {
    const binding = await findBinding(ctx.db, bindingId);
    if (!binding || binding.deleted_at !== null || binding.state === 'failed') continue;
    if (binding.state === 'bound') {
      try {
        await unbindAt(ctx, addon, bindingId);
      } catch (error) {
        if (!(error instanceof BrokerFailure && error.code === 'Gone')) {
          await updateAttachment(ctx.db, attachment.id, { last_error: failureMessage(error) });
          waiting = true;
          continue;
        }
      }
    }
    const after = await findBinding(ctx.db, bindingId);
    if (after && after.deleted_at === null && after.state !== 'failed') waiting = true;
  }
  if (waiting) return 'waiting';
  if (retired.length > 0) {
    await revokeRetirementsOf(ctx.db, attachment.id);
  }
  await updateAttachment(ctx.db, attachment.id, {
    state: 'detached',
    detached_at: new Date(),
    rotating_binding_id: null,
  });
  await recordEvent(ctx.db, attachment.app_id, addon.id, 'attachment.detached', { attachment: attachment.name });
  return 'done';
}

async function advanceRotation(ctx: BrokerContext, attachment: AttachmentRow): Promise<Progress> {
  const addon = await loadAddon(ctx, attachment.addon_id);
  const newBinding = attachment.rotating_binding_id;
  if (!newBinding) {
    await updateAttachment(ctx.db, attachment.id, { state: 'attached' });
    return 'done';
  }
  const plan = await findPlanById(ctx.db, addon.plan_id);
  const predecessor = plan?.plan.binding_rotatable ? attachment.binding_id : undefined;
  const bound = await ensureBinding(ctx, addon, attachment, newBinding, predecessor);
  if (bound === 'waiting') return 'waiting';
  if ('error' in bound) {
    // The old credentials stay in place: a failed rotation changes nothing the app uses.
    await updateAttachment(ctx.db, attachment.id, {
      state: 'attached',
      rotating_binding_id: null,
      last_error: `rotation failed: ${bound.error}`,
    });
    await recordEvent(ctx.db, attachment.app_id, addon.id, 'attachment.failed', {
      attachment: attachment.name,
      error: `rotation failed: ${bound.error}`,
    });
    return 'done';
  }
  const { vars } = await varsFor(ctx, addon, attachment.name, bound.credentials);
  const grace = attachment.rotation_grace_seconds ?? ctx.settings.rotationGraceSeconds ?? 3600;
  await ctx.db.transaction().execute(async (trx) => {
    const current = await lockAttachmentBindings(trx, attachment.id);
    if (!current || current.state !== 'rotating' || current.rotating_binding_id !== newBinding) return;
    const owned = await varsOwnedBy(trx, attachment.app_id, attachment.id);
    const changes = [
      ...Object.entries(vars).map(([name, value]) => ({
        name,
        value: value as string | null,
        attachmentId: attachment.id,
      })),
      ...owned.filter((v) => !(v.name in vars)).map((v) => ({ name: v.name, value: null, attachmentId: null })),
    ];
    const release = await applyConfigChange(ctx, trx, {
      appId: attachment.app_id,
      changes,
      actor: SYSTEM,
      reason: `Rotate credentials of ${addon.name} (${attachment.name})`,
    });
    const version = release?.version ?? (await appReleaseVersion(trx, attachment.app_id));
    await insertRetirement(trx, {
      binding_id: current.binding_id,
      attachment_id: attachment.id,
      app_id: attachment.app_id,
      release_version: version,
      revoke_after: new Date(Date.now() + grace * 1000),
    });
    await updateAttachment(trx, attachment.id, {
      state: 'attached',
      binding_id: newBinding,
      rotating_binding_id: null,
      last_error: null,
    });
    await recordEvent(trx, attachment.app_id, addon.id, 'attachment.rotated', {
      attachment: attachment.name,
      release: version,
      revokeOldAfter: new Date(Date.now() + grace * 1000).toISOString(),
    });
  });
  return 'done';
}

/**
 * Revokes old bindings whose grace period is over or whose app has confirmed running with the
 * release that replaced them. Returns how many it revoked.
 */
export async function revokeRetiredBindings(ctx: BrokerContext, limit = 20): Promise<number> {
  const due = await listDueRetirements(ctx.db, limit);
  let revoked = 0;
  for (const retirement of due) {
    // Unbinding is idempotent in the broker (a second replica gets the same operation or a
    // concurrency refusal), so two replicas revoking at once do no harm.
    const addon = await loadAddon(ctx, retirement.addon_id);
    await unbindQuietly(ctx, addon, retirement.binding_id);
    await revokeRetirement(ctx.db, retirement.binding_id);
    await recordEvent(ctx.db, retirement.app_id, addon.id, 'binding.revoked', { release: retirement.release_version });
    revoked++;
  }
  return revoked;
}

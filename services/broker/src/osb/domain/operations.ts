import { randomUUID } from 'node:crypto';
import { retryDelayMs } from '@annex/platform';
import {
  asyncResponse,
  bindResponse,
  errorResponse,
  lastOperationResponse,
  osbObject,
  provisionResponse,
  responseProblem,
  updateResponse,
} from '@annex/sdk';
import type { ZodType, z } from 'zod';
import { findPlanPollingLimit, findProviderById, type ProviderRow } from '../../shared/db/catalog.js';
import type { Executor } from '../../shared/db/executor.js';
import { type Actor, recordAudit } from '../../shared/domain/audit.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import { BrokerFailure } from '../../shared/domain/errors.js';
import { unbindAllOfInstance, type updateBinding, updateBindingInState } from '../db/bindings.js';
import { findAddonName, updateInstanceInState } from '../db/instances.js';
import {
  activeOperations,
  findOperation,
  insertOperation,
  type OperationRow,
  rescheduleOperation,
  transitionOperation,
} from '../db/operations.js';
import { completeProvisioning } from '../db/provisioning.js';
import { openRequest, sealParameters, sealRequest } from './parameters.js';
import type { ProviderRequest, ProviderResponse } from './provider-client.js';

/** What the provider is asked, stored in `broker_operations.request`. */
export interface OperationRequest {
  provider_instance_id: string;
  provider_binding_id?: string;
  service_osb_id: string;
  plan_osb_id: string;
  /** Body of the PUT/PATCH to the provider. */
  body?: Record<string, unknown>;
  /** Update: what the instance becomes on success. */
  apply?: {
    plan_id: string;
    parameters: Record<string, unknown>;
    context: Record<string, unknown>;
    maintenance_info: Record<string, unknown> | null;
  };
  /** Deprovision/unbind: the state to return to when it fails. */
  previous_state?: string;
  /** As stored: `body.parameters` and `apply.parameters`, sealed (see `sealRequest`); `{}` in their place. */
  sealed_parameters?: string;
}

const INSTANCE_KINDS = new Set(['provision', 'update', 'deprovision', 'orphan_deprovision']);
const DELETE_KINDS = new Set(['deprovision', 'unbind', 'orphan_deprovision', 'orphan_unbind']);
const ORPHAN_KINDS = new Set(['orphan_deprovision', 'orphan_unbind']);

/** The request as stored, its parameters still sealed: what identifies the resource and the plan. */
export function requestOf(op: OperationRow): OperationRequest {
  return op.request as unknown as OperationRequest;
}

export function actorOfOperation(op: OperationRow): Actor {
  return {
    kind: 'platform',
    platformId: op.platform_id,
    tokenId: op.token_id,
    originatingIdentity: op.originating_identity
      ? { platform: op.originating_identity.platform, value: op.originating_identity.value }
      : null,
  };
}

/**
 * Work that belongs with an operation's success, given the provider's answer: run in the
 * transaction that records the success, after it (not for a provision, whose success is one
 * statement of its own). If it throws, the success is not recorded: the operation stays
 * leased and is retried, so work that may fail goes behind a savepoint.
 */
export type WithSucceeded = (trx: Executor, body: Record<string, unknown>) => Promise<void>;

/** A lease holder name unique to one execution in this process. */
export function leaseOwner(ctx: BrokerContext): string {
  return `${ctx.replicaId}:${randomUUID()}`;
}

/** Inserts an operation leased by `owner` (the request that will execute it now). */
export async function createOperation(
  db: Executor,
  ctx: BrokerContext,
  values: {
    kind: OperationRow['kind'];
    instanceId: string;
    bindingId?: string | null;
    providerId: string;
    request: OperationRequest;
    acceptsIncomplete: boolean;
    actor: Actor;
    originatingIdentityHeader?: string | null;
    owner: string | null;
    id?: string;
  },
): Promise<OperationRow> {
  return insertOperation(
    db,
    {
      ...(values.id ? { id: values.id } : {}),
      kind: values.kind,
      instance_id: values.instanceId,
      binding_id: values.bindingId ?? null,
      provider_id: values.providerId,
      state: 'pending',
      request: JSON.stringify(sealRequest(ctx.secretBox, values.request)),
      accepts_incomplete: values.acceptsIncomplete,
      platform_id: values.actor.platformId,
      token_id: values.actor.tokenId,
      originating_identity: values.actor.originatingIdentity
        ? JSON.stringify({ ...values.actor.originatingIdentity, header: values.originatingIdentityHeader ?? null })
        : null,
    },
    values.owner ? { owner: values.owner, ms: ctx.settings.leaseMs } : undefined,
  );
}

/** A failed provider call is retried on the platform's one policy: from 250 ms, at most 15 s apart. */
function backoffMs(attempts: number): number {
  return retryDelayMs(attempts, { baseMs: 250, maxMs: 15_000 });
}

function instancePath(request: OperationRequest): string {
  return `/v2/service_instances/${encodeURIComponent(request.provider_instance_id)}`;
}

function bindingPath(request: OperationRequest): string {
  return `${instancePath(request)}/service_bindings/${encodeURIComponent(request.provider_binding_id ?? '')}`;
}

function firstCall(ctx: BrokerContext, op: OperationRow, acceptsIncomplete: boolean): ProviderRequest {
  const header = (op.originating_identity?.header as string | null | undefined) ?? null;
  return firstCallOf(op.kind, op.id, openRequest(ctx.secretBox, requestOf(op)), header, acceptsIncomplete);
}

function firstCallOf(
  kind: OperationRow['kind'],
  operationId: string,
  request: OperationRequest,
  header: string | null,
  acceptsIncomplete: boolean,
): ProviderRequest {
  const common = {
    requestIdentity: operationId,
    originatingIdentity: ORPHAN_KINDS.has(kind) ? null : header,
  };
  const query = { accepts_incomplete: acceptsIncomplete ? 'true' : undefined };
  const deleteQuery = { ...query, service_id: request.service_osb_id, plan_id: request.plan_osb_id };
  switch (kind) {
    case 'provision':
      return { ...common, method: 'PUT', path: instancePath(request), query, body: request.body };
    case 'update':
      return { ...common, method: 'PATCH', path: instancePath(request), query, body: request.body };
    case 'deprovision':
    case 'orphan_deprovision':
      return { ...common, method: 'DELETE', path: instancePath(request), query: deleteQuery };
    case 'bind':
      return { ...common, method: 'PUT', path: bindingPath(request), query, body: request.body };
    case 'unbind':
    case 'orphan_unbind':
      return { ...common, method: 'DELETE', path: bindingPath(request), query: deleteQuery };
  }
}

function pollCall(op: OperationRow): ProviderRequest {
  const request = requestOf(op);
  const path = INSTANCE_KINDS.has(op.kind) ? instancePath(request) : bindingPath(request);
  return {
    method: 'GET',
    path: `${path}/last_operation`,
    query: {
      service_id: request.service_osb_id,
      plan_id: request.plan_osb_id,
      operation: op.provider_operation ?? undefined,
    },
    requestIdentity: op.id,
  };
}

type Outcome =
  | { kind: 'done'; body: Record<string, unknown> }
  | {
      kind: 'async';
      operation: string | null;
      retryAfterSeconds: number | undefined;
      /** What the 202 said of the instance besides its operation (`dashboard_url`, `metadata`). */
      details?: Record<string, unknown>;
    }
  | { kind: 'rejected'; status: number; error: string | undefined; description: string }
  /** Failure that needs orphan mitigation (5xx, timeout, malformed 201, odd 2xx, async failure). */
  | { kind: 'broken'; description: string }
  /** Failure without orphan mitigation (408, malformed 200), per the spec's table. */
  | { kind: 'failed'; description: string }
  | { kind: 'retry'; description: string; retryAfterSeconds?: number };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeAnswer(response: ProviderResponse): string {
  if (response.kind !== 'answer') return response.message;
  const body = isObject(response.body) ? response.body : {};
  const detail = typeof body.description === 'string' ? `: ${body.description}` : '';
  return `provider answered ${response.status}${response.malformed ? ' with a malformed body' : ''}${detail}`;
}

/** Classifies the answer to the first call, as the spec's orphan-mitigation table does. */
function classifyFirst(op: OperationRow, response: ProviderResponse): Outcome {
  return classifyFirstOf(op.kind, response);
}

/**
 * What a provider's answer to a synchronous provision's call says, before any operation
 * row exists: its body when the instance was created (or already was, identically), the
 * provider's ConcurrencyError when it is busy with that very id, otherwise undefined.
 */
export function earlyProvisionAnswer(
  response: ProviderResponse,
): { kind: 'created'; body: Record<string, unknown> } | { kind: 'busy' } | undefined {
  const outcome = classifyFirstOf('provision', response);
  if (outcome.kind === 'done') return { kind: 'created', body: outcome.body };
  if (outcome.kind === 'rejected' && outcome.status === 422 && outcome.error === 'ConcurrencyError') {
    return { kind: 'busy' };
  }
  return undefined;
}

/** The OSB 2.17 body a provider answers a first call with, by the operation's kind (from @annex/sdk). */
const DONE_BODIES: Record<OperationRow['kind'], ZodType> = {
  provision: provisionResponse,
  update: updateResponse,
  bind: bindResponse,
  deprovision: osbObject,
  unbind: osbObject,
  orphan_deprovision: osbObject,
  orphan_unbind: osbObject,
};

function classifyFirstOf(kind: OperationRow['kind'], response: ProviderResponse): Outcome {
  // Never sent: nothing to mitigate, and retrying cannot help until the URL is changed.
  if (response.kind === 'refused') return { kind: 'failed', description: response.message };
  if (response.kind !== 'answer') return { kind: 'broken', description: response.message };
  const { status, body } = response;
  const deleting = DELETE_KINDS.has(kind);
  if (deleting && status === 410) return { kind: 'done', body: {} };
  if (status === 200 || (status === 201 && !deleting)) {
    const problem = response.malformed ? 'not JSON' : responseProblem(DONE_BODIES[kind], withoutNulls(body));
    if (problem !== undefined) {
      // The spec's table: a malformed 200 is a failure, a malformed 201 is mitigated.
      return { kind: status === 200 ? 'failed' : 'broken', description: malformedAnswer(response, problem) };
    }
    return { kind: 'done', body: body as Record<string, unknown> };
  }
  if (status === 202) {
    const accepted = response.malformed ? undefined : asyncResponse.safeParse(withoutNulls(body ?? {}));
    if (!accepted?.success) {
      const problem = accepted ? responseProblem(asyncResponse, withoutNulls(body ?? {})) : 'not JSON';
      return { kind: 'broken', description: malformedAnswer(response, problem ?? 'malformed') };
    }
    const details = kind === 'provision' || kind === 'update' ? instanceDetails(accepted.data) : undefined;
    return {
      kind: 'async',
      operation: accepted.data.operation ?? null,
      retryAfterSeconds: response.retryAfterSeconds,
      ...(details ? { details } : {}),
    };
  }
  if (status === 408) return { kind: 'failed', description: describeAnswer(response) };
  if (status >= 400 && status < 500) {
    const error = errorCodeOf(body);
    if (deleting && status === 422 && error === 'ConcurrencyError') {
      return { kind: 'retry', description: 'provider is busy with this resource (ConcurrencyError)' };
    }
    return { kind: 'rejected', status, error, description: describeAnswer(response) };
  }
  return { kind: 'broken', description: describeAnswer(response) };
}

/**
 * The body with its top-level `null` fields left out: brokers in the wild answer
 * `"dashboard_url": null` for a field the spec makes optional, and mean "none".
 */
function withoutNulls(body: unknown): unknown {
  if (!isObject(body)) return body;
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null));
}

/** An OSB error body's `error` code, when the body is one. */
function errorCodeOf(body: unknown): string | undefined {
  const parsed = errorResponse.safeParse(withoutNulls(body));
  return parsed.success ? parsed.data.error : undefined;
}

function malformedAnswer(response: ProviderResponse & { kind: 'answer' }, problem: string): string {
  return `provider answered ${response.status} with a malformed body (${problem})`;
}

/** The instance fields OSB lets a provision's or update's 202 carry: `dashboard_url`, `metadata`. */
function instanceDetails(accepted: z.infer<typeof asyncResponse>): Record<string, unknown> | undefined {
  const details: Record<string, unknown> = {};
  if (accepted.dashboard_url !== undefined) details.dashboard_url = accepted.dashboard_url;
  if (accepted.metadata !== undefined) details.metadata = accepted.metadata;
  return Object.keys(details).length > 0 ? details : undefined;
}

/**
 * What the provider's 202 said of an operation still running (see `instanceDetails`): a
 * polling operation keeps it in `result` until its terminal state replaces it.
 */
function acceptedDetails(op: OperationRow): Record<string, unknown> | undefined {
  return op.state === 'polling' && isObject(op.result) ? op.result : undefined;
}

function classifyPoll(op: OperationRow, response: ProviderResponse): Outcome {
  // A poll follows a 202: the provider may hold the resource already, so a refused poll is
  // retried like an unreachable provider, and past the polling deadline the operation is
  // broken and a create is mitigated, never failed with nothing cleaned up.
  if (response.kind !== 'answer') return { kind: 'retry', description: response.message };
  const { status, body } = response;
  if (status === 410 || status === 404) {
    // The provider no longer knows the resource (or the operation): a delete is done; a
    // create or update cannot finish, and a create is mitigated in case something remains.
    if (DELETE_KINDS.has(op.kind)) return { kind: 'done', body: {} };
    const description = `provider answered ${status} while polling: the resource or operation is unknown there`;
    return op.kind === 'update' ? { kind: 'failed', description } : { kind: 'broken', description };
  }
  const polled =
    status === 200 && !response.malformed ? lastOperationResponse.safeParse(withoutNulls(body)) : undefined;
  if (polled?.success) {
    const { state, description } = polled.data;
    // A last_operation answer carries no dashboard_url: the 202's holds until it says otherwise.
    if (state === 'succeeded') {
      return { kind: 'done', body: { ...acceptedDetails(op), ...(body as Record<string, unknown>) } };
    }
    if (state === 'failed') return { kind: 'broken', description: description ?? 'provider operation failed' };
    return {
      kind: 'retry',
      description: description ?? 'in progress',
      ...(response.retryAfterSeconds !== undefined ? { retryAfterSeconds: response.retryAfterSeconds } : {}),
    };
  }
  return { kind: 'retry', description: describeAnswer(response) };
}

/**
 * Executes one step of an operation the caller holds the lease of: the first provider
 * call when `pending`, one poll when `polling`. Every resulting change is one guarded
 * transaction, so a halted or retaken operation is never overwritten.
 */
export async function executeOperation(
  ctx: BrokerContext,
  op: OperationRow,
  owner: string,
  acceptsIncomplete = true,
  withSucceeded?: WithSucceeded,
): Promise<OperationRow | undefined> {
  const provider = await ctx.caches.providers.get(op.provider_id, () => findProviderById(ctx.db, op.provider_id));
  if (!provider) {
    return settle(ctx, op, owner, { kind: 'rejected', status: 500, error: undefined, description: 'provider removed' });
  }
  if (op.state === 'pending') {
    if (op.kind === 'deprovision' && !(await haltProvisioning(ctx, op, owner))) return undefined;
    const response = await ctx.providers.call(provider, firstCall(ctx, op, acceptsIncomplete));
    return settleFirstAnswer(ctx, op, owner, acceptsIncomplete, response, withSucceeded);
  } else if (op.state === 'polling') {
    const response = await ctx.providers.call(provider, pollCall(op));
    let outcome = classifyPoll(op, response);
    if (outcome.kind === 'done' && op.kind === 'bind') outcome = await fetchBindingResult(ctx, provider, op);
    await warnOfProviderFailure(ctx, op, response, outcome);
    return settle(ctx, op, owner, outcome);
  }
  return undefined;
}

/** Records what the provider answered to an operation's first call. */
async function settleFirstAnswer(
  ctx: BrokerContext,
  op: OperationRow,
  owner: string,
  acceptsIncomplete: boolean,
  response: ProviderResponse,
  withSucceeded?: WithSucceeded,
): Promise<OperationRow | undefined> {
  let outcome = classifyFirst(op, response);
  if (outcome.kind === 'async' && !acceptsIncomplete) {
    // The provider went async although it was told it may not: an unexpected 2xx.
    outcome = { kind: 'broken', description: 'provider answered 202 to a synchronous request' };
  }
  await warnOfProviderFailure(ctx, op, response, outcome);
  return settle(ctx, op, owner, outcome, withSucceeded);
}

/**
 * A provider call that went wrong, logged as a warning an operator can act on: which add-on
 * (or instance), provider and operation, and what happened. A poll still in progress, or a
 * provider busy with the resource, is not a failure.
 */
async function warnOfProviderFailure(
  ctx: BrokerContext,
  op: OperationRow,
  response: ProviderResponse,
  outcome: Outcome,
): Promise<void> {
  if (outcome.kind === 'done' || outcome.kind === 'async') return;
  if (outcome.kind === 'retry' && response.kind === 'answer') return;
  if (!ctx.logger.isLevelEnabled('warn')) return;
  const [provider, addon] = await Promise.all([
    ctx.caches.providers.get(op.provider_id, () => findProviderById(ctx.db, op.provider_id)),
    findAddonName(ctx.db, op.instance_id),
  ]);
  ctx.logger.warn(
    {
      addon: addon ?? null,
      instance: op.instance_id,
      binding: op.binding_id,
      provider: provider?.slug ?? op.provider_id,
      operation: op.id,
      kind: op.kind,
      outcome: outcome.kind,
      ...(response.kind === 'answer' ? { status: response.status } : {}),
      reason: outcome.description,
    },
    `provider call failed: ${outcome.description}`,
  );
}

/**
 * The provider request of a provision's first call, before its operation row exists:
 * what `executeOperation` would send for it. A synchronous provision sends it before it
 * writes anything (the fast path in `provisionInstance`; `runInRequest` takes its answer).
 */
export function firstProvisionCall(
  operationId: string,
  request: OperationRequest,
  originatingIdentityHeader: string | null,
): ProviderRequest {
  return firstCallOf('provision', operationId, request, originatingIdentityHeader, false);
}

// An async bind's credentials come from fetching the binding once it has succeeded.
async function fetchBindingResult(ctx: BrokerContext, provider: ProviderRow, op: OperationRow): Promise<Outcome> {
  const response = await ctx.providers.call(provider, {
    method: 'GET',
    path: bindingPath(requestOf(op)),
    query: { service_id: requestOf(op).service_osb_id, plan_id: requestOf(op).plan_osb_id },
    requestIdentity: op.id,
  });
  if (response.kind === 'answer' && response.status === 200 && isObject(response.body)) {
    return { kind: 'done', body: response.body };
  }
  return { kind: 'retry', description: `fetching the binding: ${describeAnswer(response)}` };
}

/**
 * A deprovision may run only once no provision of the instance is mid-call; a provision
 * still in progress is halted (marked failed) so it cannot complete afterwards.
 * Returns false when the deprovision must wait (it has been rescheduled).
 */
async function haltProvisioning(ctx: BrokerContext, op: OperationRow, owner: string): Promise<boolean> {
  const others = (await activeOperations(ctx.db, op.instance_id)).filter((o) => o.id !== op.id && !o.binding_id);
  const now = Date.now();
  if (others.some((o) => o.lease_expires_at && o.lease_expires_at.getTime() > now)) {
    await rescheduleOperation(ctx.db, op.id, owner, new Date(now + 500), {
      description: 'waiting for the provider call in flight to finish',
    });
    return false;
  }
  for (const other of others) {
    await ctx.db.transaction().execute(async (trx) => {
      const halted = await transitionOperation(trx, other.id, ['pending', 'polling'], {
        state: 'failed',
        description: 'halted: the instance was deleted while this operation was in progress',
        completed_at: new Date(),
        lease_owner: null,
        lease_expires_at: null,
      });
      if (halted) {
        await recordAudit(trx, actorOfOperation(op), {
          action: `${other.kind}.halted`,
          result: 'failed',
          instanceId: other.instance_id,
          operationId: other.id,
        });
      }
    });
  }
  return true;
}

async function settle(
  ctx: BrokerContext,
  op: OperationRow,
  owner: string,
  outcome: Outcome,
  withSucceeded?: WithSucceeded,
): Promise<OperationRow | undefined> {
  const now = new Date();
  const deadlinePassed = op.poll_deadline_at !== null && op.poll_deadline_at.getTime() <= now.getTime();
  if (outcome.kind === 'retry' || (outcome.kind === 'async' && op.state === 'polling')) {
    if (deadlinePassed && !ORPHAN_KINDS.has(op.kind)) {
      // The last answer stays in the reason: "refused: resolves to a private address" is not
      // a slow provider.
      const last = outcome.kind === 'retry' ? outcome.description : 'in progress';
      return settle(ctx, op, owner, {
        kind: 'broken',
        description: `gave up: the provider did not finish within maximum_polling_duration (last: ${last})`,
      });
    }
    const seconds = outcome.kind === 'retry' || outcome.kind === 'async' ? outcome.retryAfterSeconds : undefined;
    const delay = seconds !== undefined ? Math.min(3600, seconds) * 1000 : backoffMs(op.attempts + 1);
    await rescheduleOperation(ctx.db, op.id, owner, new Date(now.getTime() + delay), {
      description: outcome.kind === 'retry' ? outcome.description : 'in progress at the provider',
    });
    return undefined;
  }
  if (outcome.kind === 'async') {
    const maxSeconds = await maximumPollingSeconds(ctx, op);
    const delay = outcome.retryAfterSeconds !== undefined ? outcome.retryAfterSeconds * 1000 : backoffMs(1);
    await rescheduleOperation(ctx.db, op.id, owner, new Date(now.getTime() + delay), {
      state: 'polling',
      provider_operation: outcome.operation,
      poll_deadline_at: new Date(now.getTime() + maxSeconds * 1000),
      description: 'in progress at the provider',
      ...(outcome.details ? { result: JSON.stringify(outcome.details) } : {}),
    });
    return undefined;
  }
  if (outcome.kind === 'broken' && ORPHAN_KINDS.has(op.kind)) {
    // Orphan mitigation repeats until the provider confirms the resource is gone.
    await rescheduleOperation(ctx.db, op.id, owner, new Date(now.getTime() + backoffMs(op.attempts + 1)), {
      description: outcome.description,
    });
    return undefined;
  }
  if ((outcome.kind === 'rejected' || outcome.kind === 'failed') && ORPHAN_KINDS.has(op.kind)) {
    await rescheduleOperation(ctx.db, op.id, owner, new Date(now.getTime() + backoffMs(op.attempts + 1)), {
      description: outcome.description,
    });
    return undefined;
  }
  if (outcome.kind === 'done' && op.kind === 'provision') {
    // The hot path of every synchronous provision: one statement, one durable commit.
    const actor = actorOfOperation(op);
    const dashboardUrl = typeof outcome.body.dashboard_url === 'string' ? outcome.body.dashboard_url : null;
    return completeProvisioning(ctx.db, {
      operationId: op.id,
      instanceId: op.instance_id,
      providerInstanceId: requestOf(op).provider_instance_id,
      leaseOwner: owner,
      description: typeof outcome.body.description === 'string' ? outcome.body.description : null,
      result: JSON.stringify(publicResult(outcome.body)),
      dashboardUrl,
      audit: {
        actorKind: actor.kind,
        actorId: actor.tokenId ?? actor.platformId,
        platformId: actor.platformId,
        tokenId: actor.tokenId,
        originatingIdentity: actor.originatingIdentity ? JSON.stringify(actor.originatingIdentity) : null,
      },
    });
  }
  // A terminal state is committed durably: a platform told "succeeded" must never see it undone.
  return ctx.db.transaction().execute(async (trx) => {
    if (outcome.kind === 'done') {
      const changed = await transitionOperation(
        trx,
        op.id,
        ['pending', 'polling'],
        {
          state: 'succeeded',
          description: typeof outcome.body.description === 'string' ? outcome.body.description : null,
          result: JSON.stringify(publicResult(outcome.body)),
          completed_at: now,
          lease_owner: null,
          lease_expires_at: null,
        },
        owner,
      );
      if (!changed) return undefined;
      await applySuccess(ctx, trx, op, outcome.body);
      await recordAudit(trx, actorOfOperation(op), {
        action: `${op.kind}.succeeded`,
        result: 'succeeded',
        instanceId: op.instance_id,
        bindingId: op.binding_id,
        operationId: op.id,
      });
      if (withSucceeded) await withSucceeded(trx, outcome.body);
      return changed;
    }
    const failure =
      outcome.kind === 'rejected'
        ? { status: outcome.status, error: outcome.error, description: outcome.description, orphan: false }
        : { status: 502, error: undefined, description: outcome.description, orphan: outcome.kind === 'broken' };
    const changed = await transitionOperation(
      trx,
      op.id,
      ['pending', 'polling'],
      {
        state: 'failed',
        description: failure.description,
        result: JSON.stringify({ status: failure.status, error: failure.error ?? null }),
        instance_usable: op.kind === 'update' || op.kind === 'deprovision' ? true : null,
        update_repeatable: op.kind === 'update' ? true : null,
        completed_at: now,
        lease_owner: null,
        lease_expires_at: null,
      },
      owner,
    );
    if (!changed) return undefined;
    // Only a provider 4xx means nothing exists there; other failures leave the record for the platform's delete.
    await applyFailure(trx, op, outcome.kind === 'rejected' && outcome.status >= 400 && outcome.status < 500);
    await recordAudit(trx, actorOfOperation(op), {
      action: `${op.kind}.failed`,
      result: 'failed',
      instanceId: op.instance_id,
      bindingId: op.binding_id,
      operationId: op.id,
      detail: { reason: failure.description },
    });
    if (failure.orphan && (op.kind === 'provision' || op.kind === 'bind')) {
      const request = requestOf(op);
      await scheduleOrphanMitigation(trx, {
        kind: op.kind === 'provision' ? 'orphan_deprovision' : 'orphan_unbind',
        instanceId: op.instance_id,
        bindingId: op.binding_id,
        providerId: op.provider_id,
        request,
        actor: actorOfOperation(op),
        after: op.id,
        reason: failure.description,
      });
    }
    return changed;
  });
}

/**
 * Schedules deleting a resource at the provider that may exist there although the
 * broker does not consider it created. Retried until the provider confirms.
 */
export async function scheduleOrphanMitigation(
  trx: Executor,
  values: {
    kind: 'orphan_deprovision' | 'orphan_unbind';
    instanceId: string;
    bindingId: string | null;
    providerId: string;
    request: OperationRequest;
    actor: Actor;
    after: string | null;
    reason: string;
  },
): Promise<void> {
  const orphan = await insertOperation(trx, {
    kind: values.kind,
    instance_id: values.instanceId,
    binding_id: values.bindingId,
    provider_id: values.providerId,
    state: 'pending',
    request: JSON.stringify({
      provider_instance_id: values.request.provider_instance_id,
      provider_binding_id: values.request.provider_binding_id,
      service_osb_id: values.request.service_osb_id,
      plan_osb_id: values.request.plan_osb_id,
    } satisfies OperationRequest),
    accepts_incomplete: true,
    platform_id: values.actor.platformId,
    token_id: values.actor.tokenId,
    originating_identity: values.actor.originatingIdentity ? JSON.stringify(values.actor.originatingIdentity) : null,
  });
  await recordAudit(trx, values.actor, {
    action: `${values.kind}.requested`,
    result: 'pending',
    instanceId: values.instanceId,
    bindingId: values.bindingId,
    operationId: orphan.id,
    detail: { after: values.after, reason: values.reason },
  });
}

export function publicResult(body: Record<string, unknown>): Record<string, unknown> {
  // Never store credentials in the operation row: they live sealed on the binding.
  const { credentials: _credentials, ...rest } = body;
  return rest;
}

async function maximumPollingSeconds(ctx: BrokerContext, op: OperationRow): Promise<number> {
  return (await findPlanPollingLimit(ctx.db, requestOf(op).plan_osb_id)) ?? ctx.settings.maxPollingSeconds;
}

async function applySuccess(
  ctx: BrokerContext,
  trx: Executor,
  op: OperationRow,
  body: Record<string, unknown>,
): Promise<void> {
  const request = requestOf(op);
  const dashboardUrl = typeof body.dashboard_url === 'string' ? body.dashboard_url : undefined;
  const guard = instanceGuard(op);
  switch (op.kind) {
    // A provision's success is recorded by completeProvisioning (osb/db/provisioning.ts) alone.
    case 'update': {
      const apply = openRequest(ctx.secretBox, request).apply;
      await updateInstanceInState(trx, guard('updating'), {
        state: 'provisioned',
        ...(apply
          ? {
              plan_id: apply.plan_id,
              parameters: '{}',
              parameters_sealed: sealParameters(ctx.secretBox, apply.parameters),
              context: JSON.stringify(apply.context),
              maintenance_info: apply.maintenance_info ? JSON.stringify(apply.maintenance_info) : null,
            }
          : {}),
        ...(dashboardUrl ? { dashboard_url: dashboardUrl } : {}),
      });
      return;
    }
    case 'deprovision':
      await updateInstanceInState(trx, guard('deprovisioning'), { state: 'deprovisioned', deleted_at: new Date() });
      await unbindAllOfInstance(trx, op.instance_id);
      return;
    case 'bind': {
      const { credentials, ...details } = boundBinding(body);
      const sealed = ctx.secretBox.seal(JSON.stringify(credentials));
      await updateBindingGuarded(trx, op, 'binding', {
        state: 'bound',
        credentials_sealed: sealed,
        credentials_key_id: ctx.secretBox.primaryKeyId,
        details: JSON.stringify(details),
      });
      return;
    }
    case 'unbind':
      await updateBindingGuarded(trx, op, 'unbinding', { state: 'unbound', deleted_at: new Date() });
      return;
    default:
      return;
  }
}

/**
 * What a binding keeps of a provider's bind answer, and answers a platform: the credentials
 * (sealed when stored) and the other fields OSB lets a binding carry (stored as `details`).
 */
export function boundBinding(
  body: Record<string, unknown>,
): { credentials: Record<string, unknown> } & Record<string, unknown> {
  const details: Record<string, unknown> = {};
  for (const key of ['syslog_drain_url', 'route_service_url', 'volume_mounts', 'endpoints', 'metadata']) {
    if (body[key] !== undefined) details[key] = body[key];
  }
  return { credentials: isObject(body.credentials) ? body.credentials : {}, ...details };
}

async function updateBindingGuarded(
  trx: Executor,
  op: OperationRow,
  from: string,
  changes: Parameters<typeof updateBinding>[2],
): Promise<void> {
  await updateBindingInState(
    trx,
    { id: op.binding_id ?? '', providerBindingId: requestOf(op).provider_binding_id ?? '', state: from },
    changes,
  );
}

/** The instance of `op` as the operation left it: same provider-side id, in `state`. */
function instanceGuard(op: OperationRow) {
  const providerInstanceId = requestOf(op).provider_instance_id;
  return (state: string) => ({ id: op.instance_id, providerInstanceId, state });
}

async function applyFailure(trx: Executor, op: OperationRow, rejected: boolean): Promise<void> {
  const request = requestOf(op);
  const instance = instanceGuard(op);
  switch (op.kind) {
    case 'provision':
      // A provider 4xx changes nothing: the instance is as if never requested.
      await updateInstanceInState(trx, instance('provisioning'), {
        state: 'failed',
        ...(rejected ? { deleted_at: new Date() } : {}),
      });
      return;
    case 'update':
      await updateInstanceInState(trx, instance('updating'), { state: 'provisioned' });
      return;
    case 'deprovision':
      await updateInstanceInState(trx, instance('deprovisioning'), { state: request.previous_state ?? 'provisioned' });
      return;
    case 'bind':
      await updateBindingGuarded(trx, op, 'binding', {
        state: 'failed',
        ...(rejected ? { deleted_at: new Date() } : {}),
      });
      return;
    case 'unbind':
      await updateBindingGuarded(trx, op, 'unbinding', {
        state: request.previous_state === 'failed' ? 'failed' : 'bound',
      });
      return;
    default:
      return;
  }
}

/**
 * Runs an operation's first provider call on behalf of a request. With
 * `accepts_incomplete`, waits at most `syncWaitMs` and lets the call finish in the
 * background (the lease keeps other replicas off it); otherwise waits for the call,
 * which the provider deadline bounds. Returns the operation as it then stands.
 */
export async function runInRequest(
  ctx: BrokerContext,
  op: OperationRow,
  owner: string,
  sent?: Promise<ProviderResponse>,
  withSucceeded?: WithSucceeded,
): Promise<OperationRow> {
  // `sent`: the operation's first provider call, already on its way (a synchronous
  // provision sends it before writing its start record; see provisionInstance).
  const step = sent
    ? sent.then((response) => settleFirstAnswer(ctx, op, owner, op.accepts_incomplete, response, withSucceeded))
    : executeOperation(ctx, op, owner, op.accepts_incomplete, withSucceeded);
  const execution = step.catch((error: unknown) => {
    ctx.logger.error({ err: error, operation: op.id }, 'operation step failed; a worker will retry it');
    return undefined;
  });
  if (op.accepts_incomplete) {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<'waited'>((resolve) => {
      timer = setTimeout(() => resolve('waited'), ctx.settings.syncWaitMs);
    });
    const first = await Promise.race([execution, waited]);
    clearTimeout(timer);
    if (first === 'waited') {
      ctx.background.add(execution);
      void execution.finally(() => ctx.background.delete(execution));
    } else if (first && (first.state === 'succeeded' || first.state === 'failed')) {
      return first;
    }
  } else {
    const settled = await execution;
    if (settled && (settled.state === 'succeeded' || settled.state === 'failed')) return settled;
  }
  return (await findOperation(ctx.db, op.id)) ?? op;
}

type AcceptedAnswer = { kind: 'accepted'; operation: string; body?: Record<string, unknown> };

/** A 202 for an operation in progress, with what the provider's own 202 said of the instance. */
export function acceptedAnswer(op: OperationRow): AcceptedAnswer {
  const details = acceptedDetails(op);
  return { kind: 'accepted', operation: op.id, ...(details ? { body: details } : {}) };
}

/**
 * What the platform is told about an operation run in its request that has not
 * succeeded: the failure, a 202 when async was allowed, or a 502 while a worker retries.
 */
export function unfinishedAnswer(op: OperationRow): AcceptedAnswer {
  if (op.state === 'failed') throw failureOf(op);
  if (op.accepts_incomplete) return acceptedAnswer(op);
  throw new BrokerFailure('ProviderFailed', 'the provider call did not complete; the broker will retry it');
}

/** Turns a failed operation into the failure the platform is told about. */
export function failureOf(op: OperationRow): BrokerFailure {
  const result = (op.result ?? {}) as { status?: number; error?: string | null };
  const description = op.description ?? 'the operation failed';
  if (result.status && [400, 409, 422].includes(result.status)) {
    return new BrokerFailure('ProviderRejected', description, {
      status: result.status,
      ...(result.error ? { error: result.error } : {}),
    });
  }
  return new BrokerFailure('ProviderFailed', description);
}

import { createHash } from 'node:crypto';
import { type DB, type OutboundPolicy, outboundUrlProblem, type Principal, type SecretBox } from '@annex/platform';
import {
  isFreePlan,
  type ListingState,
  type PlanManifest,
  type ProviderManifest,
  requestedStage,
  type ServiceManifest,
} from '@annex/sdk';
import type { Kysely, Transaction } from 'kysely';
import { instanceUsageOfPlans, servicesWithInstances } from '../db/instances.repository.js';
import { filePendingReview, withdrawPendingReviews } from '../db/listing.repository.js';
import {
  deletePlans,
  findLivePlansOfProvider,
  findPlansByOsbIds,
  markPlansRemoved,
  type PlanValues,
  parkPlanSlugs,
  upsertPlan,
} from '../db/plans.repository.js';
import {
  findProviderById,
  findProviderBySlug,
  insertProvider,
  lockProvider,
  updateProvider,
} from '../db/providers.repository.js';
import { findRevision, insertRevision } from '../db/revisions.repository.js';
import {
  deleteServices,
  findLiveServicesOfProvider,
  findServicesByOsbIdsOrSlugs,
  markServicesRemoved,
  parkServiceSlugs,
  refreshPublicFlags,
  type ServiceValues,
  upsertService,
} from '../db/services.repository.js';
import {
  CatalogError,
  IdConflictError,
  ManifestInvalidError,
  NotAuthorizedError,
  PlanInUseError,
  SlugTakenError,
} from './errors.js';
import { checkManifest } from './manifest.js';
import type { PlanSchemas, Provider } from './model.js';

export interface PublishOptions {
  /** Seals dashboard client secrets; needed only when the manifest has one. */
  secretBox?: SecretBox;
  /** Set by the OSB-broker import; a plain publish may not overwrite an imported provider. */
  source?: 'manifest' | 'osb_broker';
  /** Where `osb.url` may point (default: anywhere); the broker checks again on every call. */
  outbound?: OutboundPolicy;
}

export type PublishOutcome =
  | { ok: true; revision: number; unchanged: boolean; provider: Provider }
  | { ok: false; error: CatalogError };

/**
 * Publishes a provider's whole manifest as its next numbered revision, in one transaction.
 * Publishing the same manifest again writes nothing and returns the current revision.
 * OSB ids never change meaning: an id another provider (or another service) owns is an
 * `IdConflict`; a plan or service that live instances use cannot be removed (`PlanInUse`),
 * only deprecated. Removed entries without instances are deleted. A service asking for GA
 * that is not GA yet is listed BETA and a request for an admin's review is filed (see
 * `listing.ts`); asking for any other stage withdraws a pending request.
 *
 * A provider token publishes its own provider only; an admin publishes any, creating the
 * provider when it is new.
 *
 * @example
 * const outcome = await publishManifest(db, { kind: 'admin', tokenId, scopes: [] }, manifestJson);
 * if (!outcome.ok) console.error(outcome.error.message);
 */
export async function publishManifest(
  db: Kysely<DB>,
  actor: Principal,
  input: unknown,
  options: PublishOptions = {},
): Promise<PublishOutcome> {
  try {
    if (actor.kind !== 'admin' && actor.kind !== 'provider') {
      throw new NotAuthorizedError('publishing needs a provider token (or an admin token)');
    }
    const validation = checkManifest(input);
    if (!validation.ok) throw new ManifestInvalidError(validation.problems);
    const manifest = validation.manifest;
    const unreachable = options.outbound && outboundUrlProblem(new URL(manifest.osb.url), options.outbound);
    if (unreachable) throw new ManifestInvalidError([{ path: 'osb.url', message: unreachable }]);
    if (actor.kind === 'provider') {
      const own = await findProviderById(db, actor.providerId);
      if (!own || own.slug !== manifest.slug) {
        throw new NotAuthorizedError(
          `this provider token publishes provider "${own?.slug ?? '?'}" only, not "${manifest.slug}"`,
        );
      }
    }
    if (manifest.services.some((s) => s.dashboardClient) && !options.secretBox) {
      throw new Error('publishManifest needs a secretBox to store dashboard client secrets');
    }
    const digest = digestOf(manifest);
    const existing = await findProviderBySlug(db, manifest.slug);
    if (existing && (await isCurrent(db, existing, digest))) {
      return { ok: true, revision: existing.currentRevision, unchanged: true, provider: existing };
    }
    return await db.transaction().execute((trx) => publishInTransaction(trx, actor, manifest, digest, options));
  } catch (error) {
    if (error instanceof CatalogError) return { ok: false, error };
    throw error;
  }
}

async function isCurrent(db: Kysely<DB> | Transaction<DB>, provider: Provider, digest: string): Promise<boolean> {
  if (provider.currentRevision === 0) return false;
  const current = await findRevision(db, provider.id, provider.currentRevision);
  return current?.digest === digest;
}

async function publishInTransaction(
  trx: Transaction<DB>,
  actor: Principal & { kind: 'admin' | 'provider' },
  manifest: ProviderManifest,
  digest: string,
  options: PublishOptions,
): Promise<PublishOutcome> {
  let found = await findProviderBySlug(trx, manifest.slug);
  if (!found) {
    if (actor.kind !== 'admin') throw new NotAuthorizedError(`no provider "${manifest.slug}"`);
    found =
      (await insertProvider(trx, { slug: manifest.slug, name: manifest.name, source: options.source ?? 'manifest' })) ??
      (await findProviderBySlug(trx, manifest.slug));
    if (!found) throw new Error(`provider "${manifest.slug}" vanished while publishing`);
  }
  // Publishes of one provider queue here; re-check: an identical publish may just have landed.
  const provider = await lockProvider(trx, found.id);
  if (await isCurrent(trx, provider, digest)) {
    return { ok: true, revision: provider.currentRevision, unchanged: true, provider };
  }
  if (provider.source === 'osb_broker' && options.source !== 'osb_broker' && provider.currentRevision > 0) {
    throw new NotAuthorizedError(
      `provider "${provider.slug}" is imported from an OSB broker; update it with refreshOsbBroker`,
    );
  }

  await checkOwnership(trx, provider.id, manifest);

  // What the manifest no longer lists.
  const keptServices = new Set(manifest.services.map((s) => s.id));
  const keptPlans = new Set(manifest.services.flatMap((s) => s.plans.map((p) => p.id)));
  const liveServices = await findLiveServicesOfProvider(trx, provider.id);
  const livePlans = await findLivePlansOfProvider(trx, provider.id);
  const removedServices = liveServices.filter((s) => !keptServices.has(s.osbId));
  const removedPlans = livePlans.filter((p) => !keptPlans.has(p.osbId) || !keptServices.has(p.serviceOsbId));
  const usage = await instanceUsageOfPlans(
    trx,
    removedPlans.map((p) => p.id),
  );
  const inUse = removedPlans.filter((p) => (usage.get(p.id)?.live ?? 0) > 0);
  if (inUse.length > 0) {
    throw new PlanInUseError(
      inUse.map((p) => ({
        serviceId: p.serviceOsbId,
        planId: p.osbId,
        liveInstances: usage.get(p.id)?.live ?? 0,
      })),
    );
  }

  await parkServiceSlugs(trx, provider.id);
  await parkPlanSlugs(trx, provider.id);
  const stageNow = new Map(liveServices.map((s) => [s.osbId, s.stage]));
  const askingGa: string[] = [];
  const notAskingGa: string[] = [];
  for (const [position, service] of manifest.services.entries()) {
    const asked = requestedStage(manifest, service);
    const stage = stageOnPublish(asked, stageNow.get(service.id));
    const serviceId = await upsertService(trx, serviceValues(provider.id, service, position, stage, options.secretBox));
    (asked === 'ga' && stage !== 'ga' ? askingGa : notAskingGa).push(serviceId);
    for (const [planPosition, plan] of service.plans.entries()) {
      await upsertPlan(trx, planValues(serviceId, service, plan, planPosition));
    }
  }
  // GA is an admin's decision: asking for it files a request (one pending per service).
  const requester = actor.kind === 'admin' ? `admin:${actor.tokenId}` : `provider:${actor.tokenId}`;
  for (const serviceId of askingGa) await filePendingReview(trx, serviceId, requester);
  await withdrawPendingReviews(trx, notAskingGa, requester);

  // Rows that instances (even deleted ones) reference keep their history: mark them removed.
  const referenced = removedPlans.filter((p) => (usage.get(p.id)?.any ?? 0) > 0);
  await markPlansRemoved(
    trx,
    referenced.map((p) => p.id),
  );
  await deletePlans(
    trx,
    removedPlans.filter((p) => !referenced.includes(p)).map((p) => p.id),
  );
  const servicesInUse = await servicesWithInstances(
    trx,
    removedServices.map((s) => s.id),
  );
  await markServicesRemoved(
    trx,
    removedServices.filter((s) => servicesInUse.has(s.id)).map((s) => s.id),
  );
  await deleteServices(
    trx,
    removedServices.filter((s) => !servicesInUse.has(s.id)).map((s) => s.id),
  );

  await refreshPublicFlags(trx, provider.id);

  const revision = provider.currentRevision + 1;
  await insertRevision(trx, {
    providerId: provider.id,
    revision,
    digest,
    manifest: storedManifest(manifest, options.secretBox),
    publishedBy: actor.kind === 'admin' ? `admin:${actor.tokenId}` : `provider:${actor.tokenId}`,
  });
  await updateProvider(trx, provider.id, {
    name: manifest.name,
    description: manifest.description,
    support_email: manifest.supportEmail ?? null,
    support_url: manifest.supportUrl ?? null,
    logo_url: manifest.logoUrl ?? null,
    listing_state: manifest.listingState,
    osb_url: manifest.osb.url,
    osb_auth_kind: manifest.osb.auth,
    current_revision: revision,
    ...(options.source ? { source: options.source } : {}),
  });
  const updated = await lockProvider(trx, provider.id);
  return { ok: true, revision, unchanged: false, provider: updated };
}

/** Every OSB id and slug in the manifest is new or already this provider's, under the same service. */
async function checkOwnership(trx: Transaction<DB>, providerId: string, manifest: ProviderManifest): Promise<void> {
  const services = await findServicesByOsbIdsOrSlugs(
    trx,
    manifest.services.map((s) => s.id),
    manifest.services.map((s) => s.slug),
  );
  for (const stored of services) {
    if (stored.providerId === providerId) continue;
    if (manifest.services.some((s) => s.id === stored.osbId)) {
      throw new IdConflictError(
        'service',
        stored.osbId,
        `service id "${stored.osbId}" belongs to another provider; OSB ids are global and never change meaning`,
      );
    }
    throw new SlugTakenError('service', stored.slug, `service slug "${stored.slug}" is used by another provider`);
  }
  const planOwner = new Map(manifest.services.flatMap((s) => s.plans.map((p) => [p.id, s.id] as const)));
  for (const stored of await findPlansByOsbIds(trx, [...planOwner.keys()])) {
    if (stored.providerId !== providerId) {
      throw new IdConflictError(
        'plan',
        stored.osbId,
        `plan id "${stored.osbId}" belongs to another provider; OSB ids are global and never change meaning`,
      );
    }
    if (planOwner.get(stored.osbId) !== stored.serviceOsbId) {
      throw new IdConflictError(
        'plan',
        stored.osbId,
        `plan id "${stored.osbId}" belongs to service "${stored.serviceOsbId}"; a plan cannot move to another service`,
      );
    }
  }
}

/**
 * The stage a publish writes: what the manifest asks, except GA, which only an admin's approval
 * grants. A service not yet GA that asks for it is BETA (public, marked beta) while its request
 * waits; a GA service stays GA.
 */
function stageOnPublish(asked: ListingState, current: ListingState | undefined): ListingState {
  if (asked !== 'ga') return asked;
  return current === 'ga' ? 'ga' : 'beta';
}

function serviceValues(
  providerId: string,
  service: ServiceManifest,
  position: number,
  stage: ListingState,
  box: SecretBox | undefined,
): ServiceValues {
  const client = service.dashboardClient;
  return {
    provider_id: providerId,
    osb_id: service.id,
    slug: service.slug,
    name: service.name,
    description: service.description,
    category: service.category,
    tags: service.tags,
    bindable: service.bindable,
    plan_updateable: service.planUpdateable,
    instances_retrievable: service.instancesRetrievable,
    bindings_retrievable: service.bindingsRetrievable,
    allow_context_updates: service.allowContextUpdates,
    requires: service.requires,
    documentation_url: service.documentationUrl ?? null,
    dashboard_client:
      client && box
        ? JSON.stringify({ id: client.id, secret: box.seal(client.secret), redirect_uri: client.redirectUri ?? null })
        : null,
    config_vars: service.configVars,
    regions: service.regions,
    metadata: JSON.stringify(service.metadata),
    stage,
    position,
  };
}

function planValues(serviceId: string, service: ServiceManifest, plan: PlanManifest, position: number): PlanValues {
  const schemas = osbSchemas(plan);
  return {
    service_id: serviceId,
    osb_id: plan.id,
    slug: plan.slug,
    // OSB plans have a name; the manifest's slug is it.
    name: plan.slug,
    description: plan.description,
    free: isFreePlan(plan),
    price_cents: plan.price?.monthly ?? 0,
    currency: plan.price?.currency ?? 'usd',
    metered: JSON.stringify(plan.price?.metered ?? []),
    bindable: plan.bindable ?? null,
    plan_updateable: plan.planUpdateable ?? null,
    binding_rotatable: plan.bindingRotatable ?? null,
    maintenance_info: plan.maintenanceInfo ? JSON.stringify(plan.maintenanceInfo) : null,
    maximum_polling_duration: plan.maximumPollingDuration ?? null,
    schemas: schemas ? JSON.stringify(schemas) : null,
    visibility: plan.visibility,
    allowed_organizations: plan.allowedOrganizations,
    // A plan without its own regions is offered wherever its service is.
    regions: plan.regions ?? service.regions,
    metadata: JSON.stringify(plan.metadata),
    status: plan.deprecated ? 'deprecated' : 'active',
    position,
  };
}

/** The manifest's camelCase schemas in OSB's shape. */
function osbSchemas(plan: PlanManifest): PlanSchemas | null {
  const s = plan.schemas;
  if (!s) return null;
  const out: PlanSchemas = {};
  if (s.instance?.create || s.instance?.update) {
    out.service_instance = {
      ...(s.instance.create ? { create: { parameters: s.instance.create } } : {}),
      ...(s.instance.update ? { update: { parameters: s.instance.update } } : {}),
    };
  }
  if (s.binding?.create) out.service_binding = { create: { parameters: s.binding.create } };
  return Object.keys(out).length > 0 ? out : null;
}

/** The revision as stored: dashboard client secrets sealed, never in clear text. */
function storedManifest(manifest: ProviderManifest, box: SecretBox | undefined): ProviderManifest {
  return {
    ...manifest,
    services: manifest.services.map((s) =>
      s.dashboardClient && box
        ? { ...s, dashboardClient: { ...s.dashboardClient, secret: box.seal(s.dashboardClient.secret) } }
        : s,
    ),
  };
}

/** SHA-256 of the manifest with keys sorted: the same manifest always has the same digest. */
export function digestOf(manifest: ProviderManifest): string {
  return `sha256:${createHash('sha256').update(canonicalJson(manifest)).digest('hex')}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

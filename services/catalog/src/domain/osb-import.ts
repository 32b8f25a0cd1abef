import {
  type DB,
  type OutboundPolicy,
  type OutboundResponse,
  OutboundTimeoutError,
  outboundRequest,
  outboundUrlProblem,
  type Principal,
  PrivateAddressError,
  SecretBox,
} from '@annex/platform';
import { CATEGORIES, type ProviderManifestInput } from '@annex/sdk';
import type { Kysely } from 'kysely';
import { findBrokerCredentials, findProviderBySlug, updateProvider } from '../db/providers.repository.js';
import {
  findLiveServicesOfProvider,
  findServiceCategories,
  findServicesByOsbIdsOrSlugs,
} from '../db/services.repository.js';
import {
  InvalidInputError,
  ManifestInvalidError,
  NotAuthorizedError,
  NotFoundError,
  OsbBrokerError,
  type Problem,
  SlugTakenError,
} from './errors.js';
import { checkManifest } from './manifest.js';
import { type PublishOutcome, publishManifest } from './publishing.js';

export interface OsbBrokerInput {
  url: string;
  username: string;
  password: string;
  providerSlug: string;
  providerName?: string | null;
  defaultCategory?: string | null;
}

const CATALOG_TIMEOUT_MS = 10_000;
/** The largest catalog read from a broker (hundreds of plans fit in far less). */
const CATALOG_MAX_BYTES = 10 * 1024 * 1024;
/** Without a policy (tests, tools): private networks allowed, as in development. */
const OPEN: OutboundPolicy = { allowPrivateNetworks: true };

/** A broker URL's problems (path `url`): not http(s), or where outbound calls may not go. */
function checkBrokerUrl(raw: string, outbound: OutboundPolicy | undefined): { url?: URL; problems: Problem[] } {
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    return { problems: [{ path: 'url', message: 'must be an http(s) URL' }] };
  }
  const unreachable = outbound && outboundUrlProblem(url, outbound);
  return { url, problems: unreachable ? [{ path: 'url', message: unreachable }] : [] };
}

/**
 * Lists an existing OSB broker's services and plans under a provider: reads its
 * `GET /v2/catalog` with basic auth, maps it to a manifest, publishes that as a revision,
 * and keeps the broker credentials (the password sealed) so the broker can reach it.
 */
export async function registerOsbBroker(
  db: Kysely<DB>,
  actor: Principal,
  input: OsbBrokerInput,
  deps: { secretBox: SecretBox; outbound?: OutboundPolicy },
): Promise<PublishOutcome> {
  if (actor.kind !== 'admin')
    return { ok: false, error: new NotAuthorizedError('registering a broker needs an admin token') };
  const { url, problems } = checkBrokerUrl(input.url, deps.outbound);
  if (!input.username) problems.push({ path: 'username', message: 'must not be empty' });
  if (!input.password) problems.push({ path: 'password', message: 'must not be empty' });
  if (input.defaultCategory && !(CATEGORIES as readonly string[]).includes(input.defaultCategory)) {
    problems.push({ path: 'defaultCategory', message: `must be one of ${CATEGORIES.join(', ')}` });
  }
  if (problems.length > 0) return { ok: false, error: new InvalidInputError(problems) };
  const existing = await findProviderBySlug(db, input.providerSlug);
  if (existing && existing.source !== 'osb_broker' && existing.currentRevision > 0) {
    return {
      ok: false,
      error: new NotAuthorizedError(`provider "${input.providerSlug}" publishes its own manifest; pick another slug`),
    };
  }
  const baseUrl = (url as URL).toString().replace(/\/+$/, '');
  return importCatalog(db, actor, {
    providerId: existing?.id ?? null,
    baseUrl,
    username: input.username,
    password: input.password,
    providerSlug: input.providerSlug,
    providerName: input.providerName ?? existing?.name ?? input.providerSlug,
    defaultCategory: input.defaultCategory ?? 'other',
    deps,
  });
}

/** Re-reads a registered broker's catalog and publishes it (same rules as any publish). */
export async function refreshOsbBroker(
  db: Kysely<DB>,
  actor: Principal,
  providerSlug: string,
  deps: { secretBox: SecretBox; outbound?: OutboundPolicy },
): Promise<PublishOutcome> {
  if (actor.kind !== 'admin')
    return { ok: false, error: new NotAuthorizedError('refreshing a broker needs an admin token') };
  const provider = await findProviderBySlug(db, providerSlug);
  if (!provider || provider.source !== 'osb_broker') {
    return { ok: false, error: new NotFoundError('OSB-broker provider', providerSlug) };
  }
  const credentials = await findBrokerCredentials(db, provider.id);
  if (!credentials.url || !credentials.username || !credentials.passwordSecret) {
    return { ok: false, error: new NotFoundError('broker credentials of provider', providerSlug) };
  }
  // Checked again, not trusted from registration: the URL may have been registered where
  // private networks were open, or its row written by hand.
  const { problems } = checkBrokerUrl(credentials.url, deps.outbound);
  if (problems.length > 0) return { ok: false, error: new InvalidInputError(problems) };
  let password: string;
  try {
    password = deps.secretBox.open(credentials.passwordSecret);
  } catch {
    return {
      ok: false,
      error: new OsbBrokerError(
        credentials.url,
        null,
        `the stored broker password cannot be opened with the configured ANNEX_ENCRYPTION_KEYS (key "${SecretBox.keyIdOf(credentials.passwordSecret)}"); register the broker again`,
      ),
    };
  }
  return importCatalog(db, actor, {
    providerId: provider.id,
    baseUrl: credentials.url,
    username: credentials.username,
    password,
    providerSlug,
    providerName: provider.name,
    // Services without a category of their own keep the one they were first listed under.
    defaultCategory: 'other',
    knownCategories: await findServiceCategories(db, provider.id),
    deps,
  });
}

async function importCatalog(
  db: Kysely<DB>,
  actor: Principal,
  args: {
    /** The provider when it exists already (re-registration, refresh). */
    providerId: string | null;
    baseUrl: string;
    username: string;
    password: string;
    providerSlug: string;
    providerName: string;
    defaultCategory: string;
    knownCategories?: ReadonlyMap<string, string>;
    deps: { secretBox: SecretBox; outbound?: OutboundPolicy };
  },
): Promise<PublishOutcome> {
  let catalog: unknown;
  try {
    catalog = await fetchCatalog(args.baseUrl, args.username, args.password, args.deps.outbound ?? OPEN);
  } catch (error) {
    if (error instanceof OsbBrokerError) return { ok: false, error };
    // The name resolved to a private address when the catalog connected (or was refused up front).
    if (error instanceof PrivateAddressError) {
      return { ok: false, error: new InvalidInputError([{ path: 'url', message: error.message }]) };
    }
    throw error;
  }
  const options = {
    slug: args.providerSlug,
    name: args.providerName,
    url: args.baseUrl,
    defaultCategory: args.defaultCategory,
    ...(args.knownCategories ? { knownCategories: args.knownCategories } : {}),
    knownSlugs: new Map(
      (args.providerId ? await findLiveServicesOfProvider(db, args.providerId) : []).map((s) => [s.osbId, s.slug]),
    ),
  };
  let mapped = catalogToManifest(catalog, options);
  let takenSlugs = new Set<string>();
  if (mapped.ok) {
    // Natural slugs of new services that other providers list: those services take the
    // provider slug as a prefix, which must be free too.
    const fresh = mapped.manifest.services.filter((s) => !options.knownSlugs.has(s.id));
    const candidates = fresh.flatMap((s) => [s.slug, prefixedSlug(args.providerSlug, s.slug)]);
    const holders = await findServicesByOsbIdsOrSlugs(db, [], candidates);
    takenSlugs = new Set(holders.filter((h) => h.providerId !== args.providerId).map((h) => h.slug));
    if (fresh.some((s) => takenSlugs.has(s.slug))) mapped = catalogToManifest(catalog, { ...options, takenSlugs });
  }
  const validation = mapped.ok ? checkManifest(mapped.manifest) : null;
  const problems = mapped.ok ? (validation?.ok === false ? validation.problems : []) : mapped.problems;
  if (!mapped.ok || problems.length > 0) {
    return {
      ok: false,
      error: new ManifestInvalidError(
        problems,
        `the broker's catalog is malformed: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      ),
    };
  }
  const stillTaken = mapped.manifest.services.find((s) => !options.knownSlugs.has(s.id) && takenSlugs.has(s.slug));
  if (stillTaken) return { ok: false, error: slugStillTaken(stillTaken.slug, args.providerSlug) };
  const outcome = await publishManifest(db, actor, mapped.manifest, {
    secretBox: args.deps.secretBox,
    source: 'osb_broker',
  });
  // Another provider took the slug meanwhile.
  if (!outcome.ok && outcome.error instanceof SlugTakenError && outcome.error.kind === 'service') {
    return { ok: false, error: slugStillTaken(outcome.error.slug, args.providerSlug) };
  }
  if (!outcome.ok) return outcome;
  await updateProvider(db, outcome.provider.id, {
    source: 'osb_broker',
    osb_url: args.baseUrl,
    osb_auth_kind: 'basic',
    osb_username: args.username,
    osb_password_secret: args.deps.secretBox.seal(args.password),
  });
  return outcome;
}

async function fetchCatalog(baseUrl: string, username: string, password: string, policy: OutboundPolicy) {
  const url = `${baseUrl}/v2/catalog`;
  let response: OutboundResponse;
  try {
    // Through the outbound guard: the addresses the name resolves to are judged when the
    // catalog connects, and a redirect is an answer, not followed.
    response = await outboundRequest(new URL(url), {
      policy,
      headers: {
        'X-Broker-API-Version': '2.17',
        Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
        Accept: 'application/json',
      },
      timeoutMs: CATALOG_TIMEOUT_MS,
      maxBytes: CATALOG_MAX_BYTES,
    });
  } catch (error) {
    if (error instanceof PrivateAddressError) throw error;
    const reason =
      error instanceof OutboundTimeoutError
        ? `no answer within ${CATALOG_TIMEOUT_MS / 1000} s`
        : ((error as { code?: string }).code ?? (error as Error).message);
    throw new OsbBrokerError(url, null, `could not reach the broker at ${url}: ${reason}`);
  }
  if (response.status === 401 || response.status === 403) {
    throw new OsbBrokerError(
      url,
      response.status,
      `the broker at ${url} rejected the credentials (HTTP ${response.status})`,
    );
  }
  if (response.status < 200 || response.status >= 300) {
    throw new OsbBrokerError(url, response.status, `the broker at ${url} answered HTTP ${response.status}`);
  }
  try {
    return JSON.parse(response.body) as unknown;
  } catch {
    throw new OsbBrokerError(url, response.status, `the broker at ${url} did not answer with JSON`);
  }
}

/** Leaves room for a `-2` suffix within a slug's 63 characters. */
const SLUG_BASE_LENGTH = 55;

/** A service's slug under its provider's, `<provider>-<service>`, cut as `slugFrom` cuts. */
function prefixedSlug(providerSlug: string, slug: string): string {
  return `${providerSlug}-${slug}`.slice(0, SLUG_BASE_LENGTH).replace(/-+$/, '');
}

function slugStillTaken(slug: string, providerSlug: string): SlugTakenError {
  return new SlugTakenError(
    'service',
    slug,
    `service slug "${slug}" is used by another provider (a new service whose name another provider lists takes this provider's slug as a prefix, and that slug is taken too); register the broker under a different provider slug than "${providerSlug}"`,
  );
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

/** A slug from an OSB name: lowercase, dashes, at most 63 characters, unique within `taken`. */
export function slugFrom(name: string, taken: Set<string>): string {
  const base =
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, SLUG_BASE_LENGTH)
      .replace(/-+$/, '') || 'item';
  let slug = base;
  for (let n = 2; taken.has(slug); n++) slug = `${base}-${n}`;
  taken.add(slug);
  return slug;
}

/**
 * Maps an OSB 2.17 catalog to a manifest. Categories come from a service's
 * `metadata.category` when it names one of ours; prices from a plan's `metadata.costs`
 * (`unit: MONTHLY` becomes the monthly price, other units metered prices). A service
 * keeps the slug it is listed under (`knownSlugs`); a new one is named after its OSB
 * name, prefixed with the provider slug when another provider lists that (`takenSlugs`).
 */
export function catalogToManifest(
  catalog: unknown,
  provider: {
    slug: string;
    name: string;
    url: string;
    defaultCategory: string;
    /** Category by OSB service id, for services whose metadata names none. */
    knownCategories?: ReadonlyMap<string, string>;
    /** Slug by OSB service id of the services the provider lists already: kept, never renamed. */
    knownSlugs?: ReadonlyMap<string, string>;
    /** Service slugs other providers list. */
    takenSlugs?: ReadonlySet<string>;
  },
): { ok: true; manifest: ProviderManifestInput } | { ok: false; problems: { path: string; message: string }[] } {
  if (!isObject(catalog) || !Array.isArray(catalog.services)) {
    return {
      ok: false,
      problems: [{ path: 'services', message: 'the catalog must be an object with a services array' }],
    };
  }
  const raws = catalog.services.map((raw: unknown) => (isObject(raw) ? raw : {}));
  const knownSlug = (s: Json) => provider.knownSlugs?.get(String(s.id));
  // Kept slugs first, so that no new service takes one.
  const serviceSlugs = new Set(raws.map(knownSlug).filter((slug) => slug !== undefined));
  const newSlug = (name: string) => {
    const natural = slugFrom(name, serviceSlugs);
    if (!provider.takenSlugs?.has(natural)) return natural;
    serviceSlugs.delete(natural);
    return slugFrom(prefixedSlug(provider.slug, natural), serviceSlugs);
  };
  const services = raws.map((s) => {
    const meta = isObject(s.metadata) ? s.metadata : {};
    const name = str(s.name) ?? '';
    const metaCategory = str(meta.category)?.toLowerCase();
    const planSlugs = new Set<string>();
    const client = isObject(s.dashboard_client) ? s.dashboard_client : undefined;
    return {
      id: s.id,
      slug: knownSlug(s) ?? newSlug(name),
      name: str(meta.displayName) ?? name,
      description: str(s.description) ?? name,
      category:
        metaCategory && (CATEGORIES as readonly string[]).includes(metaCategory)
          ? metaCategory
          : (provider.knownCategories?.get(String(s.id)) ?? provider.defaultCategory),
      tags: Array.isArray(s.tags) ? s.tags : [],
      bindable: s.bindable,
      planUpdateable: bool(s.plan_updateable) ?? false,
      instancesRetrievable: bool(s.instances_retrievable) ?? false,
      bindingsRetrievable: bool(s.bindings_retrievable) ?? false,
      allowContextUpdates: bool(s.allow_context_updates) ?? false,
      requires: Array.isArray(s.requires) ? s.requires : [],
      ...(str(meta.documentationUrl) ? { documentationUrl: meta.documentationUrl } : {}),
      ...(client
        ? {
            dashboardClient: {
              id: client.id,
              secret: client.secret,
              ...(str(client.redirect_uri) ? { redirectUri: client.redirect_uri } : {}),
            },
          }
        : {}),
      metadata: meta,
      plans: (Array.isArray(s.plans) ? s.plans : []).map((rawPlan: unknown) => {
        const p = isObject(rawPlan) ? rawPlan : {};
        return mapPlan(p, planSlugs);
      }),
    };
  });
  return {
    ok: true,
    manifest: {
      slug: provider.slug,
      name: provider.name,
      osb: { url: provider.url, auth: 'basic' },
      services: services as ProviderManifestInput['services'],
    },
  };
}

function mapPlan(p: Json, slugs: Set<string>) {
  const meta = isObject(p.metadata) ? p.metadata : {};
  const free = bool(p.free) ?? true;
  const schemas = isObject(p.schemas) ? p.schemas : {};
  const parameters = (path: string[]): Json | undefined => {
    let at: unknown = schemas;
    for (const key of path) at = isObject(at) ? at[key] : undefined;
    return isObject(at) ? at : undefined;
  };
  const instanceCreate = parameters(['service_instance', 'create', 'parameters']);
  const instanceUpdate = parameters(['service_instance', 'update', 'parameters']);
  const bindingCreate = parameters(['service_binding', 'create', 'parameters']);
  const maintenance = isObject(p.maintenance_info) ? p.maintenance_info : undefined;
  return {
    id: p.id,
    slug: slugFrom(str(p.name) ?? '', slugs),
    description: str(p.description) ?? str(p.name) ?? '',
    free,
    ...(free ? {} : { price: priceFrom(meta.costs) }),
    ...(bool(p.bindable) !== undefined ? { bindable: p.bindable } : {}),
    ...(bool(p.plan_updateable) !== undefined ? { planUpdateable: p.plan_updateable } : {}),
    ...(maintenance
      ? {
          maintenanceInfo: {
            version: maintenance.version,
            ...(str(maintenance.description) ? { description: maintenance.description } : {}),
          },
        }
      : {}),
    ...(typeof p.maximum_polling_duration === 'number' ? { maximumPollingDuration: p.maximum_polling_duration } : {}),
    ...(instanceCreate || instanceUpdate || bindingCreate
      ? {
          schemas: {
            ...(instanceCreate || instanceUpdate
              ? {
                  instance: {
                    ...(instanceCreate ? { create: instanceCreate } : {}),
                    ...(instanceUpdate ? { update: instanceUpdate } : {}),
                  },
                }
              : {}),
            ...(bindingCreate ? { binding: { create: bindingCreate } } : {}),
          },
        }
      : {}),
    metadata: meta,
  };
}

/** OSB `metadata.costs` (`[{ amount: { usd: 9.5 }, unit: 'MONTHLY' }]`) in minor units. */
function priceFrom(costs: unknown): { monthly: number; currency: string; metered: { unit: string; price: number }[] } {
  const price = { monthly: 0, currency: 'usd', metered: [] as { unit: string; price: number }[] };
  if (!Array.isArray(costs)) return price;
  const units = new Set<string>();
  for (const cost of costs) {
    if (!isObject(cost) || !isObject(cost.amount)) continue;
    const [currency, amount] = Object.entries(cost.amount)[0] ?? [];
    if (!currency || typeof amount !== 'number') continue;
    price.currency = currency.toLowerCase();
    const minor = Math.round(amount * 100 * 1e6) / 1e6;
    const unit = str(cost.unit)?.toLowerCase() ?? 'monthly';
    if (unit === 'monthly' || unit === 'month' || unit === 'per month') price.monthly = Math.round(minor);
    else price.metered.push({ unit: slugFrom(unit, units).replace(/-/g, '_').slice(0, 64), price: minor });
  }
  return price;
}

import * as z from 'zod';
import { checkParameterSchema } from './json-schema.js';

/**
 * The provider manifest: everything the marketplace lists about a provider, its services
 * and their plans. The OSB 2.17 catalog fields are a subset; ids are OSB ids and never
 * change once published.
 */

const slug = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be lowercase letters, digits and dashes (1-63)');

// OSB ids: unique, stable, printable; a UUID is recommended.
const osbId = z.string().regex(/^[A-Za-z0-9._:-]{1,255}$/, 'must be 1-255 of A-Z a-z 0-9 . _ : -');

const url = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

const configVarName = z.string().regex(/^[A-Z][A-Z0-9_]{0,127}$/, 'must be UPPER_SNAKE_CASE (e.g. DATABASE_URL)');

/**
 * The marketplace categories a service can be listed under.
 *
 * @example
 * const valid = (CATEGORIES as readonly string[]).includes(input.category);
 */
export const CATEGORIES = [
  'databases',
  'caches',
  'ai-models',
  'search',
  'logging',
  'monitoring',
  'email',
  'queues',
  'other',
] as const;
/**
 * One of {@link CATEGORIES}.
 *
 * @example
 * const category: Category = 'databases';
 */
export type Category = (typeof CATEGORIES)[number];

/**
 * A service's listing stage in the marketplace: `alpha` (seen only by the organizations the
 * provider invites), `beta` (public, marked beta), `ga` (generally available: reached only when
 * an admin approves the request that publishing `ga` files) and `deprecated` (listed, but no
 * new add-ons; existing ones keep working).
 *
 * @example
 * for (const state of LISTING_STATES) console.log(state); // alpha, beta, ga, deprecated
 */
export const LISTING_STATES = ['alpha', 'beta', 'ga', 'deprecated'] as const;
/**
 * One of {@link LISTING_STATES}.
 *
 * @example
 * const state: ListingState = 'beta';
 */
export type ListingState = (typeof LISTING_STATES)[number];

const jsonSchema = z.record(z.string(), z.unknown()).superRefine((schema, ctx) => {
  for (const problem of checkParameterSchema(schema)) ctx.addIssue({ code: 'custom', message: problem });
});

const planSchemas = z
  .object({
    instance: z.object({ create: jsonSchema.optional(), update: jsonSchema.optional() }).strict().optional(),
    binding: z.object({ create: jsonSchema.optional() }).strict().optional(),
  })
  .strict();

const currency = z.string().regex(/^[a-z]{3}$/, 'must be a lowercase ISO 4217 code such as usd');

/**
 * The zod schema of one plan in a manifest (camelCase; the OSB catalog is derived from it).
 *
 * @example
 * const plan = planManifestSchema.parse({ id: 'p1', slug: 'hobby', description: 'Hobby' });
 */
export const planManifestSchema = z
  .object({
    id: osbId,
    slug,
    description: z.string().min(1).max(1000),
    free: z.boolean().optional(),
    price: z
      .object({
        /** Monthly price in minor units (cents); charged per second, capped at this per month. */
        monthly: z.number().int().min(0),
        currency: currency.default('usd'),
        /** Metered prices, each per unit, in minor units of the currency. */
        metered: z
          .array(
            z
              .object({
                unit: z.string().regex(/^[a-z0-9_]{1,64}$/, 'must be lowercase letters, digits and _ (e.g. 1k_tokens)'),
                price: z.number().min(0),
                description: z.string().max(200).optional(),
              })
              .strict(),
          )
          .default([]),
      })
      .strict()
      .optional(),
    bindable: z.boolean().optional(),
    planUpdateable: z.boolean().optional(),
    bindingRotatable: z.boolean().optional(),
    maintenanceInfo: z
      .object({
        version: z.string().regex(/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/, 'must be semver'),
        description: z.string().max(1000).optional(),
      })
      .strict()
      .optional(),
    /** Seconds the platform should keep polling an async operation before giving up. */
    maximumPollingDuration: z.number().int().positive().optional(),
    schemas: planSchemas.optional(),
    visibility: z.enum(['public', 'private']).default('public'),
    /** Organization slugs that may see a private plan. */
    allowedOrganizations: z.array(slug).default([]),
    regions: z.array(slug).optional(),
    deprecated: z.boolean().default(false),
    metadata: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .superRefine((plan, ctx) => {
    const free =
      plan.free ?? (plan.price === undefined || (plan.price.monthly === 0 && plan.price.metered.length === 0));
    if (free && plan.price && (plan.price.monthly > 0 || plan.price.metered.length > 0)) {
      ctx.addIssue({ code: 'custom', path: ['free'], message: 'a free plan cannot have a price' });
    }
    if (!free && !plan.price) {
      ctx.addIssue({ code: 'custom', path: ['price'], message: 'a paid plan (free: false) needs a price' });
    }
    if (plan.visibility === 'public' && plan.allowedOrganizations.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['allowedOrganizations'],
        message: 'only a private plan has an allow-list',
      });
    }
  });

/**
 * The zod schema of one service in a manifest, with its plans.
 *
 * @example
 * const result = serviceManifestSchema.safeParse(input.services[0]);
 */
export const serviceManifestSchema = z
  .object({
    id: osbId,
    slug,
    name: z.string().min(1).max(100),
    description: z.string().min(1).max(2000),
    category: z.enum(CATEGORIES),
    tags: z.array(z.string().min(1).max(50)).max(20).default([]),
    bindable: z.boolean(),
    planUpdateable: z.boolean().default(false),
    instancesRetrievable: z.boolean().default(false),
    bindingsRetrievable: z.boolean().default(false),
    allowContextUpdates: z.boolean().default(false),
    requires: z.array(z.enum(['syslog_drain', 'route_forwarding', 'volume_mount'])).default([]),
    documentationUrl: url.optional(),
    /** The config vars an attachment sets, e.g. `DATABASE_URL`. */
    configVars: z.array(configVarName).default([]),
    regions: z.array(slug).default([]),
    dashboardClient: z
      .object({ id: z.string().min(1), secret: z.string().min(1), redirectUri: url.optional() })
      .strict()
      .optional(),
    /**
     * This service's stage, when not the manifest's `listingState`. `deprecated: true` is the
     * same as `deprecated` here.
     */
    listingState: z.enum(LISTING_STATES).optional(),
    deprecated: z.boolean().default(false),
    metadata: z.record(z.string(), z.unknown()).default({}),
    plans: z.array(planManifestSchema).min(1, 'a service needs at least one plan'),
  })
  .strict()
  .superRefine(
    (service, ctx) => {
      // Also runs when other fields are invalid (see `when`), so that every problem is listed:
      // read the plans defensively.
      const plans = service.plans.map((p) => (isRecord(p) ? p : {})) as Partial<PlanManifest>[];
      for (const i of duplicates(plans.map((p) => String(p.id)))) {
        ctx.addIssue({ code: 'custom', path: ['plans', i, 'id'], message: 'duplicate plan id' });
      }
      for (const i of duplicates(plans.map((p) => String(p.slug)))) {
        ctx.addIssue({ code: 'custom', path: ['plans', i, 'slug'], message: 'duplicate plan slug' });
      }
      const serviceRegions = Array.isArray(service.regions) ? service.regions : [];
      plans.forEach((plan, i) => {
        for (const region of Array.isArray(plan.regions) ? plan.regions : []) {
          if (serviceRegions.length > 0 && !serviceRegions.includes(region)) {
            ctx.addIssue({
              code: 'custom',
              path: ['plans', i, 'regions'],
              message: `region "${region}" is not one of the service's regions`,
            });
          }
        }
      });
    },
    { when: (payload) => isRecord(payload.value) && Array.isArray(payload.value.plans) },
  );

/**
 * The zod schema of a whole provider manifest. Prefer {@link validateManifest}, which lists every problem.
 *
 * @example
 * const manifest = providerManifestSchema.parse(JSON.parse(text)); // throws on the first invalid manifest
 */
export const providerManifestSchema = z
  .object({
    slug,
    name: z.string().min(1).max(100),
    description: z.string().max(2000).default(''),
    supportEmail: z.email().optional(),
    supportUrl: url.optional(),
    logoUrl: url.optional(),
    /** The stage of every service that names none (`ga` files a request for an admin's approval). */
    listingState: z.enum(LISTING_STATES).default('beta'),
    /** Where the broker reaches the provider's OSB endpoint, and how it authenticates. */
    osb: z
      .object({
        url,
        /** `jwt`: SDK providers verify the broker's signed token. `basic`: plain OSB brokers. */
        auth: z.enum(['jwt', 'basic']).default('jwt'),
      })
      .strict(),
    /**
     * Single sign-on into the provider's dashboard: where the marketplace sends users with
     * `?token=<SSO JWT>`. Default for JWT providers: `${osb.url}/sso` (what the SDK serves).
     */
    sso: z.object({ url }).strict().optional(),
    services: z.array(serviceManifestSchema).min(1, 'a manifest needs at least one service'),
  })
  .strict()
  .superRefine(
    (manifest, ctx) => {
      const services = manifest.services.map((s) => (isRecord(s) ? s : {})) as Partial<ServiceManifest>[];
      for (const i of duplicates(services.map((s) => String(s.id)))) {
        ctx.addIssue({ code: 'custom', path: ['services', i, 'id'], message: 'duplicate service id' });
      }
      for (const i of duplicates(services.map((s) => String(s.slug)))) {
        ctx.addIssue({ code: 'custom', path: ['services', i, 'slug'], message: 'duplicate service slug' });
      }
      // Plan ids are unique across services (a duplicate within one service is reported there).
      const planIds = services.flatMap((s, si) =>
        (Array.isArray(s.plans) ? s.plans : []).map((p, pi) => ({
          id: String(isRecord(p) ? p.id : undefined),
          si,
          pi,
        })),
      );
      duplicates(planIds.map((p) => p.id)).forEach((i) => {
        const at = planIds[i];
        const first = planIds.find((p) => p.id === at?.id);
        if (at && first && first.si !== at.si)
          ctx.addIssue({
            code: 'custom',
            path: ['services', at.si, 'plans', at.pi, 'id'],
            message: 'duplicate plan id',
          });
      });
    },
    { when: (payload) => isRecord(payload.value) && Array.isArray(payload.value.services) },
  );

/**
 * A manifest as written by a provider (defaults optional).
 *
 * @example
 * const manifest: ProviderManifestInput = { slug: 'acme', name: 'Acme', osb: { url: 'http://127.0.0.1:4100' }, services: [...] };
 */
export type ProviderManifestInput = z.input<typeof providerManifestSchema>;
/**
 * A validated manifest, defaults filled in.
 *
 * @example
 * const manifest: ProviderManifest = provider.manifest;
 * manifest.listingState; // 'beta' when not set
 */
export type ProviderManifest = z.output<typeof providerManifestSchema>;
/**
 * The stage a service asks for: its own `listingState`, else the manifest's; `deprecated: true`
 * always means `deprecated`.
 *
 * @example
 * const stage = requestedStage(manifest, manifest.services[0]); // 'beta' when nothing is said
 */
export function requestedStage(
  manifest: Pick<ProviderManifest, 'listingState'>,
  service: ServiceManifest,
): ListingState {
  if (service.deprecated) return 'deprecated';
  return service.listingState ?? manifest.listingState;
}

/**
 * A validated service, defaults filled in.
 *
 * @example
 * const bindable = (service: ServiceManifest) => service.bindable || service.plans.some((p) => p.bindable);
 */
export type ServiceManifest = z.output<typeof serviceManifestSchema>;
/**
 * A validated plan, defaults filled in.
 *
 * @example
 * provision: ({ plan }: { plan: PlanManifest }) => console.log(plan.slug, plan.maximumPollingDuration)
 */
export type PlanManifest = z.output<typeof planManifestSchema>;

/**
 * One thing wrong with a manifest: where (a JSON path such as `services.0.plans.1.id`) and why.
 *
 * @example
 * const problems: ManifestProblem[] = validation.ok ? [] : validation.problems;
 */
export interface ManifestProblem {
  path: string;
  message: string;
}

/**
 * The result of {@link validateManifest}: the manifest, or every problem.
 *
 * @example
 * const validation: ManifestValidation = validateManifest(input);
 * if (validation.ok) console.log(validation.manifest.slug);
 */
export type ManifestValidation = { ok: true; manifest: ProviderManifest } | { ok: false; problems: ManifestProblem[] };

/**
 * Validates a manifest and lists every problem with its path, not just the first.
 *
 * @example
 * const result = validateManifest(JSON.parse(text));
 * if (!result.ok) for (const p of result.problems) console.error(`${p.path}: ${p.message}`);
 */
export function validateManifest(input: unknown): ManifestValidation {
  const result = providerManifestSchema.safeParse(input);
  if (result.success) return { ok: true, manifest: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.') || '(root)',
      message: issue.message,
    })),
  };
}

/** Whether a plan is free: declared, or no price at all. */
export function isFreePlan(plan: PlanManifest): boolean {
  return plan.free ?? (plan.price === undefined || (plan.price.monthly === 0 && plan.price.metered.length === 0));
}

/** The manifest's own JSON Schema (draft 2020-12), published with the API for editors and CI. */
export function manifestJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(providerManifestSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function duplicates(values: readonly string[]): number[] {
  const seen = new Set<string>();
  const indexes: number[] = [];
  values.forEach((value, i) => {
    if (seen.has(value)) indexes.push(i);
    seen.add(value);
  });
  return indexes;
}

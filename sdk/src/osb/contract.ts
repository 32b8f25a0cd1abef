import * as z from 'zod';

// The Open Service Broker API 2.17 bodies, written once. Platforms' requests are decoded with
// them by Annex's broker (toward platforms) and by this SDK's router (toward the broker), and
// the conformance kit checks a broker's answers against them. As the spec asks, fields a
// receiver does not know are allowed (and dropped by decoding).

const object = z.record(z.string(), z.unknown());
const CONTROL_CHARACTER = /\p{Cc}/u;

/** An OSB id or name (service_id, plan_id, organization_guid…): non-empty, no control characters. */
export const osbId = z
  .string()
  .min(1)
  .max(255)
  .refine((value) => !CONTROL_CHARACTER.test(value), 'must not contain control characters');
/** A JSON object of the caller's (context, parameters, bind_resource…). */
export const osbObject = object;
export const maintenanceInfoBody = z.object({ version: osbId, description: z.string().optional() });

// ---- requests ---------------------------------------------------------------------------

/** `PUT /v2/service_instances/:instance_id`. */
export const provisionRequest = z.object({
  service_id: osbId,
  plan_id: osbId,
  organization_guid: osbId,
  space_guid: osbId,
  context: object.optional(),
  parameters: object.optional(),
  maintenance_info: maintenanceInfoBody.optional(),
});
export type ProvisionRequest = z.infer<typeof provisionRequest>;

/** `PATCH /v2/service_instances/:instance_id`. */
export const updateRequest = z.object({
  service_id: osbId,
  plan_id: osbId.optional(),
  parameters: object.optional(),
  context: object.optional(),
  previous_values: object.optional(),
  maintenance_info: maintenanceInfoBody.optional(),
});
export type UpdateRequest = z.infer<typeof updateRequest>;

/** `PUT /v2/service_instances/:instance_id/service_bindings/:binding_id`. */
export const bindRequest = z.object({
  service_id: osbId,
  plan_id: osbId,
  app_guid: osbId.optional(),
  bind_resource: object.optional(),
  parameters: object.optional(),
  context: object.optional(),
  predecessor_binding_id: osbId.optional(),
});
export type BindRequest = z.infer<typeof bindRequest>;

/**
 * Decodes a request body: the body itself must be a JSON object; the answer is the decoded
 * body, or each problem in words that name the field (`plan_id is required`,
 * `context: expected record, received string`).
 */
export function decodeOsbRequest<S extends z.ZodType>(
  schema: S,
  body: unknown,
): { ok: true; body: z.infer<S> } | { ok: false; problems: string[] } {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, problems: ['the request body must be a JSON object'] };
  }
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, body: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => {
      const field = issue.path.join('.') || 'body';
      return issue.code === 'invalid_type' && issue.input === undefined
        ? `${field} is required`
        : `${field}: ${issue.message}`;
    }),
  };
}

// ---- responses --------------------------------------------------------------------------
const cliName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be CLI-friendly (letters, digits, . _ -, no spaces)');

export const catalogResponse = z.object({
  services: z
    .array(
      z.object({
        id: z.string().min(1),
        name: cliName,
        description: z.string().min(1),
        bindable: z.boolean(),
        tags: z.array(z.string()).optional(),
        requires: z.array(z.enum(['syslog_drain', 'route_forwarding', 'volume_mount'])).optional(),
        instances_retrievable: z.boolean().optional(),
        bindings_retrievable: z.boolean().optional(),
        allow_context_updates: z.boolean().optional(),
        plan_updateable: z.boolean().optional(),
        metadata: object.optional(),
        plans: z
          .array(
            z.object({
              id: z.string().min(1),
              name: cliName,
              description: z.string().min(1),
              free: z.boolean().optional(),
              bindable: z.boolean().optional(),
              plan_updateable: z.boolean().optional(),
              binding_rotatable: z.boolean().optional(),
              maximum_polling_duration: z.number().int().positive().optional(),
              maintenance_info: z.object({ version: z.string(), description: z.string().optional() }).optional(),
              schemas: z
                .object({
                  service_instance: z
                    .object({
                      create: z.object({ parameters: object.optional() }).optional(),
                      update: z.object({ parameters: object.optional() }).optional(),
                    })
                    .optional(),
                  service_binding: z
                    .object({ create: z.object({ parameters: object.optional() }).optional() })
                    .optional(),
                })
                .optional(),
              metadata: object.optional(),
            }),
          )
          .min(1),
      }),
    )
    .min(1),
});
export type OsbCatalogResponse = z.infer<typeof catalogResponse>;
export type OsbCatalogService = OsbCatalogResponse['services'][number];
export type OsbCatalogPlan = OsbCatalogService['plans'][number];

export const errorResponse = z.object({
  error: z.string().optional(),
  description: z.string().optional(),
  instance_usable: z.boolean().optional(),
  update_repeatable: z.boolean().optional(),
});

export const provisionResponse = z.object({ dashboard_url: z.string().optional(), metadata: object.optional() });
export const asyncResponse = z.object({
  operation: z.string().max(10_000).optional(),
  dashboard_url: z.string().optional(),
  metadata: object.optional(),
});
export const lastOperationResponse = z.object({
  state: z.enum(['in progress', 'succeeded', 'failed']),
  description: z.string().optional(),
  instance_usable: z.boolean().optional(),
  update_repeatable: z.boolean().optional(),
});
export const updateResponse = z.object({ dashboard_url: z.string().optional(), operation: z.string().optional() });
export const bindResponse = z.object({
  credentials: object.optional(),
  syslog_drain_url: z.string().optional(),
  route_service_url: z.string().optional(),
  volume_mounts: z.array(object).optional(),
  endpoints: z
    .array(
      z.object({ host: z.string(), ports: z.array(z.string()), protocol: z.enum(['tcp', 'udp', 'all']).optional() }),
    )
    .optional(),
  metadata: z.object({ expires_at: z.string().optional(), renew_before: z.string().optional() }).optional(),
});
export const fetchInstanceResponse = z.object({
  service_id: z.string().optional(),
  plan_id: z.string().optional(),
  dashboard_url: z.string().optional(),
  parameters: object.optional(),
  maintenance_info: z.object({ version: z.string() }).optional(),
  metadata: object.optional(),
});
export const emptyResponse = object;

/** The first problem of a response check, or undefined when the body conforms. */
export function responseProblem(shape: z.ZodType, body: unknown): string | undefined {
  const result = shape.safeParse(body);
  if (result.success) return undefined;
  const issue = result.error.issues[0];
  return `body does not match OSB 2.17: ${issue?.path.join('.') || '(root)'} ${issue?.message}`;
}

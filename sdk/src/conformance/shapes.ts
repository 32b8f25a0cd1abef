import { z } from 'zod';

// OSB 2.17 response bodies, as loose as the spec allows (unknown fields are fine).
const object = z.record(z.string(), z.unknown());
const cliName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be CLI-friendly (letters, digits, . _ -, no spaces)');

export const catalogShape = z.object({
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
export type OsbCatalogShape = z.infer<typeof catalogShape>;
export type OsbServiceShape = OsbCatalogShape['services'][number];
export type OsbPlanShape = OsbServiceShape['plans'][number];

export const errorShape = z.object({
  error: z.string().optional(),
  description: z.string().optional(),
  instance_usable: z.boolean().optional(),
  update_repeatable: z.boolean().optional(),
});

export const provisionShape = z.object({ dashboard_url: z.string().optional(), metadata: object.optional() });
export const asyncShape = z.object({
  operation: z.string().max(10_000).optional(),
  dashboard_url: z.string().optional(),
});
export const lastOperationShape = z.object({
  state: z.enum(['in progress', 'succeeded', 'failed']),
  description: z.string().optional(),
  instance_usable: z.boolean().optional(),
  update_repeatable: z.boolean().optional(),
});
export const updateShape = z.object({ dashboard_url: z.string().optional(), operation: z.string().optional() });
export const bindShape = z.object({
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
export const fetchInstanceShape = z.object({
  service_id: z.string().optional(),
  plan_id: z.string().optional(),
  dashboard_url: z.string().optional(),
  parameters: object.optional(),
  maintenance_info: z.object({ version: z.string() }).optional(),
  metadata: object.optional(),
});
export const emptyShape = object;

/** The first problem of a shape check, or undefined when the body conforms. */
export function shapeProblem(shape: z.ZodType, body: unknown): string | undefined {
  const result = shape.safeParse(body);
  if (result.success) return undefined;
  const issue = result.error.issues[0];
  return `body does not match OSB 2.17: ${issue?.path.join('.') || '(root)'} ${issue?.message}`;
}

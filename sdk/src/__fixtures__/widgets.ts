import { setTimeout as delay } from 'node:timers/promises';
import * as z from 'zod';
import { defineProvider, inProgress, ProviderError, type ProviderManifestInput } from '../index.js';
import type { ProviderStore } from '../store.js';

/** A provider used by the tests: one sync plan with a parameters schema, one async plan. */
export function widgetsManifest(): ProviderManifestInput {
  return {
    slug: 'widgets-inc',
    name: 'Widgets Inc',
    osb: { url: 'http://127.0.0.1:4100' },
    services: [
      {
        id: 'svc-widgets',
        slug: 'widgets',
        name: 'Widgets',
        description: 'Widgets as a service',
        category: 'other',
        bindable: true,
        planUpdateable: true,
        instancesRetrievable: true,
        bindingsRetrievable: true,
        configVars: ['WIDGETS_URL'],
        plans: [
          {
            id: 'plan-small',
            slug: 'small',
            description: 'A small widget, made at once',
            bindingRotatable: true,
            schemas: {
              instance: {
                create: {
                  type: 'object',
                  properties: { size: { type: 'integer', minimum: 1, maximum: 10 }, color: { type: 'string' } },
                  required: ['size'],
                  additionalProperties: false,
                },
              },
              binding: {
                create: { type: 'object', properties: { readonly: { type: 'boolean' } }, additionalProperties: false },
              },
            },
          },
          {
            id: 'plan-large',
            slug: 'large',
            description: 'A large widget, made in the background',
            price: { monthly: 1000, currency: 'usd' },
            free: false,
          },
        ],
      },
    ],
  };
}

/** What the widgets provider did, for assertions. */
export interface WidgetsLog {
  provisioned: string[];
  deprovisioned: { id: string; duringProvisioning: boolean }[];
  halted: string[];
  bindings: string[];
}

function untilOrAborted(gate: Promise<unknown>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    gate.then(() => resolve(), reject);
  });
}

export function widgetsProvider(options: {
  brokerUrl?: string;
  basicAuth?: { username: string; password: string };
  store?: ProviderStore;
  workMs?: number;
  /** When given, pressing a large widget waits for it instead of `workMs`. */
  gate?: Promise<unknown>;
}) {
  const log: WidgetsLog = { provisioned: [], deprovisioned: [], halted: [], bindings: [] };
  const workMs = options.workMs ?? 300;
  const provider = defineProvider({
    manifest: widgetsManifest(),
    ...(options.brokerUrl ? { broker: { url: options.brokerUrl, jwksRefreshCooldownSeconds: 1 } } : {}),
    ...(options.basicAuth ? { basicAuth: options.basicAuth } : {}),
    ...(options.store ? { store: options.store } : {}),
    retryAfterSeconds: 1,
    parameters: {
      provision: z.object({ size: z.number().int().optional(), color: z.string().optional() }),
    },
    provision: async ({ instanceId, plan, parameters, acceptsIncomplete }) => {
      if (parameters.color === 'plaid') throw ProviderError.badRequest('plaid widgets are sold out');
      if (parameters.color === 'explode') throw new Error('the widget press jammed');
      if (plan.slug === 'large') {
        if (!acceptsIncomplete) return ProviderError.asyncRequired();
        return inProgress({
          description: 'pressing the widget',
          work: async (signal) => {
            try {
              if (options.gate) await untilOrAborted(options.gate, signal);
              else await delay(workMs, undefined, { signal });
            } catch {
              log.halted.push(instanceId);
              throw ProviderError.internal('halted');
            }
            log.provisioned.push(instanceId);
            return { dashboardUrl: `https://widgets.example/${instanceId}` };
          },
        });
      }
      log.provisioned.push(instanceId);
      return { dashboardUrl: `https://widgets.example/${instanceId}`, metadata: { size: parameters.size } };
    },
    update: async ({ plan, acceptsIncomplete }) => {
      if (plan.slug === 'large' && acceptsIncomplete) {
        return inProgress({ description: 'regrinding', work: async () => ({}) });
      }
      return {};
    },
    deprovision: async ({ instanceId, duringProvisioning, acceptsIncomplete, plan }) => {
      log.deprovisioned.push({ id: instanceId, duringProvisioning });
      if (plan.slug === 'large' && acceptsIncomplete) return inProgress({ work: async () => undefined });
    },
    bind: async ({ bindingId, instanceId, parameters }) => {
      log.bindings.push(bindingId);
      return {
        credentials: {
          WIDGETS_URL: `https://${bindingId}:secret@widgets.example/${instanceId}`,
          readonly: parameters.readonly ?? false,
        },
      };
    },
    unbind: async () => {},
  });
  return { provider, log };
}

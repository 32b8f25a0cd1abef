import type { Request } from 'express';
import type * as z from 'zod';
import type { PlanManifest } from '../manifest.js';
import type { BindResult, OriginatingIdentity } from '../types.js';
import { decodeOsbRequest } from './contract.js';

/** The broker API versions served: 2.14 (async bindings) to any later 2.x. */
export const MIN_MINOR_VERSION = 14;

export const now = () => new Date().toISOString();

/** Canonical JSON (sorted keys) so that equal objects compare equal. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function bindResultToOsb(result: BindResult | undefined | null): Record<string, unknown> {
  if (!result) return {};
  const out: Record<string, unknown> = {};
  if (result.credentials) out.credentials = result.credentials;
  if (result.syslogDrainUrl) out.syslog_drain_url = result.syslogDrainUrl;
  if (result.routeServiceUrl) out.route_service_url = result.routeServiceUrl;
  if (result.volumeMounts) out.volume_mounts = result.volumeMounts;
  if (result.endpoints) out.endpoints = result.endpoints;
  if (result.metadata) {
    out.metadata = {
      ...(result.metadata.expiresAt ? { expires_at: result.metadata.expiresAt } : {}),
      ...(result.metadata.renewBefore ? { renew_before: result.metadata.renewBefore } : {}),
    };
  }
  return out;
}

/** Sent back to the broker as an error; thrown inside the router. */
export class Reply extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.description ?? status));
  }
}
export const fail = (status: number, description: string, error?: string) =>
  new Reply(status, { ...(error ? { error } : {}), description });

/** Decodes a request body with its OSB contract (osb/contract.ts); a 400 names each bad field. */
export function decodeBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const decoded = decodeOsbRequest(schema, body);
  if (!decoded.ok) throw fail(400, decoded.problems.join('; '));
  return decoded.body;
}

export function originatingIdentity(req: Request): OriginatingIdentity | undefined {
  const header = req.header('X-Broker-API-Originating-Identity');
  if (!header) return undefined;
  const [platform, encoded] = header.split(' ');
  if (!platform || !encoded) throw fail(400, 'X-Broker-API-Originating-Identity must be "<platform> <base64 JSON>"');
  try {
    const value = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
    if (!isObject(value)) throw new Error('not an object');
    return { platform, value };
  } catch {
    throw fail(400, 'X-Broker-API-Originating-Identity value is not base64-encoded JSON');
  }
}

export const acceptsIncomplete = (req: Request) => req.query.accepts_incomplete === 'true';
export const queryString = (req: Request, name: string, required: boolean): string | undefined => {
  const value = req.query[name];
  if (typeof value === 'string' && value.length > 0) return value;
  if (required) throw fail(400, `query parameter ${name} is required`);
  return undefined;
};

export function requestIdOf(req: Request): string {
  return (req as Request & { annexRequestId?: string }).annexRequestId ?? 'unknown';
}

export function checkMaintenanceInfo(plan: PlanManifest, given: unknown): { version: string } | undefined {
  if (given === undefined || given === null) return undefined;
  if (!isObject(given) || typeof given.version !== 'string') {
    throw fail(400, 'maintenance_info must be an object with a version');
  }
  if (plan.maintenanceInfo?.version !== given.version) {
    throw fail(
      422,
      `maintenance_info.version "${given.version}" does not match the plan's ${plan.maintenanceInfo ? `"${plan.maintenanceInfo.version}"` : '(none)'}`,
      'MaintenanceInfoConflict',
    );
  }
  return { version: given.version };
}

export const resourceKey = (instanceId: string, bindingId: string | null) => `${instanceId}/${bindingId ?? ''}`;

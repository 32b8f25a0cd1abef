import { CliError } from './client.js';
import type { Runtime } from './command.js';

// What the apps commands read from the catalog (docs/apps.md): the fields each query
// selects, the shapes they answer, and the lookups several commands share.

export interface AttachmentView {
  id: string;
  name: string;
  app: { name: string };
  addon: { name: string; serviceSlug: string; planSlug: string };
  state: string;
  configVarNames: string[];
  lastError: string | null;
}

export interface AddonView {
  id: string;
  name: string;
  app: { name: string };
  serviceSlug: string;
  planSlug: string;
  providerSlug: string;
  state: string;
  lastError: string | null;
  createdAt: string;
  attachments: AttachmentView[];
}

export interface AppView {
  id: string;
  name: string;
  organization: string;
  releaseVersion: number;
  createdAt: string;
}

export interface ConfigVarView {
  name: string;
  value: string | null;
  owner: string;
}

export interface ReleaseView {
  version: number;
  diff: { name: string; change: string; value: string | null }[];
  actor: string;
  reason: string;
  createdAt: string;
}

export const APP = 'id name organization releaseVersion createdAt';
export const ATTACHMENT = 'id name app { name } addon { name serviceSlug planSlug } state configVarNames lastError';
export const ADDON = `id name app { name } serviceSlug planSlug providerSlug state lastError createdAt attachments { ${ATTACHMENT} }`;
export const RELEASE = 'version diff { name change value } actor reason createdAt';

/** `CHANGING_PLAN` → `changing plan`. */
export const lower = (state: string) => state.toLowerCase().replaceAll('_', ' ');

/** The app named `name` with the `fields` asked; another organization's app is "not found" (exit 1). */
export async function fetchApp<T>(ctx: Pick<Runtime, 'client'>, name: string, fields: string): Promise<T> {
  const data = await ctx
    .client()
    .request<{ app: T | null }>(`query($name: String!) { app(name: $name) { ${fields} } }`, { name });
  if (!data.app) throw new CliError(`app "${name}" not found`, 1);
  return data.app;
}

/** The add-on named `name`, or null when the token cannot see it (or it is gone). */
export async function fetchAddon(ctx: Pick<Runtime, 'client'>, name: string): Promise<AddonView | null> {
  const data = await ctx
    .client()
    .request<{ addon: AddonView | null }>(`query($name: String!) { addon(name: $name) { ${ADDON} } }`, { name });
  return data.addon;
}

/** The add-on named `name`; "not found" (exit 1) when the token cannot see it. */
export async function requireAddon(ctx: Pick<Runtime, 'client'>, name: string): Promise<AddonView> {
  const addon = await fetchAddon(ctx, name);
  if (!addon) throw new CliError(`add-on "${name}" not found`, 1);
  return addon;
}

export function attachmentLine(a: AttachmentView): string {
  return `${a.app.name} as ${a.name} (${lower(a.state)}): ${a.configVarNames.join(', ') || 'no vars yet'}${a.lastError ? ` — ${a.lastError}` : ''}`;
}

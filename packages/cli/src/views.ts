import { CliError } from './client.js';
import type { Runtime } from './command.js';
import { EXIT_CODES } from './exit-codes.js';
import { graphql, type ResultOf } from './graphql.js';

// What the apps commands read from the catalog (docs/apps.md): the fields several
// documents select, the shapes they answer, and the lookups several commands share.

export const AttachmentFields = graphql(`
  fragment AttachmentFields on Attachment {
    id name app { name } appOrganization addon { name organization serviceSlug planSlug } state configVarNames lastError
  }
`);

export const AddonFields = graphql(
  `
  fragment AddonFields on Addon {
    id name app { name } organization serviceSlug planSlug providerSlug state lastError createdAt
    attachments { ...AttachmentFields }
  }
`,
  [AttachmentFields],
);

export const AppFields = graphql('fragment AppFields on App { id name organization releaseVersion createdAt }');

export const ReleaseFields = graphql(
  'fragment ReleaseFields on Release { version diff { name change value } kept { name attachment } actor reason createdAt }',
);

export type AttachmentView = ResultOf<typeof AttachmentFields>;
export type AddonView = ResultOf<typeof AddonFields>;
export type AppView = ResultOf<typeof AppFields>;
export type ReleaseView = ResultOf<typeof ReleaseFields>;

const ADDON = graphql('query Addon($name: String!) { addon(name: $name) { ...AddonFields } }', [AddonFields]);

/** `CHANGING_PLAN` → `changing plan`. */
export const lower = (state: string) => state.toLowerCase().replaceAll('_', ' ');

/** The app a query found; another organization's app is "not found" (exit 1), like a missing one. */
export function foundApp<T>(name: string, app: T | null): T {
  if (!app) throw new CliError(`app "${name}" not found`, EXIT_CODES.refused);
  return app;
}

/** The add-on named `name`, or null when the token cannot see it (or it is gone). */
export async function fetchAddon(ctx: Pick<Runtime, 'client'>, name: string): Promise<AddonView | null> {
  return (await ctx.client().request(ADDON, { name })).addon;
}

/** The add-on named `name`; "not found" (exit 1) when the token cannot see it. */
export async function requireAddon(ctx: Pick<Runtime, 'client'>, name: string): Promise<AddonView> {
  const addon = await fetchAddon(ctx, name);
  if (!addon) throw new CliError(`add-on "${name}" not found`, EXIT_CODES.refused);
  return addon;
}

// A shared add-on (docs/apps.md, "Shared add-ons") shows each organization its side: the
// owner sees another organization's app only as "an app of ORG", the borrower sees the
// add-on as "shared by ORG" and none of the owner's apps.

/** The app an attachment is in: its name, or "an app of ORG" when that app is another organization's. */
export function attachedTo(a: Pick<AttachmentView, 'app' | 'appOrganization'>): string {
  return a.app ? a.app.name : `an app of ${a.appOrganization}`;
}

/** Who owns an add-on: its app, or "shared by ORG" when the caller cannot see that app. */
export function ownerOf(addon: Pick<AddonView, 'app' | 'organization'>): string {
  return addon.app ? addon.app.name : `shared by ${addon.organization}`;
}

export function attachmentLine(a: AttachmentView): string {
  return `${attachedTo(a)} as ${a.name} (${lower(a.state)}): ${a.configVarNames.join(', ') || 'no vars yet'}${a.lastError ? ` — ${a.lastError}` : ''}`;
}

/** An attachment var a rollback left as it is (rollbacks never change add-on state): `DATABASE_URL (attachment DATABASE)`. */
export function keptVar(kept: ReleaseView['kept'][number]): string {
  return `${kept.name} (attachment ${kept.attachment})`;
}

import {
  createApiToken,
  type DB,
  hashPassword,
  type Principal,
  randomSecret,
  type TokenKind,
  validScopes,
} from '@annex/platform';
import type { Kysely } from 'kysely';
import {
  type ApiTokenRecord,
  findOrganizationsBySlugs,
  findPlatformBySlug,
  insertOrganization,
  insertPlatform,
  type Organization,
  revokeToken,
} from '../db/identity.repository.js';
import { findProviderBySlug, insertProvider } from '../db/providers.repository.js';
import { InvalidInputError, NotAuthorizedError, NotFoundError, type Problem, SlugTakenError } from './errors.js';
import type { Provider } from './model.js';

// Administration: organizations, platforms, providers and API tokens. Admin tokens only;
// every secret is returned once and only its hash (or nothing) is stored.

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function requireAdmin(actor: Principal): void {
  if (actor.kind !== 'admin') throw new NotAuthorizedError();
}

function check(problems: Problem[]): void {
  if (problems.length > 0) throw new InvalidInputError(problems);
}

function slugProblems(path: string, slug: string): Problem[] {
  return SLUG.test(slug) ? [] : [{ path, message: 'must be lowercase letters, digits and dashes (1-63)' }];
}

function nameProblems(path: string, name: string): Problem[] {
  return name.trim().length > 0 && name.length <= 100 ? [] : [{ path, message: 'must be 1-100 characters' }];
}

export async function createOrganization(
  db: Kysely<DB>,
  actor: Principal,
  input: { slug: string; name: string },
): Promise<Organization> {
  requireAdmin(actor);
  check([...slugProblems('slug', input.slug), ...nameProblems('name', input.name)]);
  const organization = await insertOrganization(db, input.slug, input.name.trim());
  if (!organization) throw new SlugTakenError('organization', input.slug);
  return organization;
}

export interface CreatedPlatform {
  id: string;
  slug: string;
  name: string;
  organizations: string[];
  /** OSB basic-auth credentials the platform's marketplace uses; the password is shown once. */
  osbUsername: string;
  osbPassword: string;
}

export async function createPlatform(
  db: Kysely<DB>,
  actor: Principal,
  input: { slug: string; name: string; organizations: readonly string[] },
): Promise<CreatedPlatform> {
  requireAdmin(actor);
  check([...slugProblems('slug', input.slug), ...nameProblems('name', input.name)]);
  return db.transaction().execute(async (trx) => {
    const organizations = await findOrganizationsBySlugs(trx, input.organizations);
    const missing = input.organizations.filter((slug) => !organizations.some((o) => o.slug === slug));
    check(missing.map((slug) => ({ path: 'organizations', message: `no organization "${slug}"` })));
    const osbUsername = `platform-${input.slug}`;
    const osbPassword = randomSecret(24);
    const id = await insertPlatform(trx, {
      slug: input.slug,
      name: input.name.trim(),
      osbUsername,
      osbPasswordHash: await hashPassword(osbPassword),
      organizationIds: organizations.map((o) => o.id),
    });
    if (!id) throw new SlugTakenError('platform', input.slug);
    return {
      id,
      slug: input.slug,
      name: input.name.trim(),
      organizations: organizations.map((o) => o.slug).sort(),
      osbUsername,
      osbPassword,
    };
  });
}

export async function createProvider(
  db: Kysely<DB>,
  actor: Principal,
  input: { slug: string; name: string },
): Promise<{ provider: Provider; token: string; tokenId: string }> {
  requireAdmin(actor);
  check([...slugProblems('slug', input.slug), ...nameProblems('name', input.name)]);
  return db.transaction().execute(async (trx) => {
    const provider = await insertProvider(trx, { slug: input.slug, name: input.name.trim() });
    if (!provider) throw new SlugTakenError('provider', input.slug);
    const created = await createApiToken(trx, {
      kind: 'provider',
      name: `${input.slug} publishing`,
      providerId: provider.id,
      scopes: ['catalog:publish'],
    });
    return { provider, token: created.token, tokenId: created.id };
  });
}

export interface ApiTokenInput {
  kind: TokenKind;
  name: string;
  scopes?: readonly string[] | null;
  /** Slug of the organization an `org` token acts for. */
  organization?: string | null;
  /** Slug of the platform a `platform` token acts for. */
  platform?: string | null;
  /** Slug of the provider a `provider` token publishes. */
  provider?: string | null;
}

export async function createToken(
  db: Kysely<DB>,
  actor: Principal,
  input: ApiTokenInput,
): Promise<{ id: string; token: string; prefix: string; kind: TokenKind }> {
  requireAdmin(actor);
  const problems: Problem[] = [...nameProblems('name', input.name)];
  const needs: Record<TokenKind, 'organization' | 'platform' | 'provider' | null> = {
    admin: null,
    org: 'organization',
    platform: 'platform',
    provider: 'provider',
  };
  const needed = needs[input.kind];
  for (const key of ['organization', 'platform', 'provider'] as const) {
    if (key === needed && !input[key]) problems.push({ path: key, message: `a ${input.kind} token needs one` });
    if (key !== needed && input[key]) problems.push({ path: key, message: `a ${input.kind} token takes none` });
  }
  const valid = validScopes(input.kind);
  for (const [i, scope] of (input.scopes ?? []).entries()) {
    if (!valid.includes(scope)) {
      problems.push({
        path: `scopes.${i}`,
        message: `unknown scope "${scope}"; ${input.kind} tokens may have: ${valid.join(', ')}`,
      });
    }
  }
  check(problems);
  let organizationId: string | null = null;
  let platformId: string | null = null;
  let providerId: string | null = null;
  if (input.organization) {
    const [organization] = await findOrganizationsBySlugs(db, [input.organization]);
    if (!organization) throw new NotFoundError('organization', input.organization);
    organizationId = organization.id;
  }
  if (input.platform) {
    const platform = await findPlatformBySlug(db, input.platform);
    if (!platform) throw new NotFoundError('platform', input.platform);
    platformId = platform.id;
  }
  if (input.provider) {
    const provider = await findProviderBySlug(db, input.provider);
    if (!provider) throw new NotFoundError('provider', input.provider);
    providerId = provider.id;
  }
  const created = await createApiToken(db, {
    kind: input.kind,
    name: input.name.trim(),
    scopes: input.scopes ?? [],
    organizationId,
    platformId,
    providerId,
  });
  return { ...created, kind: input.kind };
}

export async function revokeApiToken(db: Kysely<DB>, actor: Principal, id: string): Promise<ApiTokenRecord> {
  requireAdmin(actor);
  if (!UUID.test(id)) throw new NotFoundError('API token', id);
  const revoked = await revokeToken(db, id);
  if (!revoked) throw new NotFoundError('API token', id);
  return revoked;
}

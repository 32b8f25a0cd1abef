import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { executePrepared } from './db/database.js';
import type { DB, TokenKind } from './db/schema.js';
import { scopesForNewToken } from './scopes.js';

type Executor = Kysely<DB> | Transaction<DB>;

/** Who is calling. Every API decides what to show from this alone. */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'admin'; tokenId: string; scopes: readonly string[] }
  | {
      kind: 'platform';
      tokenId: string | null;
      platformId: string;
      /** Slugs of the organizations the platform acts for. */
      organizations: readonly string[];
      /** Their ids, in no particular order. */
      organizationIds: readonly string[];
      scopes: readonly string[];
    }
  | { kind: 'provider'; tokenId: string; providerId: string; scopes: readonly string[] }
  | { kind: 'org'; tokenId: string; organizationId: string; organization: string; scopes: readonly string[] };

export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous' });

/** Organization slugs whose private plans the caller may see; `'all'` for admins. */
export function visibleOrganizations(principal: Principal): readonly string[] | 'all' {
  switch (principal.kind) {
    case 'admin':
      return 'all';
    case 'platform':
      return principal.organizations;
    case 'org':
      return [principal.organization];
    default:
      return [];
  }
}

export interface NewApiToken {
  kind: TokenKind;
  name: string;
  /**
   * Names from `SCOPES` (`PROVIDER_SCOPES` for a provider token); unknown ones are refused.
   * None: the default of the kind, stored explicitly (see `scopesForNewToken`).
   */
  scopes?: readonly string[];
  organizationId?: string | null;
  platformId?: string | null;
  providerId?: string | null;
  expiresAt?: Date | null;
  /**
   * The person (a `users` row) the token acts for, e.g. a console session's user: a
   * dashboard sign-on asked with the token names them. Without one it names the token.
   */
  userId?: string | null;
}

export interface CreatedApiToken {
  id: string;
  /** Shown once; only its hash is stored. */
  token: string;
  prefix: string;
}

/** Tokens are 32 random bytes: a plain SHA-256 is the right hash (no password stretching needed). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Creates a scoped API token and returns it once. Throws, creating nothing, when a scope is
 * unknown.
 *
 * @example
 * const { token } = await createApiToken(db, { kind: 'org', name: 'ci', organizationId });
 * // Authorization: Bearer annex_org_…
 */
export async function createApiToken(db: Executor, input: NewApiToken): Promise<CreatedApiToken> {
  const scopes = scopesForNewToken(input.kind, input.scopes);
  const token = `annex_${input.kind}_${randomBytes(32).toString('base64url')}`;
  const prefix = token.slice(0, input.kind.length + 11);
  const row = await db
    .insertInto('api_tokens')
    .values({
      kind: input.kind,
      name: input.name,
      token_hash: hashToken(token),
      token_prefix: prefix,
      scopes,
      organization_id: input.organizationId ?? null,
      platform_id: input.platformId ?? null,
      provider_id: input.providerId ?? null,
      expires_at: input.expiresAt ?? null,
      user_id: input.userId ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, token, prefix };
}

/** A token's row as `authenticateToken` reads it. */
interface TokenRow {
  id: string;
  kind: TokenKind;
  scopes: string[];
  organization_id: string | null;
  platform_id: string | null;
  provider_id: string | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  organization: string | null;
  platform_organizations: string[];
  platform_organization_ids: string[];
}

/**
 * The token by its hash, with its organization's slug, or the slugs and ids of its platform's
 * organizations: one statement per request, the same text every time (run prepared).
 */
const AUTHENTICATE_TOKEN = `
  select t.id, t.kind, t.scopes, t.organization_id, t.platform_id, t.provider_id,
    t.expires_at, t.revoked_at, t.last_used_at, o.slug as organization,
    array(
      select po_o.slug from platform_organizations po
      join organizations po_o on po_o.id = po.organization_id
      where po.platform_id = t.platform_id order by po_o.slug) as platform_organizations,
    array(
      select po.organization_id::text from platform_organizations po
      where po.platform_id = t.platform_id order by po.organization_id) as platform_organization_ids
  from api_tokens t
  left join organizations o on o.id = t.organization_id
  where t.token_hash = $1`;

/** Resolves a bearer token to its principal; `null` when unknown, revoked or expired. */
export async function authenticateToken(db: Executor, token: string): Promise<Principal | null> {
  if (!/^annex_[a-z]+_[A-Za-z0-9_-]{20,}$/.test(token)) return null;
  const [row] = await executePrepared<TokenRow>(db, 'authenticate_token', AUTHENTICATE_TOKEN, [hashToken(token)]);
  if (!row || row.revoked_at || (row.expires_at && row.expires_at.getTime() <= Date.now())) return null;
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
    // Coarse on purpose: one write a minute per token, not one per request.
    await db.updateTable('api_tokens').set({ last_used_at: new Date() }).where('id', '=', row.id).execute();
  }
  const scopes = row.scopes;
  switch (row.kind) {
    case 'admin':
      return { kind: 'admin', tokenId: row.id, scopes };
    case 'provider':
      return { kind: 'provider', tokenId: row.id, providerId: row.provider_id as string, scopes };
    case 'org':
      return {
        kind: 'org',
        tokenId: row.id,
        organizationId: row.organization_id as string,
        organization: row.organization as string,
        scopes,
      };
    case 'platform':
      return {
        kind: 'platform',
        tokenId: row.id,
        platformId: row.platform_id as string,
        organizations: row.platform_organizations,
        organizationIds: row.platform_organization_ids,
        scopes,
      };
  }
}

/** Slugs of the organizations a platform acts for. */
export async function platformOrganizations(db: Executor, platformId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('platform_organizations as po')
    .innerJoin('organizations as o', 'o.id', 'po.organization_id')
    .select('o.slug')
    .where('po.platform_id', '=', platformId)
    .orderBy('o.slug')
    .execute();
  return rows.map((r) => r.slug);
}

/** Reads `Authorization: Bearer …`; `undefined` when absent or of another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

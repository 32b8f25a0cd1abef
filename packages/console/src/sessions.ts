import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  createApiToken,
  type DB,
  type MembershipRole,
  PROVIDER_ROLE_SCOPES,
  ROLE_SCOPES,
  type SecretBox,
} from '@annex/platform';
import type { Kysely, Transaction } from 'kysely';

type Executor = Kysely<DB> | Transaction<DB>;

// Sessions are rows: any console replica serves any request. The cookie carries a random
// id; the row is keyed by its hash, so a leaked table does not yield usable cookies.

export interface Identity {
  issuer: string;
  subject: string;
  email: string;
  name: string;
}

export interface Membership {
  organizationId: string;
  slug: string;
  name: string;
  role: MembershipRole;
}

/** A person's membership of a provider: they see its portal (docs/provider-portal.md). */
export interface ProviderMembership {
  providerId: string;
  slug: string;
  name: string;
  role: MembershipRole;
}

export interface Session {
  idHash: string;
  user: { id: string; email: string; name: string; subject: string; issuer: string };
  organization: Membership | null;
  memberships: Membership[];
  csrfToken: string;
  /** The org API token the console calls the catalog and broker with. */
  apiToken: string | null;
  /** The provider whose portal the session shows (null: not a member of any). */
  provider: ProviderMembership | null;
  providerMemberships: ProviderMembership[];
  /** The provider token the portal's pages call the catalog with. */
  providerToken: string | null;
  expiresAt: Date;
}

/** What an organization claim asks for: a slug and, with `slug:admin`, the admin role. */
export interface OrganizationGrant {
  slug: string;
  role: MembershipRole;
}

/**
 * A membership claim of the ID token (`annex_orgs`, `annex_providers`): `["acme", "beta:admin"]`
 * (or one string separated by spaces or commas) → grants; anything else is a readable error
 * naming the claim.
 */
export function parseMembershipClaim(name: 'annex_orgs' | 'annex_providers', claim: unknown): OrganizationGrant[] {
  const what = name === 'annex_orgs' ? 'organization' : 'provider';
  const entries = typeof claim === 'string' ? claim.split(/[\s,]+/).filter(Boolean) : claim;
  if (!Array.isArray(entries) || entries.some((e) => typeof e !== 'string')) {
    throw new Error(`the ${name} claim must be a list of ${what} slugs (optionally "slug:admin")`);
  }
  return (entries as string[]).map((entry) => {
    const [slug, role, ...rest] = entry.split(':');
    if (!slug || rest.length > 0 || (role !== undefined && role !== 'admin' && role !== 'member')) {
      throw new Error(`the ${name} claim has an invalid entry "${entry}" (expected slug or slug:admin)`);
    }
    return { slug, role: (role ?? 'member') as MembershipRole };
  });
}

/** `["acme", "beta:admin"]` → grants; anything else is a readable error. */
export const parseOrganizationClaim = (claim: unknown) => parseMembershipClaim('annex_orgs', claim);

/** The `annex_providers` claim, in the same format as `annex_orgs`. */
export const parseProviderClaim = (claim: unknown) => parseMembershipClaim('annex_providers', claim);

export const hashSessionId = (id: string) => createHash('sha256').update(id).digest('hex');

/** Creates or updates the user an identity names. */
export async function upsertUser(db: Executor, identity: Identity): Promise<{ id: string }> {
  return db
    .insertInto('users')
    .values({
      oidc_issuer: identity.issuer,
      oidc_subject: identity.subject,
      email: identity.email,
      name: identity.name,
    })
    .onConflict((oc) =>
      oc.columns(['oidc_issuer', 'oidc_subject']).doUpdateSet({
        email: identity.email,
        name: identity.name,
        last_sign_in_at: new Date(),
      }),
    )
    .returning('id')
    .executeTakeFirstOrThrow();
}

/**
 * Applies the organizations a sign-in grants. A claim (`grants` not null) is authoritative:
 * the memberships become exactly its organizations that exist here. Without a claim the
 * user keeps what they have, and joins `defaultOrganization` as a member if they have none.
 * Returns the slugs of granted organizations that do not exist (ignored).
 */
export async function applyOrganizationGrants(
  db: Executor,
  userId: string,
  grants: OrganizationGrant[] | null,
  defaultOrganization: string | undefined,
): Promise<{ unknown: string[] }> {
  if (grants === null) {
    const existing = await db.selectFrom('memberships').select('user_id').where('user_id', '=', userId).execute();
    if (existing.length > 0 || !defaultOrganization) return { unknown: [] };
    grants = [{ slug: defaultOrganization, role: 'member' }];
    const org = await db
      .selectFrom('organizations')
      .select('id')
      .where('slug', '=', defaultOrganization)
      .executeTakeFirst();
    if (!org) return { unknown: [defaultOrganization] };
    await db
      .insertInto('memberships')
      .values({ user_id: userId, organization_id: org.id, role: 'member' })
      .onConflict((oc) => oc.doNothing())
      .execute();
    return { unknown: [] };
  }
  const slugs = grants.map((g) => g.slug);
  const orgs =
    slugs.length === 0
      ? []
      : await db.selectFrom('organizations').select(['id', 'slug']).where('slug', 'in', slugs).execute();
  const ids = orgs.map((o) => o.id);
  let removal = db.deleteFrom('memberships').where('user_id', '=', userId);
  if (ids.length > 0) removal = removal.where('organization_id', 'not in', ids);
  await removal.execute();
  for (const org of orgs) {
    const role = grants.find((g) => g.slug === org.slug)?.role ?? 'member';
    await db
      .insertInto('memberships')
      .values({ user_id: userId, organization_id: org.id, role })
      .onConflict((oc) => oc.columns(['user_id', 'organization_id']).doUpdateSet({ role }))
      .execute();
  }
  return { unknown: slugs.filter((s) => !orgs.some((o) => o.slug === s)) };
}

export async function listMemberships(db: Executor, userId: string): Promise<Membership[]> {
  const rows = await db
    .selectFrom('memberships as m')
    .innerJoin('organizations as o', 'o.id', 'm.organization_id')
    .select(['o.id', 'o.slug', 'o.name', 'm.role'])
    .where('m.user_id', '=', userId)
    .orderBy('o.slug')
    .execute();
  return rows.map((r) => ({ organizationId: r.id, slug: r.slug, name: r.name, role: r.role }));
}

/**
 * Applies the providers an `annex_providers` claim grants: the memberships a claim gave
 * become exactly its providers that exist here (an earlier claim's others go), while
 * memberships an admin added stay whatever the claim says. Without the claim (null) nothing
 * changes. Returns the slugs of granted providers that do not exist (ignored).
 */
export async function applyProviderGrants(
  db: Executor,
  userId: string,
  grants: OrganizationGrant[] | null,
): Promise<{ unknown: string[] }> {
  if (grants === null) return { unknown: [] };
  const slugs = grants.map((g) => g.slug);
  const providers =
    slugs.length === 0
      ? []
      : await db.selectFrom('providers').select(['id', 'slug']).where('slug', 'in', slugs).execute();
  let removal = db.deleteFrom('provider_members').where('user_id', '=', userId).where('granted_by', '=', 'claim');
  if (providers.length > 0)
    removal = removal.where(
      'provider_id',
      'not in',
      providers.map((p) => p.id),
    );
  await removal.execute();
  for (const provider of providers) {
    const role = grants.find((g) => g.slug === provider.slug)?.role ?? 'member';
    await db
      .insertInto('provider_members')
      .values({ user_id: userId, provider_id: provider.id, role, granted_by: 'claim' })
      // An admin's grant stays the admin's (a later claim cannot remove it); the role follows the claim.
      .onConflict((oc) => oc.columns(['user_id', 'provider_id']).doUpdateSet({ role }))
      .execute();
  }
  return { unknown: slugs.filter((s) => !providers.some((p) => p.slug === s)) };
}

export async function listProviderMemberships(db: Executor, userId: string): Promise<ProviderMembership[]> {
  const rows = await db
    .selectFrom('provider_members as m')
    .innerJoin('providers as p', 'p.id', 'm.provider_id')
    .select(['p.id', 'p.slug', 'p.name', 'm.role'])
    .where('m.user_id', '=', userId)
    .orderBy('p.slug')
    .execute();
  return rows.map((r) => ({ providerId: r.id, slug: r.slug, name: r.name, role: r.role }));
}

/**
 * Mints the provider token a member's session shows the provider's portal with: it expires
 * with the session and has the scopes of the member's role (`PROVIDER_ROLE_SCOPES`).
 */
async function mintProviderSessionToken(
  db: Executor,
  box: SecretBox,
  membership: ProviderMembership,
  user: { id: string; who: string },
  expiresAt: Date,
): Promise<{ id: string; sealed: string }> {
  const token = await createApiToken(db, {
    kind: 'provider',
    name: `console session of ${user.who}`.slice(0, 200),
    providerId: membership.providerId,
    scopes: PROVIDER_ROLE_SCOPES[membership.role],
    expiresAt,
    userId: user.id,
  });
  return { id: token.id, sealed: box.seal(token.token) };
}

/**
 * Mints the org token a session acts with: it expires with the session, has the scopes the
 * member's role allows (`ROLE_SCOPES`: an admin every scope, a member all but reading config
 * var values and changing what is billed), and acts for the signed-in user, whom the broker
 * then names when it opens a provider's dashboard.
 */
async function mintSessionToken(
  db: Executor,
  box: SecretBox,
  membership: Membership,
  user: { id: string; who: string },
  expiresAt: Date,
): Promise<{ id: string; sealed: string }> {
  const token = await createApiToken(db, {
    kind: 'org',
    name: `console session of ${user.who}`.slice(0, 200),
    organizationId: membership.organizationId,
    scopes: ROLE_SCOPES[membership.role],
    expiresAt,
    userId: user.id,
  });
  return { id: token.id, sealed: box.seal(token.token) };
}

async function revokeTokens(db: Executor, tokenIds: ReadonlyArray<string | null>): Promise<void> {
  const ids = tokenIds.filter((id): id is string => id !== null);
  if (ids.length === 0) return;
  await db
    .updateTable('api_tokens')
    .set({ revoked_at: new Date() })
    .where('id', 'in', ids)
    .where('revoked_at', 'is', null)
    .execute();
}

/** Opens a session for a signed-in user, acting for their first organization. Returns the cookie value. */
export async function createSession(
  db: Kysely<DB>,
  box: SecretBox,
  input: { userId: string; who: string; ttlSeconds: number; idToken?: string | undefined },
): Promise<{ sessionId: string }> {
  const sessionId = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + input.ttlSeconds * 1000);
  await db.transaction().execute(async (trx) => {
    const memberships = await listMemberships(trx, input.userId);
    const first = memberships[0];
    const user = { id: input.userId, who: input.who };
    const token = first ? await mintSessionToken(trx, box, first, user, expiresAt) : null;
    const firstProvider = (await listProviderMemberships(trx, input.userId))[0];
    const providerToken = firstProvider
      ? await mintProviderSessionToken(trx, box, firstProvider, user, expiresAt)
      : null;
    await trx
      .insertInto('console_sessions')
      .values({
        id_hash: hashSessionId(sessionId),
        user_id: input.userId,
        organization_id: first?.organizationId ?? null,
        csrf_secret: randomBytes(32).toString('base64url'),
        api_token_id: token?.id ?? null,
        api_token_sealed: token?.sealed ?? null,
        id_token_sealed: input.idToken ? box.seal(input.idToken) : null,
        provider_id: firstProvider?.providerId ?? null,
        provider_token_id: providerToken?.id ?? null,
        provider_token_sealed: providerToken?.sealed ?? null,
        expires_at: expiresAt,
      })
      .execute();
  });
  return { sessionId };
}

/** The live session a cookie names; an expired one is ended (its token revoked) and reads as none. */
export async function loadSession(db: Kysely<DB>, box: SecretBox, sessionId: string): Promise<Session | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(sessionId)) return null;
  const idHash = hashSessionId(sessionId);
  const row = await db
    .selectFrom('console_sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select([
      's.id_hash',
      's.organization_id',
      's.csrf_secret',
      's.api_token_sealed',
      's.provider_id',
      's.provider_token_sealed',
      's.expires_at',
      'u.id as user_id',
      'u.email',
      'u.name',
      'u.oidc_subject',
      'u.oidc_issuer',
    ])
    .where('s.id_hash', '=', idHash)
    .executeTakeFirst();
  if (!row) return null;
  if (row.expires_at.getTime() <= Date.now()) {
    await endSession(db, idHash);
    return null;
  }
  const memberships = await listMemberships(db, row.user_id);
  const providerMemberships = await listProviderMemberships(db, row.user_id);
  const provider = providerMemberships.find((m) => m.providerId === row.provider_id) ?? null;
  return {
    idHash,
    user: { id: row.user_id, email: row.email, name: row.name, subject: row.oidc_subject, issuer: row.oidc_issuer },
    organization: memberships.find((m) => m.organizationId === row.organization_id) ?? null,
    memberships,
    csrfToken: row.csrf_secret,
    apiToken: row.api_token_sealed ? box.open(row.api_token_sealed) : null,
    provider,
    providerMemberships,
    // A membership removed since sign-in: its token is revoked on the next switch or sign-out
    // and the broker refuses it already if an admin revoked it; the console stops using it now.
    providerToken: provider && row.provider_token_sealed ? box.open(row.provider_token_sealed) : null,
    expiresAt: row.expires_at,
  };
}

/** Acts for another of the user's organizations: the old token is revoked, a new one minted. */
export async function switchOrganization(
  db: Kysely<DB>,
  box: SecretBox,
  session: Session,
  slug: string,
): Promise<boolean> {
  const membership = session.memberships.find((m) => m.slug === slug);
  if (!membership) return false;
  await db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('console_sessions')
      .select('api_token_id')
      .where('id_hash', '=', session.idHash)
      .forUpdate()
      .executeTakeFirstOrThrow();
    await revokeTokens(trx, [row.api_token_id]);
    const token = await mintSessionToken(
      trx,
      box,
      membership,
      { id: session.user.id, who: session.user.email || session.user.subject },
      session.expiresAt,
    );
    await trx
      .updateTable('console_sessions')
      .set({ organization_id: membership.organizationId, api_token_id: token.id, api_token_sealed: token.sealed })
      .where('id_hash', '=', session.idHash)
      .execute();
  });
  return true;
}

/** Shows another of the user's providers: the old provider token is revoked, a new one minted. */
export async function switchProvider(db: Kysely<DB>, box: SecretBox, session: Session, slug: string): Promise<boolean> {
  const membership = session.providerMemberships.find((m) => m.slug === slug);
  if (!membership) return false;
  await db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('console_sessions')
      .select('provider_token_id')
      .where('id_hash', '=', session.idHash)
      .forUpdate()
      .executeTakeFirstOrThrow();
    await revokeTokens(trx, [row.provider_token_id]);
    const token = await mintProviderSessionToken(
      trx,
      box,
      membership,
      { id: session.user.id, who: session.user.email || session.user.subject },
      session.expiresAt,
    );
    await trx
      .updateTable('console_sessions')
      .set({ provider_id: membership.providerId, provider_token_id: token.id, provider_token_sealed: token.sealed })
      .where('id_hash', '=', session.idHash)
      .execute();
  });
  return true;
}

/**
 * Ends a session: the row is deleted and its API tokens (org and provider) revoked, in one transaction.
 * Returns the sealed ID token it was signed in with (the hint of a sign-out at the
 * identity provider), or null.
 */
export async function endSession(db: Kysely<DB>, idHash: string): Promise<string | null> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .deleteFrom('console_sessions')
      .where('id_hash', '=', idHash)
      .returning(['api_token_id', 'provider_token_id', 'id_token_sealed'])
      .executeTakeFirst();
    if (row) await revokeTokens(trx, [row.api_token_id, row.provider_token_id]);
    return row?.id_token_sealed ?? null;
  });
}

/**
 * Removes sessions that expired, a batch at a time, revoking the API tokens each held (they
 * have expired with the session; revoked, they read as ended in the token list too). Replicas
 * may sweep at once: each takes rows the others have not locked. Returns how many went.
 */
export async function sweepExpiredSessions(db: Kysely<DB>, batch = 500): Promise<number> {
  let swept = 0;
  for (;;) {
    const removed = await db.transaction().execute(async (trx) => {
      const rows = await trx
        .deleteFrom('console_sessions')
        .where('id_hash', 'in', (eb) =>
          eb
            .selectFrom('console_sessions')
            .select('id_hash')
            .where('expires_at', '<=', new Date())
            .limit(batch)
            .forUpdate()
            .skipLocked(),
        )
        .returning(['api_token_id', 'provider_token_id'])
        .execute();
      await revokeTokens(
        trx,
        rows.flatMap((row) => [row.api_token_id, row.provider_token_id]),
      );
      return rows.length;
    });
    swept += removed;
    if (removed < batch) return swept;
  }
}

/** Constant-time comparison of a submitted CSRF token with the session's. */
export function csrfMatches(expected: string, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  // Bytes, not characters: a token of the right length in non-ASCII characters is refused, not a crash.
  const given = Buffer.from(submitted);
  const wanted = Buffer.from(expected);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

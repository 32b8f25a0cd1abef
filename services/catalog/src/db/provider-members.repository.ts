import type { MembershipRole } from '@annex/platform';
import { sql } from 'kysely';
import type { Executor } from './executor.js';

// Who works for a provider (docs/provider-portal.md, "Who sees it"): they see its portal in
// the console. Rows an admin adds are `granted_by = 'admin'`; sign-in claims keep their own.

export interface ProviderMember {
  email: string;
  name: string;
  role: MembershipRole;
  grantedBy: 'claim' | 'admin';
  createdAt: Date;
}

/** The people who signed in with this email (one per identity provider, usually one). */
export async function findUsersByEmail(db: Executor, email: string): Promise<{ id: string }[]> {
  return db.selectFrom('users').select('id').where(sql`lower(email)`, '=', email.toLowerCase()).execute();
}

/** Adds the member, or changes the role (the grant becomes the admin's either way). */
export async function upsertProviderMember(
  db: Executor,
  member: { userId: string; providerId: string; role: MembershipRole },
): Promise<void> {
  await db
    .insertInto('provider_members')
    .values({ user_id: member.userId, provider_id: member.providerId, role: member.role, granted_by: 'admin' })
    .onConflict((oc) => oc.columns(['user_id', 'provider_id']).doUpdateSet({ role: member.role, granted_by: 'admin' }))
    .execute();
}

/** Removes the membership; returns whether there was one. */
export async function deleteProviderMember(db: Executor, userId: string, providerId: string): Promise<boolean> {
  const result = await db
    .deleteFrom('provider_members')
    .where('user_id', '=', userId)
    .where('provider_id', '=', providerId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Revokes the provider tokens consoles minted for the person's sessions of this provider. */
export async function revokeMemberSessionTokens(db: Executor, userId: string, providerId: string): Promise<void> {
  await db
    .updateTable('api_tokens')
    .set({ revoked_at: new Date() })
    .where('kind', '=', 'provider')
    .where('user_id', '=', userId)
    .where('provider_id', '=', providerId)
    .where('revoked_at', 'is', null)
    .execute();
}

export async function listProviderMembers(db: Executor, providerId: string): Promise<ProviderMember[]> {
  const rows = await db
    .selectFrom('provider_members as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select(['u.email', 'u.name', 'm.role', 'm.granted_by', 'm.created_at'])
    .where('m.provider_id', '=', providerId)
    .orderBy('u.email')
    .execute();
  return rows.map((r) => ({
    email: r.email,
    name: r.name,
    role: r.role,
    grantedBy: r.granted_by,
    createdAt: r.created_at,
  }));
}

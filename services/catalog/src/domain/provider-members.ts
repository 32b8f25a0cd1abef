import type { DB, MembershipRole, Principal } from '@annex/platform';
import type { Kysely } from 'kysely';
import {
  deleteProviderMember,
  findUsersByEmail,
  listProviderMembers,
  type ProviderMember,
  revokeMemberSessionTokens,
  upsertProviderMember,
} from '../db/provider-members.repository.js';
import { findProviderBySlug } from '../db/providers.repository.js';
import { InvalidInputError, NotAuthorizedError, NotFoundError } from './errors.js';

// Provider members (docs/provider-portal.md, "Who sees it"), managed by admins. A person is
// named by the email they signed in with: they must have signed in once (a claim at
// sign-in needs no admin at all).

function requireAdmin(actor: Principal): void {
  if (actor.kind !== 'admin') throw new NotAuthorizedError();
}

async function resolve(db: Kysely<DB>, input: { provider: string; email: string }) {
  const provider = await findProviderBySlug(db, input.provider);
  if (!provider) throw new NotFoundError('provider', input.provider);
  const email = input.email.trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) {
    throw new InvalidInputError([{ path: 'email', message: 'must be an email address' }]);
  }
  const users = await findUsersByEmail(db, email);
  if (users.length === 0) {
    throw new InvalidInputError([
      {
        path: 'email',
        message: `nobody has signed in to the console as ${email} yet; they sign in once, then are added`,
      },
    ]);
  }
  if (users.length > 1) {
    throw new InvalidInputError([
      { path: 'email', message: `${users.length} people signed in as ${email} (several identity providers)` },
    ]);
  }
  return { provider, userId: (users[0] as { id: string }).id };
}

export async function addProviderMember(
  db: Kysely<DB>,
  actor: Principal,
  input: { provider: string; email: string; role: MembershipRole },
): Promise<ProviderMember[]> {
  requireAdmin(actor);
  const { provider, userId } = await resolve(db, input);
  await db.transaction().execute(async (trx) => {
    await upsertProviderMember(trx, { userId, providerId: provider.id, role: input.role });
    // A role changed down must not leave a session holding provider:write: its token goes,
    // and the person's next sign-in mints one with the new role.
    if (input.role === 'member') await revokeMemberSessionTokens(trx, userId, provider.id);
  });
  return listProviderMembers(db, provider.id);
}

export async function removeProviderMember(
  db: Kysely<DB>,
  actor: Principal,
  input: { provider: string; email: string },
): Promise<ProviderMember[]> {
  requireAdmin(actor);
  const { provider, userId } = await resolve(db, input);
  await db.transaction().execute(async (trx) => {
    if (!(await deleteProviderMember(trx, userId, provider.id))) {
      throw new NotFoundError('member', `${input.email} of ${input.provider}`);
    }
    // Their open sessions stop seeing the portal at once.
    await revokeMemberSessionTokens(trx, userId, provider.id);
  });
  return listProviderMembers(db, provider.id);
}

export async function providerMembers(db: Kysely<DB>, actor: Principal, slug: string): Promise<ProviderMember[]> {
  requireAdmin(actor);
  const provider = await findProviderBySlug(db, slug);
  if (!provider) throw new NotFoundError('provider', slug);
  return listProviderMembers(db, provider.id);
}

import type { Executor } from '../../shared/db/executor.js';

export async function findPlatformByOsbUsername(
  db: Executor,
  username: string,
): Promise<{ id: string; slug: string; osb_password_hash: string } | undefined> {
  return db
    .selectFrom('platforms')
    .select(['id', 'slug', 'osb_password_hash'])
    .where('osb_username', '=', username)
    .executeTakeFirst();
}

import type { Executor } from './executor.js';

export async function findRevision(
  db: Executor,
  providerId: string,
  revision: number,
): Promise<{ revision: number; digest: string } | null> {
  const row = await db
    .selectFrom('provider_revisions')
    .select(['revision', 'digest'])
    .where('provider_id', '=', providerId)
    .where('revision', '=', revision)
    .executeTakeFirst();
  return row ?? null;
}

export async function insertRevision(
  db: Executor,
  values: { providerId: string; revision: number; digest: string; manifest: object; publishedBy: string },
): Promise<void> {
  await db
    .insertInto('provider_revisions')
    .values({
      provider_id: values.providerId,
      revision: values.revision,
      digest: values.digest,
      manifest: JSON.stringify(values.manifest),
      published_by: values.publishedBy,
    })
    .execute();
}

import type { BrokerContext } from '../../shared/domain/context.js';
import { badRequest, notFound } from '../../shared/domain/errors.js';
import { varLayout } from './naming.js';
import { applyConfigChange } from './releases.js';

/**
 * A provider's push of new config for one of its instances (a moved host, credentials it
 * rotated itself): the vars of every live attachment change, one release per app. Names are
 * the service's declared config vars; the attachment's name replaces their prefix.
 */
export async function applyProviderConfig(
  ctx: BrokerContext,
  caller: { providerId: string; tokenId: string },
  providerInstanceId: string,
  input: { config: Record<string, string>; reason: string },
): Promise<{ releases: { app: string; version: number }[] }> {
  const instance = await ctx.db
    .selectFrom('service_instances')
    .select(['id', 'service_id'])
    .where('provider_id', '=', caller.providerId)
    .where('provider_instance_id', '=', providerInstanceId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (!instance) throw notFound(`instance "${providerInstanceId}" is not one of this provider's live instances`);
  const service = await ctx.db
    .selectFrom('services')
    .select(['slug', 'config_vars'])
    .where('id', '=', instance.service_id)
    .executeTakeFirstOrThrow();
  const layout = varLayout(service.slug, service.config_vars);
  const names = Object.keys(input.config);
  if (names.length === 0) throw badRequest('config: give at least one var');
  const unknown = names.find((n) => !layout.declared.includes(n));
  if (unknown) {
    throw badRequest(
      `config.${unknown}: not a config var the service declares (${layout.declared.join(', ') || 'none declared'})`,
    );
  }
  const attachments = await ctx.db
    .selectFrom('attachments as t')
    .innerJoin('apps as a', 'a.id', 't.app_id')
    .select(['t.id', 't.name', 't.app_id', 'a.name as app'])
    .where('t.addon_id', '=', instance.id)
    .where('t.detached_at', 'is', null)
    .where('t.state', 'in', ['attached', 'rotating'])
    .execute();
  const byApp = new Map<string, typeof attachments>();
  for (const a of attachments) byApp.set(a.app_id, [...(byApp.get(a.app_id) ?? []), a]);
  const releases: { app: string; version: number }[] = [];
  for (const [appId, list] of byApp) {
    const release = await ctx.db.transaction().execute((trx) =>
      applyConfigChange(ctx, trx, {
        appId,
        changes: list.flatMap((attachment) =>
          names.map((declared) => {
            const suffix = layout.suffixes[layout.declared.indexOf(declared)] ?? declared;
            return {
              name: `${attachment.name}_${suffix}`,
              value: input.config[declared] ?? null,
              attachmentId: attachment.id,
            };
          }),
        ),
        actor: { kind: 'provider', id: caller.tokenId, name: 'provider' },
        reason: input.reason || 'Config pushed by the provider',
      }),
    );
    if (release) releases.push({ app: list[0]?.app ?? appId, version: release.version });
  }
  return { releases };
}

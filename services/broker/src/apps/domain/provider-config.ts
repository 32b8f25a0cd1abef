import type { BrokerContext } from '../../shared/domain/context.js';
import { badRequest, notFound } from '../../shared/domain/errors.js';
import { findLiveInstanceOfProvider } from '../db/addons.js';
import { listCredentialedAttachments } from '../db/attachments.js';
import { serviceConfigVarsById } from '../db/plans.js';
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
  const instance = await findLiveInstanceOfProvider(ctx.db, caller.providerId, providerInstanceId);
  if (!instance) throw notFound(`instance "${providerInstanceId}" is not one of this provider's live instances`);
  const service = await serviceConfigVarsById(ctx.db, instance.service_id);
  const layout = varLayout(service.slug, service.config_vars);
  const names = Object.keys(input.config);
  if (names.length === 0) throw badRequest('config: give at least one var');
  const unknown = names.find((n) => !layout.declared.includes(n));
  if (unknown) {
    throw badRequest(
      `config.${unknown}: not a config var the service declares (${layout.declared.join(', ') || 'none declared'})`,
    );
  }
  const attachments = await listCredentialedAttachments(ctx.db, instance.id);
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

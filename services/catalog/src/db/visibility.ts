import type { DB } from '@annex/platform';
import { type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import type { Viewer } from '../domain/visibility.js';

type PlanScope = ExpressionBuilder<DB & { p: DB['plans'] }, 'p'>;

/** SQL: plan `p` is live and visible to the viewer. */
export function planVisibleTo(viewer: Viewer) {
  return (eb: PlanScope) => {
    const live = eb('p.removed_at', 'is', null);
    if (viewer.organizations === 'all') return live;
    const orgs = [...viewer.organizations];
    const own = viewer.providerId;
    return eb.and([
      live,
      eb.or([
        eb('p.visibility', '=', 'public'),
        ...(orgs.length > 0 ? [sql<SqlBool>`p.allowed_organizations && ${orgs}::text[]`] : []),
        ...(own
          ? [sql<SqlBool>`exists (select 1 from services own where own.id = p.service_id and own.provider_id = ${own})`]
          : []),
      ]),
    ]);
  };
}

/**
 * SQL: service `s` is live and has at least one plan the viewer may see. A live public
 * plan is a column publishing keeps (`has_public_plans`), so the common case probes no
 * plans at all; only private plans (for viewers with organizations or their own
 * provider) and admins' view need the per-service subquery.
 */
export function serviceVisibleTo(viewer: Viewer) {
  return (eb: ExpressionBuilder<DB & { s: DB['services'] }, 's'>) => {
    const live = eb('s.removed_at', 'is', null);
    const anyPlan = (filter: (inner: PlanScope) => ReturnType<ReturnType<typeof planVisibleTo>>) =>
      eb.exists(
        eb
          .selectFrom('plans as p')
          .select(sql.lit(1).as('one'))
          .whereRef('p.service_id', '=', 's.id')
          .where((inner) => filter(inner as unknown as PlanScope)),
      );
    if (viewer.organizations === 'all') return eb.and([live, anyPlan(planVisibleTo(viewer))]);
    const privateReach = viewer.organizations.length > 0 || viewer.providerId !== undefined;
    return eb.and([
      live,
      privateReach
        ? eb.or([eb('s.has_public_plans', '=', true), anyPlan(planVisibleTo(viewer))])
        : eb('s.has_public_plans', '=', true),
    ]);
  };
}

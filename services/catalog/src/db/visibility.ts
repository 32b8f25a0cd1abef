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

/** SQL: service `s` is live and has at least one plan the viewer may see. */
export function serviceVisibleTo(viewer: Viewer) {
  return (eb: ExpressionBuilder<DB & { s: DB['services'] }, 's'>) =>
    eb.and([
      eb('s.removed_at', 'is', null),
      eb.exists(
        eb
          .selectFrom('plans as p')
          .select(sql.lit(1).as('one'))
          .whereRef('p.service_id', '=', 's.id')
          .where((inner) => planVisibleTo(viewer)(inner as unknown as PlanScope)),
      ),
    ]);
}

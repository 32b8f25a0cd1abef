import type { DB } from '@annex/platform';
import { type ExpressionBuilder, type RawBuilder, type SqlBool, sql } from 'kysely';
import type { Viewer } from '../domain/visibility.js';

type PlanScope = ExpressionBuilder<DB & { p: DB['plans'] }, 'p'>;

/**
 * What the visibility SQL's text depends on: the viewer's kind. Its values (`ViewerValues`)
 * are parameters, so a prepared read compiles once per kind.
 */
export interface ViewerChoices {
  /** Admins: every live plan. */
  all: boolean;
  /** Private plans allowed to one of `orgs`. */
  orgs: boolean;
  /** Every plan of provider `own`. */
  own: boolean;
}

export interface ViewerValues {
  orgs: readonly string[];
  own: string | null;
}

export function viewerChoices(viewer: Viewer): ViewerChoices {
  const all = viewer.organizations === 'all';
  return {
    all,
    orgs: !all && viewer.organizations.length > 0,
    own: !all && viewer.providerId !== undefined,
  };
}

export function viewerValues(viewer: Viewer): ViewerValues {
  return {
    orgs: viewer.organizations === 'all' ? [] : viewer.organizations,
    own: viewer.providerId ?? null,
  };
}

/** SQL: plan `p` is live and visible to the viewer. */
export function planVisibleTo(viewer: Viewer) {
  return planVisible(viewerChoices(viewer), viewerValues(viewer));
}

/** SQL: plan `p` is live and visible to a viewer of this kind with these values (or slots). */
export function planVisible(choices: ViewerChoices, values: ViewerValues) {
  return (eb: PlanScope) => {
    const live = eb('p.removed_at', 'is', null);
    if (choices.all) return live;
    return eb.and([
      live,
      eb.or([
        eb('p.visibility', '=', 'public'),
        ...(choices.orgs ? [sql<SqlBool>`p.allowed_organizations && ${values.orgs}::text[]`] : []),
        ...(choices.own
          ? [
              sql<SqlBool>`exists (select 1 from services own where own.id = p.service_id and own.provider_id = ${values.own})`,
            ]
          : []),
      ]),
    ]);
  };
}

/**
 * SQL: service `s` is live, its stage lets the viewer see it, and it has at least one plan
 * the viewer may see. An ALPHA service is seen only by the organizations its provider invited
 * (`service_invitations`), its own provider and admins; every other stage by anyone who sees
 * one of its plans. A live public plan is a column publishing keeps (`has_public_plans`), so
 * the common case probes no plans at all; only private plans (for viewers with organizations
 * or their own provider) and admins' view need the per-service subquery. Everything stays
 * inside the one statement that reads the services.
 */
export function serviceVisibleTo(viewer: Viewer) {
  return serviceVisible(viewerChoices(viewer), viewerValues(viewer));
}

/** SQL: service `s` is visible to a viewer of this kind with these values (or slots). */
export function serviceVisible(choices: ViewerChoices, values: ViewerValues) {
  return (eb: ExpressionBuilder<DB & { s: DB['services'] }, 's'>) => {
    const live = eb('s.removed_at', 'is', null);
    const anyPlan = () =>
      eb.exists(
        eb
          .selectFrom('plans as p')
          .select(sql.lit(1).as('one'))
          .whereRef('p.service_id', '=', 's.id')
          .where((inner) => planVisible(choices, values)(inner as unknown as PlanScope)),
      );
    if (choices.all) return eb.and([live, anyPlan()]);
    const privateReach = choices.orgs || choices.own;
    return eb.and([
      live,
      stageVisible(choices, values),
      privateReach ? eb.or([eb('s.has_public_plans', '=', true), anyPlan()]) : eb('s.has_public_plans', '=', true),
    ]);
  };
}

/** SQL: service `s`'s stage lets a viewer (not an admin) see it: not ALPHA, or invited, or its own. */
function stageVisible(choices: ViewerChoices, values: ViewerValues) {
  const reaches: RawBuilder<SqlBool>[] = [sql<SqlBool>`s.stage <> 'alpha'`];
  if (choices.orgs) {
    reaches.push(sql<SqlBool>`exists (select 1 from service_invitations si
      join organizations si_o on si_o.id = si.organization_id
      where si.service_id = s.id and si_o.slug = any(${values.orgs}::text[]))`);
  }
  if (choices.own) reaches.push(sql<SqlBool>`s.provider_id = ${values.own}`);
  return sql<SqlBool>`(${sql.join(reaches, sql` or `)})`;
}

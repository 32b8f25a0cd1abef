import { CliError } from './client.js';
import type { Runtime } from './command.js';
import { ERROR } from './graphql.js';
import { money } from './output.js';

// `--dry-run` of addons:create and addons:attach: the catalog's attachPreflight, printed.

export interface PreflightView {
  ok: boolean;
  serviceSlug: string;
  planSlug: string;
  priceCents: number;
  currency: string;
  free: boolean;
  configVars: string[];
  collisions: { name: string; owner: string }[];
  parameterErrors: { path: string; message: string }[];
  problems: string[];
  /** Billing (docs/billing.md). */
  prorationCents: number | null;
  prorationUntil: string | null;
  billingMode: string;
  paymentRequired: boolean;
  billingNotice: string | null;
}

const PREFLIGHT =
  'ok serviceSlug planSlug priceCents currency free configVars collisions { name owner } parameterErrors { path message } problems prorationCents prorationUntil billingMode paymentRequired billingNotice';

export function priceOf(p: { free: boolean; priceCents: number; currency: string }): string {
  return p.free ? 'free' : `${money(p.priceCents, p.currency)}/month`;
}

/** Asks the catalog what attaching (or creating) would do; creates nothing. */
export async function preflight(ctx: Pick<Runtime, 'client'>, input: Record<string, unknown>): Promise<PreflightView> {
  const data = await ctx.client().request<{ attachPreflight: PreflightView & { __typename: string } }>(
    `query($input: AttachPreflightInput!) { attachPreflight(input: $input) {
      __typename ... on Preflight { ${PREFLIGHT} } ${ERROR}
      ... on InvalidInput { inputProblems: problems { path message } } } }`,
    { input },
  );
  const result = data.attachPreflight;
  // Preflight's `problems` are words and InvalidInput's are objects: one is aliased.
  if (result.__typename !== 'Preflight') {
    const failure = result as unknown as { message?: string; inputProblems?: { path: string; message: string }[] };
    throw new CliError(
      failure.message ?? `unexpected ${result.__typename}`,
      1,
      (failure.inputProblems ?? []).map((p) => `${p.path}: ${p.message}`),
    );
  }
  return result;
}

/** Prints a preflight; the exit code is 0 when the real command would succeed, else 1. */
export function printPreflight(
  ctx: Pick<Runtime, 'json' | 'print' | 'printJson'>,
  preflight: PreflightView,
  target: string,
): number {
  if (ctx.json) {
    ctx.printJson(preflight);
    return preflight.ok ? 0 : 1;
  }
  const lines = [
    `Dry run: ${target} (nothing was created)`,
    `  plan:         ${preflight.serviceSlug}:${preflight.planSlug}, ${priceOf(preflight)}`,
    `  config vars:  ${preflight.configVars.join(', ') || '(none)'}`,
  ];
  if (preflight.prorationCents !== null) {
    lines.push(
      `  this month:   ${money(preflight.prorationCents, preflight.currency)} until ${preflight.prorationUntil?.slice(0, 10)} (per second)`,
    );
  }
  if (preflight.billingNotice && !preflight.paymentRequired) lines.push(`  billing:      ${preflight.billingNotice}`);
  for (const c of preflight.collisions) lines.push(`  collision:    ${c.name} is already set, owned by ${c.owner}`);
  for (const e of preflight.parameterErrors) lines.push(`  parameter:    ${e.path || '(root)'}: ${e.message}`);
  // Problems restate the collisions and parameter errors in words; list only the others.
  const said = preflight.parameterErrors.map((e) => `${e.path}: ${e.message}`);
  const collided = preflight.collisions.map((c) => new RegExp(`\\b${c.name}\\b`));
  for (const p of preflight.problems) {
    if (!said.includes(p) && !collided.some((name) => name.test(p))) lines.push(`  problem:      ${p}`);
  }
  lines.push(
    preflight.ok
      ? '  outcome:      would succeed'
      : `  outcome:      would be refused${preflight.collisions.length > 0 ? ' (--replace takes over colliding vars)' : ''}`,
  );
  ctx.print(lines.join('\n'));
  return preflight.ok ? 0 : 1;
}

import { CliError } from './client.js';
import type { Runtime } from './command.js';
import { EXIT_CODES, type ExitCode } from './exit-codes.js';
import { ErrorFields, graphql, type ResultOf, type VariablesOf } from './graphql.js';
import { money } from './output.js';

// `--dry-run` of addons:create and addons:attach: the catalog's attachPreflight, printed.

const PreflightFields = graphql(`
  fragment PreflightFields on Preflight {
    ok serviceSlug planSlug priceCents currency free attachmentName nameTaken configVars collisions { name owner }
    parameterErrors { path message } problems prorationCents prorationUntil billingMode paymentRequired billingNotice
    serviceHealth warnings
  }
`);

export type PreflightView = ResultOf<typeof PreflightFields>;

// Preflight's `problems` are words and InvalidInput's are objects: one is aliased.
const ATTACH_PREFLIGHT = graphql(
  `
  query AttachPreflight($input: AttachPreflightInput!) {
    attachPreflight(input: $input) {
      __typename ...PreflightFields ...ErrorFields
      ... on InvalidInput { inputProblems: problems { path message } }
    }
  }
`,
  [PreflightFields, ErrorFields],
);

export function priceOf(p: { free: boolean; priceCents: number; currency: string }): string {
  return p.free ? 'free' : `${money(p.priceCents, p.currency)}/month`;
}

/** Asks the catalog what attaching (or creating) would do; creates nothing. */
export async function preflight(
  ctx: Pick<Runtime, 'client'>,
  input: VariablesOf<typeof ATTACH_PREFLIGHT>['input'],
): Promise<PreflightView> {
  const result = (await ctx.client().request(ATTACH_PREFLIGHT, { input })).attachPreflight;
  if (result.__typename === 'Preflight') return result;
  const inputProblems = 'inputProblems' in result ? result.inputProblems : [];
  throw new CliError(
    result.message,
    EXIT_CODES.refused,
    inputProblems.map((p) => `${p.path}: ${p.message}`),
  );
}

/** Prints a preflight; the exit code is 0 when the real command would succeed, else 1. */
export function printPreflight(
  ctx: Pick<Runtime, 'json' | 'print' | 'printJson'>,
  preflight: PreflightView,
  target: string,
): ExitCode {
  if (ctx.json) {
    ctx.printJson(preflight);
    return preflight.ok ? EXIT_CODES.ok : EXIT_CODES.refused;
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
  for (const w of preflight.warnings) lines.push(`  warning:      ${w}`);
  // The vars of an attachment whose name is taken go with that name: --as, not --replace.
  const sameName = `attachment:${preflight.attachmentName}`;
  const replaceable = preflight.collisions
    .filter((c) => !(preflight.nameTaken && c.owner === sameName))
    .map((c) => c.name);
  lines.push(
    preflight.ok
      ? '  outcome:      would succeed'
      : `  outcome:      would be refused${replaceable.length > 0 ? ` (--replace takes over ${replaceable.join(', ')})` : ''}`,
  );
  ctx.print(lines.join('\n'));
  return preflight.ok ? EXIT_CODES.ok : EXIT_CODES.refused;
}

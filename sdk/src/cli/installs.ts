import { type CatalogTarget, catalogRequest } from './catalog-request.js';
import { CliError, EXIT_CODES } from './exit-codes.js';
import type { CliIo } from './io.js';

/**
 * The provider's installations as the catalog serves them (`Provider.installations`).
 *
 * @example
 * await fetch(catalogUrl, { method: 'POST', body: JSON.stringify({ query: INSTALLS_QUERY, variables: { provider, first: 100 } }) });
 */
export const INSTALLS_QUERY =
  'query Installs($provider: String!, $first: Int, $after: String, $plan: String, $state: AddonState) { provider(slug: $provider) { installations(first: $first, after: $after, plan: $plan, state: $state) { totalCount edges { node { name service plan state region organization { name apps } lastError createdAt updatedAt } } pageInfo { hasNextPage endCursor } } } }';

const STATES = ['provisioning', 'provisioned', 'changing_plan', 'failed', 'destroying', 'destroyed', 'suspended'];
const PAGE = 100;

interface InstallationRow {
  name: string;
  service: string;
  plan: string;
  state: string;
  region: string | null;
  organization: { name: string; apps: number };
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

interface InstallsAnswer {
  provider: {
    installations: {
      totalCount: number;
      edges: { node: InstallationRow }[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    } | null;
  } | null;
}

/** Columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/**
 * `annex-provider installs --provider SLUG [--plan P] [--state S] [--json]`: every add-on of the
 * provider's services (all pages), newest first, with the organization's name and apps count.
 */
export async function installsCommand(
  io: CliIo,
  target: CatalogTarget,
  options: { provider: string; plan?: string | undefined; state?: string | undefined; json: boolean },
): Promise<number> {
  if (options.state !== undefined && !STATES.includes(options.state)) {
    throw new CliError(`--state must be one of ${STATES.join(', ')}, not "${options.state}"`, EXIT_CODES.usage);
  }
  const rows: InstallationRow[] = [];
  let after: string | null = null;
  let total = 0;
  for (;;) {
    const data: InstallsAnswer = await catalogRequest<InstallsAnswer>(target, INSTALLS_QUERY, {
      provider: options.provider,
      first: PAGE,
      after,
      plan: options.plan ?? null,
      state: options.state?.toUpperCase() ?? null,
    });
    if (!data.provider) throw new CliError(`no provider ${options.provider} you can see`, EXIT_CODES.refused);
    const page = data.provider.installations;
    if (!page) throw new CliError('the catalog answered no installations', EXIT_CODES.refused);
    total = page.totalCount;
    rows.push(...page.edges.map((edge) => edge.node));
    if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) break;
    after = page.pageInfo.endCursor;
  }
  if (options.json) {
    io.stdout(
      JSON.stringify(
        {
          provider: options.provider,
          totalCount: total,
          installations: rows.map((row) => ({ ...row, state: row.state.toLowerCase() })),
        },
        null,
        2,
      ),
    );
    return EXIT_CODES.ok;
  }
  if (rows.length === 0) {
    io.stdout(
      `${options.provider} has no installations${options.plan || options.state ? ' matching the filters' : ''}`,
    );
    return EXIT_CODES.ok;
  }
  for (const line of table(
    ['ADD-ON', 'SERVICE', 'PLAN', 'STATE', 'REGION', 'ORGANIZATION', 'APPS', 'CREATED', 'LAST ERROR'],
    rows.map((row) => [
      row.name,
      row.service,
      row.plan,
      row.state.toLowerCase(),
      row.region ?? '-',
      row.organization.name,
      String(row.organization.apps),
      row.createdAt.slice(0, 10),
      row.lastError ?? '',
    ]),
  ))
    io.stdout(line);
  io.stdout(`${total} installation${total === 1 ? '' : 's'}`);
  return EXIT_CODES.ok;
}

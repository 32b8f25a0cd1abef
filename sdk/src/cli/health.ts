import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type CatalogTarget, catalogRequest } from './catalog-request.js';
import { CliError, EXIT_CODES } from './exit-codes.js';
import type { CliIo } from './io.js';

/**
 * The catalog query of `annex-provider health`: the provider's `health`, as `--json` prints it.
 *
 * @example
 * await catalogRequest(target, HEALTH_QUERY, { provider: 'acme', service: null });
 */
export const HEALTH_QUERY = `query ProviderHealth($provider: String!, $service: String) {
  provider(slug: $provider) {
    slug
    health(service: $service) {
      service generatedAt
      overall { lastHour { ...Stats } last30Days { ...Stats } }
      operations { operation lastHour { ...Stats } last30Days { ...Stats } }
      failures { operation service outcome status error description latencyMs at }
      hourly { start count errors errorRate p50Ms }
      daily { start count errors errorRate p50Ms }
    }
  }
}
fragment Stats on CallStats { count errors errorRate p50Ms p99Ms }`;

interface Stats {
  count: number;
  errors: number;
  errorRate: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

interface Failure {
  operation: string;
  service: string | null;
  outcome: string;
  status: number | null;
  error: string | null;
  description: string | null;
  latencyMs: number;
  at: string;
}

interface Health {
  service: string | null;
  generatedAt: string;
  overall: { lastHour: Stats; last30Days: Stats };
  operations: { operation: string; lastHour: Stats; last30Days: Stats }[];
  failures: Failure[];
}

/**
 * Which provider the command is about: `--provider`, else `ANNEX_PROVIDER`, else the `slug`
 * of the manifest (`annex.json` in the working directory, or `--manifest`).
 */
export async function providerSlugOf(
  io: CliIo,
  options: { provider: string | undefined; manifest: string | undefined },
): Promise<string> {
  if (options.provider) return options.provider;
  if (io.env.ANNEX_PROVIDER) return io.env.ANNEX_PROVIDER;
  const path = resolve(io.cwd, options.manifest ?? 'annex.json');
  let slug: unknown;
  try {
    slug = (JSON.parse(await readFile(path, 'utf8')) as { slug?: unknown }).slug;
  } catch (error) {
    throw new CliError(
      `which provider? pass --provider SLUG, or run where annex.json is (cannot read ${path}: ${(error as Error).message})`,
      EXIT_CODES.usage,
    );
  }
  if (typeof slug !== 'string' || slug === '') {
    throw new CliError(`which provider? ${path} has no slug; pass --provider SLUG`, EXIT_CODES.usage);
  }
  return slug;
}

const ms = (value: number | null) => (value === null ? '-' : `${Math.round(value)}ms`);
const percent = (stats: Stats) => (stats.count === 0 ? '-' : `${(stats.errorRate * 100).toFixed(1)}%`);
const cells = (stats: Stats) => [
  String(stats.count),
  String(stats.errors),
  percent(stats),
  ms(stats.p50Ms),
  ms(stats.p99Ms),
];

/** Rows of cells as aligned text: the first column to the left, the others to the right. */
function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** The report as text: per operation the last hour and the last 30 days, then the recent failures. */
export function formatHealth(provider: string, health: Health): string[] {
  const scope = health.service ? `service ${health.service}` : 'all services';
  const lines = [`Health of ${provider} (${scope}) at ${health.generatedAt}`, ''];
  if (health.overall.last30Days.count === 0) {
    lines.push('No calls to this provider in the last 30 days.');
    return lines;
  }
  const columns = ['errors', 'rate', 'p50', 'p99'];
  const rows = [
    ['operation', 'calls 1h', ...columns, 'calls 30d', ...columns],
    ...health.operations.map((o) => [o.operation, ...cells(o.lastHour), ...cells(o.last30Days)]),
    ['all', ...cells(health.overall.lastHour), ...cells(health.overall.last30Days)],
  ];
  lines.push(...table(rows));
  lines.push('');
  if (health.failures.length === 0) {
    lines.push('No failed calls in the last 30 days.');
    return lines;
  }
  lines.push(`Recent failures (newest first, ${health.failures.length}):`);
  for (const f of health.failures) {
    const status = f.status === null ? f.outcome : `${f.status}`;
    const answer = [f.error, f.description].filter((part) => part).join(': ') || '(no description)';
    lines.push(`  ${f.at}  ${f.operation}  ${f.service ?? '-'}  ${status}  ${f.latencyMs}ms  ${answer}`);
  }
  return lines;
}

/** `annex-provider health [--provider slug] [--service S] [--json]`: the provider's health from the catalog. */
export async function healthCommand(
  io: CliIo,
  options: CatalogTarget & { provider: string; service: string | undefined; json: boolean },
): Promise<number> {
  const data = await catalogRequest<{ provider: { slug: string; health: Health } | null }>(options, HEALTH_QUERY, {
    provider: options.provider,
    service: options.service ?? null,
  });
  if (!data.provider) {
    throw new CliError(`the catalog has no provider ${options.provider} this token can see`, EXIT_CODES.refused);
  }
  if (options.json) io.stdout(JSON.stringify(data.provider.health, null, 2));
  else io.stdout(formatHealth(data.provider.slug, data.provider.health).join('\n'));
  return EXIT_CODES.ok;
}

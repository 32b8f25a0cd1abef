import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { validateManifest } from '../manifest.js';
import { catalogRequest } from './catalog-request.js';
import { CliError, EXIT_CODES } from './exit-codes.js';
import type { CliIo } from './io.js';
import { probeOsbEndpoint } from './probe.js';

/**
 * The catalog mutation, exactly as the catalog serves it.
 *
 * @example
 * await fetch(catalogUrl, { method: 'POST', body: JSON.stringify({ query: PUBLISH_MUTATION, variables: { manifest } }) });
 */
export const PUBLISH_MUTATION =
  'mutation Publish($manifest: JSON!) { publishManifest(manifest: $manifest) { __typename ... on ManifestPublished { revision unchanged provider { slug } pendingReviews { serviceSlug } } ... on ManifestInvalid { message problems { path message } } ... on Error { message } } }';

interface PublishResult {
  __typename?: string;
  revision?: number;
  unchanged?: boolean;
  provider?: { slug: string };
  pendingReviews?: { serviceSlug: string }[];
  message?: string;
  problems?: { path: string; message: string }[];
}

/** `annex-provider publish [manifest] --catalog URL --token T [--force]`: validate, probe, publish. */
export async function publishCommand(
  io: CliIo,
  file: string,
  options: { catalog: string; token: string | undefined; force: boolean },
): Promise<number> {
  let input: unknown;
  const path = resolve(io.cwd, file);
  try {
    input = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new CliError(`cannot read the manifest ${path}: ${(error as Error).message}`, EXIT_CODES.refused);
  }
  const validation = validateManifest(input);
  if (!validation.ok) {
    throw new CliError(
      `${file} is not a valid manifest (${validation.problems.length} problems):`,
      EXIT_CODES.refused,
      validation.problems.map((problem) => `${problem.path}: ${problem.message}`),
    );
  }
  if (!options.token) throw new CliError('no catalog token: pass --token or set ANNEX_TOKEN', EXIT_CODES.unreachable);

  // A manifest whose endpoint does not answer publishes fine and fails at the first provision.
  const osbUrl = validation.manifest.osb.url;
  const { problem } = await probeOsbEndpoint(osbUrl);
  if (problem && !options.force) {
    throw new CliError(
      `the manifest's osb.url ${osbUrl} does not answer as an OSB endpoint (${problem}); start the provider there, fix osb.url, or pass --force to publish anyway`,
      EXIT_CODES.unreachable,
    );
  }
  if (problem) {
    io.stderr(
      `warning: the manifest's osb.url ${osbUrl} does not answer as an OSB endpoint (${problem}); publishing anyway (--force)`,
    );
  }

  const data = await catalogRequest<{ publishManifest?: PublishResult }>(options, PUBLISH_MUTATION, {
    manifest: input,
  });
  const result = data.publishManifest;
  switch (result?.__typename) {
    case 'ManifestPublished':
      io.stdout(
        `published ${result.provider?.slug}: revision ${result.revision}${result.unchanged ? ' (unchanged, nothing new to publish)' : ''}`,
      );
      // GA is an admin's decision: asking for it in the manifest files a request.
      for (const review of result.pendingReviews ?? []) {
        io.stdout(`GA requested for ${review.serviceSlug}: listed BETA until an admin approves it`);
      }
      return EXIT_CODES.ok;
    case 'ManifestInvalid':
      throw new CliError(
        `the catalog refused the manifest: ${result.message}`,
        EXIT_CODES.refused,
        (result.problems ?? []).map((problem) => `${problem.path}: ${problem.message}`),
      );
    default:
      throw new CliError(
        `publishing failed: ${result?.message ?? JSON.stringify(data)}${result?.__typename ? ` (${result.__typename})` : ''}`,
        EXIT_CODES.refused,
      );
  }
}

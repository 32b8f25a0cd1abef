import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { validateManifest } from '../manifest.js';
import type { CliIo } from './io.js';

/**
 * The catalog mutation, exactly as the catalog serves it.
 *
 * @example
 * await fetch(catalogUrl, { method: 'POST', body: JSON.stringify({ query: PUBLISH_MUTATION, variables: { manifest } }) });
 */
export const PUBLISH_MUTATION =
  'mutation Publish($manifest: JSON!) { publishManifest(manifest: $manifest) { __typename ... on ManifestPublished { revision unchanged provider { slug } } ... on ManifestInvalid { message problems { path message } } ... on Error { message } } }';

interface PublishResult {
  __typename?: string;
  revision?: number;
  unchanged?: boolean;
  provider?: { slug: string };
  message?: string;
  problems?: { path: string; message: string }[];
}

/** `annex-provider publish [manifest] --catalog URL --token T`: validate locally, then publish. */
export async function publishCommand(
  io: CliIo,
  file: string,
  options: { catalog: string; token: string | undefined },
): Promise<number> {
  let input: unknown;
  const path = resolve(io.cwd, file);
  try {
    input = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    io.stderr(`cannot read the manifest ${path}: ${(error as Error).message}`);
    return 1;
  }
  const validation = validateManifest(input);
  if (!validation.ok) {
    io.stderr(`${file} is not a valid manifest (${validation.problems.length} problems):`);
    for (const problem of validation.problems) io.stderr(`  ${problem.path}: ${problem.message}`);
    return 1;
  }
  if (!options.token) {
    io.stderr('no catalog token: pass --token or set ANNEX_TOKEN');
    return 1;
  }
  let answer: { data?: { publishManifest?: PublishResult }; errors?: { message: string }[] };
  try {
    const response = await fetch(options.catalog, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        Authorization: `Bearer ${options.token}`,
      },
      body: JSON.stringify({ query: PUBLISH_MUTATION, variables: { manifest: input } }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    try {
      answer = JSON.parse(text);
    } catch {
      io.stderr(`the catalog answered ${response.status} with something that is not JSON: ${text.slice(0, 300)}`);
      return 1;
    }
  } catch (error) {
    io.stderr(`cannot reach the catalog at ${options.catalog}: ${(error as Error).message}`);
    return 1;
  }
  if (answer.errors && answer.errors.length > 0) {
    for (const error of answer.errors) io.stderr(`catalog error: ${error.message}`);
    return 1;
  }
  const result = answer.data?.publishManifest;
  switch (result?.__typename) {
    case 'ManifestPublished':
      io.stdout(
        `published ${result.provider?.slug}: revision ${result.revision}${result.unchanged ? ' (unchanged, nothing new to publish)' : ''}`,
      );
      return 0;
    case 'ManifestInvalid':
      io.stderr(`the catalog refused the manifest: ${result.message}`);
      for (const problem of result.problems ?? []) io.stderr(`  ${problem.path}: ${problem.message}`);
      return 1;
    default:
      io.stderr(
        `publishing failed: ${result?.message ?? JSON.stringify(answer)}${result?.__typename ? ` (${result.__typename})` : ''}`,
      );
      return 1;
  }
}

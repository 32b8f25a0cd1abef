import { type ManifestValidation, validateManifest } from '@annex/sdk';

/**
 * Validates a manifest submitted to the catalog. The SDK's `validateManifest` is the one
 * source of truth, so `annex publish --dry-run` and the catalog agree on every problem.
 */
export function checkManifest(input: unknown): ManifestValidation {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, problems: [{ path: '(root)', message: 'a manifest is a JSON object' }] };
  }
  return validateManifest(input);
}

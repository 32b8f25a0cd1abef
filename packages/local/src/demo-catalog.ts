import type { ProviderManifestInput } from '@annex/sdk';
import type { ExampleStatus } from './examples.js';

/**
 * The demo catalog `npm start` publishes on a fresh installation, so there is something to
 * browse: the manifest of every example provider in `examples/`, each from its own package,
 * pointed at where this process serves it (or would, once its server URL is set).
 */
export function demoManifests(examples: readonly Pick<ExampleStatus, 'manifest'>[]): ProviderManifestInput[] {
  return examples.map((example) => example.manifest);
}

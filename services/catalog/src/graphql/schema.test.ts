import { readFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from './schema.js';

describe('schema.graphql', () => {
  it('matches the schema the code builds (run `npm run schema:print` after changing a type)', () => {
    const committed = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(`${printSchema(schema)}\n`);
  });

  it('has the publish mutation shape the SDK CLI calls', () => {
    const printed = printSchema(schema);
    expect(printed).toContain('publishManifest(manifest: JSON!): PublishManifestResult!');
    expect(printed).toMatch(/union PublishManifestResult = [^\n]*ManifestPublished/);
    for (const member of ['ManifestInvalid', 'PlanInUse', 'NotAuthorized', 'IdConflict']) {
      expect(printed).toMatch(new RegExp(`union PublishManifestResult = [^\\n]*\\b${member}\\b`));
      expect(printed).toMatch(new RegExp(`type ${member} implements Error`));
    }
  });
});

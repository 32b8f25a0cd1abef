import { createRequire } from 'node:module';
import { mergeConfig } from 'vitest/config';
import base from '../../vitest.base.js';

// graphql 16 ships CJS (index.js) and ESM (index.mjs) without an exports map. Node loads
// the CJS one for Pothos and yoga; Vite would hand our sources the ESM one, and two
// copies of graphql reject each other's types. Pin both to the file Node picks.
const graphql = createRequire(import.meta.url).resolve('graphql');

export default mergeConfig(base, {
  resolve: { alias: [{ find: /^graphql$/, replacement: graphql }] },
});

export {
  type ConformanceBroker,
  type SsoClaims,
  startConformanceBroker,
  type TokenOverrides,
} from './broker.js';
export {
  type CheckResult,
  type CheckStatus,
  type ConformanceAuth,
  type ConformanceOptions,
  type ConformanceReport,
  formatCheck,
  formatReport,
  runConformance,
} from './kit.js';
export { invalidParameters, sampleFromSchema } from './sample.js';

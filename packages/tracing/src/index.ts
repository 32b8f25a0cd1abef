export { type SamplerConfig, TRACING_OFF, type TracingConfig, TracingConfigError, tracingConfig } from './config.js';
export {
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseTraceparent,
  parseTracestate,
  type SpanContext,
} from './context.js';
export { nameServerSpan, traceOutbound, traceRequests } from './http.js';
export {
  type Attributes,
  type AttributeValue,
  childSpan,
  currentContext,
  currentSpan,
  type FinishedSpan,
  injectTraceHeaders,
  NO_TRACING,
  now,
  Span,
  type SpanKind,
  type SpanOptions,
  type SpanSink,
  type SpanStatus,
  Tracer,
  withRemoteContext,
  withSpan,
} from './tracer.js';

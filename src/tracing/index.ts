/**
 * Tracing through `node:diagnostics_channel`: the channel names, the version of the OpenTelemetry
 * semantic conventions their attributes follow, and the context object each channel publishes.
 * See docs/tracing.md; `rhea-rx/opentelemetry` turns these into OpenTelemetry spans.
 */
export {
  CONNECT_CHANNEL,
  type ConnectTraceContext,
  RECEIVE_CHANNEL,
  type ReceiveTraceContext,
  SEMCONV_VERSION,
  SEND_CHANNEL,
  type SendTraceContext,
  type SendTraceOutcome,
  SETTLE_CHANNEL,
  type SettleReason,
  type SettleTraceContext,
  type TraceAttributes,
  type TraceContextBase,
} from './channels.js';

/**
 * Telemetry: the public API of src/telemetry.
 *
 * - Recording (any layer): the catalogue `METRICS` + `counter()/histogram()/gauge()`,
 *   or @opentelemetry/api directly with a name from the catalogue.
 * - Traces across Kafka: `injectTraceContext(headers)`, `extractTraceContext(headers)`,
 *   `linksFromHeaders(batch)`.
 * - SDK (the CLI only): `startTelemetry({ serviceName, prometheusPort, otlpTraces, otlpMetrics })` -> `{ health, shutdown() }`;
 *   `telemetryOptionsFromEnv(defaults)` reads the standard `OTEL_*` variables (OTLP span export included).
 * - Logging: `createLogger(component)`, `setLogLevel(level)`.
 */
export { createLogger, setLogLevel, type Logger } from './logger.ts';
export {
  METRICS,
  METRIC_ATTRIBUTES,
  allMetricDefinitions,
  prometheusName,
  renderMetricCatalogue,
  STORE_LATENCY_BUCKETS,
  BATCH_LATENCY_BUCKETS,
  RESTORE_DURATION_BUCKETS,
  CYCLE_DURATION_BUCKETS,
  MODEL_LATENCY_BUCKETS,
  QUEUE_WAIT_BUCKETS,
  SIZE_BUCKETS,
  type InstrumentKind,
  type MetricDefinition,
  type MetricKey,
} from './metric-names.ts';
export {
  counter,
  histogram,
  gauge,
  upDownCounter,
  ctrMeter,
  meterProviderChanged,
  METER_NAME,
  CtrCounter,
  CtrHistogram,
  CtrGauge,
  CtrUpDownCounter,
} from './instruments.ts';
export {
  injectTraceContext,
  extractTraceContext,
  spanContextFromHeaders,
  linksFromHeaders,
  traceHeadersOf,
  TRACE_HEADERS,
  type TraceCarrier,
  type InjectedTraceHeaders,
} from './trace-context.ts';
export {
  HealthRegistry,
  type HealthCheck,
  type HealthCheckResult,
  type HealthKind,
  type HealthReport,
  type HealthStatus,
} from './health.ts';
export {
  startTelemetry,
  DEFAULT_PROMETHEUS_PORT,
  type Telemetry,
  type TelemetryOptions,
} from './start-telemetry.ts';
export {
  TelemetryError,
  TelemetryConfigError,
  TELEMETRY_ERROR_CODES,
  type TelemetryErrorCode,
} from './errors.ts';
export { telemetryOptionsFromEnv, TELEMETRY_ENV_VARS } from './telemetry-env.ts';
export {
  OTLP_PROTOCOLS,
  OTLP_HTTP_DEFAULTS,
  DEFAULT_OTLP_ENDPOINT,
  redactUrl,
  type OtlpHttpExport,
  type OtlpProtocol,
} from './otlp-http.ts';
export {
  createOtlpSpanProcessor,
  createOtlpTraceExporter,
  DEFAULT_OTLP_TRACES_URL,
  OTLP_TRACE_DEFAULTS,
  type OtlpTraceExport,
} from './otlp-traces.ts';
export {
  createOtlpMetricReader,
  DEFAULT_OTLP_METRICS_URL,
  OTLP_METRIC_DEFAULTS,
  OTLP_TEMPORALITIES,
  type OtlpMetricExport,
  type OtlpTemporality,
} from './otlp-metrics.ts';

/**
 * Span export over OTLP/HTTP to a collector (OpenTelemetry Collector, Jaeger,
 * Tempo, ...) with the official exporters. Spans are queued in a
 * BatchSpanProcessor: bounded, so a slow or absent collector costs dropped
 * spans, never memory or a blocked event loop; the queue is flushed when the
 * tracer provider shuts down (`Telemetry.shutdown()`, which the CLI calls on
 * SIGTERM/SIGINT).
 *
 * `telemetryOptionsFromEnv` fills an `OtlpTraceExport` from the standard
 * `OTEL_EXPORTER_OTLP_*` / `OTEL_BSP_*` variables; code may build one too.
 */
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import {
  DEFAULT_OTLP_ENDPOINT,
  exporterOptions,
  otlpHttpExportProblems,
  OTLP_HTTP_DEFAULTS,
  positiveIntegerProblems,
  type OtlpHttpExport,
} from './otlp-http.ts';

/** The spec's default traces endpoint. */
export const DEFAULT_OTLP_TRACES_URL = `${DEFAULT_OTLP_ENDPOINT}v1/traces`;

/** Defaults, as the OpenTelemetry spec sets them for `OTEL_EXPORTER_OTLP_*` and `OTEL_BSP_*`. */
export const OTLP_TRACE_DEFAULTS = {
  ...OTLP_HTTP_DEFAULTS,
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMs: 5000,
  exportTimeoutMs: 30_000,
} as const satisfies Omit<Required<OtlpTraceExport>, 'url' | 'headers'>;

/** Where and how spans are exported. `url` is the traces endpoint, e.g. `http://otel-collector:4318/v1/traces`. */
export interface OtlpTraceExport extends OtlpHttpExport {
  /** Spans held while waiting for export; more are dropped (default 2048). */
  maxQueueSize?: number;
  /** Spans per export request, ≤ maxQueueSize (default 512). */
  maxExportBatchSize?: number;
  /** Delay between two exports when the batch is not full (ms, default 5000). */
  scheduledDelayMs?: number;
  /** Time the processor waits for one export before abandoning it (ms, default 30000). */
  exportTimeoutMs?: number;
}

/** Problems with an `OtlpTraceExport`, one message per field (empty when it is valid). */
export function otlpTraceExportProblems(config: OtlpTraceExport, prefix = 'otlpTraces'): string[] {
  const problems = [
    ...otlpHttpExportProblems(config, prefix),
    ...positiveIntegerProblems(config, ['maxQueueSize', 'maxExportBatchSize', 'exportTimeoutMs'], prefix),
  ];
  const delay = config.scheduledDelayMs;
  if (delay !== undefined && !(Number.isInteger(delay) && delay >= 0))
    problems.push(`${prefix}.scheduledDelayMs: expected an integer ≥ 0, got ${JSON.stringify(delay)}`);
  const queue = config.maxQueueSize ?? OTLP_TRACE_DEFAULTS.maxQueueSize;
  const batch = config.maxExportBatchSize ?? OTLP_TRACE_DEFAULTS.maxExportBatchSize;
  // the SDK would silently shrink the batch; a contradictory setting is a mistake to report
  if (Number.isInteger(queue) && Number.isInteger(batch) && batch > queue)
    problems.push(`${prefix}.maxExportBatchSize: ${batch} is larger than maxQueueSize ${queue}`);
  return problems;
}

/** The exporter for `config.protocol`; it reads TLS files (`OTEL_EXPORTER_OTLP_*CERTIFICATE`) from the environment. */
export function createOtlpTraceExporter(config: OtlpTraceExport): SpanExporter {
  const options = exporterOptions(config);
  return (config.protocol ?? OTLP_TRACE_DEFAULTS.protocol) === 'http/json'
    ? new JsonTraceExporter(options)
    : new ProtobufTraceExporter(options);
}

/** A BatchSpanProcessor with a bounded queue around the exporter for `config`. */
export function createOtlpSpanProcessor(config: OtlpTraceExport): BatchSpanProcessor {
  return new BatchSpanProcessor(createOtlpTraceExporter(config), {
    maxQueueSize: config.maxQueueSize ?? OTLP_TRACE_DEFAULTS.maxQueueSize,
    maxExportBatchSize: config.maxExportBatchSize ?? OTLP_TRACE_DEFAULTS.maxExportBatchSize,
    scheduledDelayMillis: config.scheduledDelayMs ?? OTLP_TRACE_DEFAULTS.scheduledDelayMs,
    exportTimeoutMillis: config.exportTimeoutMs ?? OTLP_TRACE_DEFAULTS.exportTimeoutMs,
  });
}

/**
 * Metric push over OTLP/HTTP, next to the Prometheus endpoint (which always
 * serves: it shares its port with the health checks). For backends that take
 * OTLP and do not scrape (Grafana Cloud, Honeycomb, a collector pipeline):
 * a PeriodicExportingMetricReader collects every `intervalMs` and exports
 * with the official exporter; the last interval is exported when the meter
 * provider shuts down.
 *
 * `telemetryOptionsFromEnv` fills an `OtlpMetricExport` when
 * `OTEL_METRICS_EXPORTER` lists `otlp` or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`
 * is set.
 */
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter as JsonMetricExporter,
} from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import {
  DEFAULT_OTLP_ENDPOINT,
  exporterOptions,
  otlpHttpExportProblems,
  OTLP_HTTP_DEFAULTS,
  positiveIntegerProblems,
  type OtlpHttpExport,
} from './otlp-http.ts';

/** The spec's default metrics endpoint. */
export const DEFAULT_OTLP_METRICS_URL = `${DEFAULT_OTLP_ENDPOINT}v1/metrics`;

/** Aggregation temporality asked of the exporter (the spec's `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`). */
export const OTLP_TEMPORALITIES = ['cumulative', 'delta', 'lowmemory'] as const;
export type OtlpTemporality = (typeof OTLP_TEMPORALITIES)[number];

/** Defaults, as the OpenTelemetry spec sets them (`OTEL_METRIC_EXPORT_INTERVAL` / `_TIMEOUT`). */
export const OTLP_METRIC_DEFAULTS = {
  ...OTLP_HTTP_DEFAULTS,
  intervalMs: 60_000,
  exportTimeoutMs: 30_000,
  temporality: 'cumulative',
} as const satisfies Omit<Required<OtlpMetricExport>, 'url' | 'headers'>;

/** Where and how metrics are pushed. `url` is the metrics endpoint, e.g. `http://otel-collector:4318/v1/metrics`. */
export interface OtlpMetricExport extends OtlpHttpExport {
  /** Time between two exports (ms, default 60000). */
  intervalMs?: number;
  /** Time one export may take, ≤ intervalMs (ms, default 30000). */
  exportTimeoutMs?: number;
  /** Default `cumulative` (what Prometheus-style backends expect). */
  temporality?: OtlpTemporality;
}

/** Problems with an `OtlpMetricExport`, one message per field (empty when it is valid). */
export function otlpMetricExportProblems(config: OtlpMetricExport, prefix = 'otlpMetrics'): string[] {
  const problems = [
    ...otlpHttpExportProblems(config, prefix),
    ...positiveIntegerProblems(config, ['intervalMs', 'exportTimeoutMs'], prefix),
  ];
  if (config.temporality !== undefined && !OTLP_TEMPORALITIES.includes(config.temporality))
    problems.push(
      `${prefix}.temporality: expected ${OTLP_TEMPORALITIES.join(', ')}, got ${JSON.stringify(config.temporality)}`,
    );
  const interval = config.intervalMs ?? OTLP_METRIC_DEFAULTS.intervalMs;
  const timeout = config.exportTimeoutMs ?? OTLP_METRIC_DEFAULTS.exportTimeoutMs;
  // the reader would shorten the timeout silently (or throw when both are given); say so instead
  if (Number.isInteger(interval) && Number.isInteger(timeout) && timeout > interval)
    problems.push(`${prefix}.exportTimeoutMs: ${timeout} is longer than intervalMs ${interval}`);
  return problems;
}

const TEMPORALITY = {
  cumulative: AggregationTemporalityPreference.CUMULATIVE,
  delta: AggregationTemporalityPreference.DELTA,
  lowmemory: AggregationTemporalityPreference.LOWMEMORY,
} as const;

/** A periodic reader around the OTLP metric exporter for `config.protocol`. */
export function createOtlpMetricReader(config: OtlpMetricExport): PeriodicExportingMetricReader {
  const options = {
    ...exporterOptions(config),
    temporalityPreference: TEMPORALITY[config.temporality ?? OTLP_METRIC_DEFAULTS.temporality],
  };
  const exporter =
    (config.protocol ?? OTLP_METRIC_DEFAULTS.protocol) === 'http/json'
      ? new JsonMetricExporter(options)
      : new ProtobufMetricExporter(options);
  return new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: config.intervalMs ?? OTLP_METRIC_DEFAULTS.intervalMs,
    exportTimeoutMillis: config.exportTimeoutMs ?? OTLP_METRIC_DEFAULTS.exportTimeoutMs,
  });
}

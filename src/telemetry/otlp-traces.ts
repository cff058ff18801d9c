/**
 * Span export over OTLP/HTTP to a collector (OpenTelemetry Collector, Jaeger,
 * Tempo, ...), with the official exporters: protobuf (the OTLP default, what
 * every collector accepts on port 4318) or JSON. Spans are queued in a
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

/** The OTLP transports this build can speak (`grpc` needs another exporter package and is not included). */
export const OTLP_TRACE_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpTraceProtocol = (typeof OTLP_TRACE_PROTOCOLS)[number];

/** The spec's default traces endpoint: a collector on this host, OTLP/HTTP port 4318. */
export const DEFAULT_OTLP_TRACES_URL = 'http://localhost:4318/v1/traces';

/** Defaults, as the OpenTelemetry spec sets them for `OTEL_EXPORTER_OTLP_*` and `OTEL_BSP_*`. */
export const OTLP_TRACE_DEFAULTS = {
  protocol: 'http/protobuf',
  timeoutMs: 10_000,
  compression: 'none',
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMs: 5000,
  exportTimeoutMs: 30_000,
} as const satisfies Omit<Required<OtlpTraceExport>, 'url' | 'headers'>;

/** Where and how spans are exported. */
export interface OtlpTraceExport {
  /** Full URL of the traces endpoint, e.g. `http://otel-collector:4318/v1/traces` (no path is appended). */
  url: string;
  /** Default `http/protobuf`. */
  protocol?: OtlpTraceProtocol;
  /** Extra HTTP headers, e.g. `{ authorization: 'Bearer …' }`; their values are never logged. */
  headers?: Record<string, string>;
  /** Time one export request may take, retries included (ms, default 10000). */
  timeoutMs?: number;
  /** Request body compression, default `none`. */
  compression?: 'gzip' | 'none';
  /** Spans held while waiting for export; more are dropped (default 2048). */
  maxQueueSize?: number;
  /** Spans per export request, ≤ maxQueueSize (default 512). */
  maxExportBatchSize?: number;
  /** Delay between two exports when the batch is not full (ms, default 5000). */
  scheduledDelayMs?: number;
  /** Time the processor waits for one export before abandoning it (ms, default 30000). */
  exportTimeoutMs?: number;
}

/**
 * Problems with an `OtlpTraceExport`, one message per field (empty when it is valid).
 * `prefix` names the option in messages (`otlpTraces`).
 */
export function otlpTraceExportProblems(config: OtlpTraceExport, prefix = 'otlpTraces'): string[] {
  const problems: string[] = [];
  let url: URL | undefined;
  try {
    url = new URL(config.url);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    problems.push(
      `${prefix}.url: expected an http:// or https:// URL, got ${JSON.stringify(redactUrl(String(config.url)))}`,
    );
  if (config.protocol !== undefined && !OTLP_TRACE_PROTOCOLS.includes(config.protocol))
    problems.push(
      `${prefix}.protocol: expected ${OTLP_TRACE_PROTOCOLS.join(' or ')}, got ${JSON.stringify(config.protocol)}`,
    );
  if (config.compression !== undefined && config.compression !== 'gzip' && config.compression !== 'none')
    problems.push(`${prefix}.compression: expected gzip or none, got ${JSON.stringify(config.compression)}`);
  const positive = ['timeoutMs', 'maxQueueSize', 'maxExportBatchSize', 'exportTimeoutMs'] as const;
  for (const field of positive) {
    const value = config[field];
    if (value !== undefined && !(Number.isInteger(value) && value > 0))
      problems.push(`${prefix}.${field}: expected an integer > 0, got ${JSON.stringify(value)}`);
  }
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

/** The exporters' compression type: a string enum of `gzip` / `none` declared in a transitive package. */
type ExporterCompression = NonNullable<
  NonNullable<ConstructorParameters<typeof JsonTraceExporter>[0]>['compression']
>;

/** The exporter for `config.protocol`; it reads TLS files (`OTEL_EXPORTER_OTLP_*CERTIFICATE`) from the environment. */
export function createOtlpTraceExporter(config: OtlpTraceExport): SpanExporter {
  const options = {
    url: config.url,
    headers: { ...config.headers },
    timeoutMillis: config.timeoutMs ?? OTLP_TRACE_DEFAULTS.timeoutMs,
    compression: (config.compression ?? OTLP_TRACE_DEFAULTS.compression) as ExporterCompression,
  };
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

/**
 * `url` without credentials, for logs and error messages: user info becomes
 * `***`, and so does the value of every query parameter (some backends take
 * an API key there).
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // unparseable: hide anything that looks like user info
    return url.replace(/\/\/[^/@]*@/, '//***@');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    parsed.username = '***';
    parsed.password = '';
  }
  for (const key of [...new Set(parsed.searchParams.keys())]) parsed.searchParams.set(key, '***');
  return parsed.toString();
}

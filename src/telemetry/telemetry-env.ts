/**
 * Telemetry options from environment variables, so that every deployment
 * (deploy/: Docker, Kubernetes, Nomad) sets them the same way and the CLI
 * does not invent its own names. Names follow the engine's convention
 * (`CTR_` + upper case) where the setting is ours, and OpenTelemetry's
 * standard variables where one exists:
 *
 * | variable                     | option            | default                    |
 * | ---------------------------- | ----------------- | -------------------------- |
 * | `OTEL_SERVICE_NAME`          | serviceName       | the caller's default (the application.id) |
 * | `CTR_TELEMETRY_PORT`         | prometheusPort    | 9464; `off` disables the server |
 * | `CTR_TELEMETRY_HOST`         | prometheusHost    | `0.0.0.0`                  |
 * | `OTEL_TRACES_SAMPLER`        | traceSampleRatio  | `parentbased_traceidratio` (parent-based samplers only) |
 * | `OTEL_TRACES_SAMPLER_ARG`    | traceSampleRatio  | 1                          |
 * | `CTR_HEALTH_CHECK_TIMEOUT_MS`| healthCheckTimeoutMs | 1000                    |
 * | `OTEL_TRACES_EXPORTER`       | otlpTraces on/off | `otlp` when an OTLP endpoint variable is set, else `none` |
 * | `OTEL_METRICS_EXPORTER`      | otlpMetrics on/off | `otlp` when `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` is set, else none (Prometheus only) |
 * | `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT` | the signal's url (as is) | -     |
 * | `OTEL_EXPORTER_OTLP_ENDPOINT` | url (+ `/v1/traces`, `/v1/metrics`) | `http://localhost:4318` |
 * | `OTEL_EXPORTER_OTLP_[<SIGNAL>_]PROTOCOL` | protocol | `http/protobuf` (or `http/json`) |
 * | `OTEL_EXPORTER_OTLP_[<SIGNAL>_]HEADERS`  | headers  | - (`key=value,...`, values URL-encoded) |
 * | `OTEL_EXPORTER_OTLP_[<SIGNAL>_]TIMEOUT`  | timeoutMs | 10000                   |
 * | `OTEL_EXPORTER_OTLP_[<SIGNAL>_]COMPRESSION` | compression | `none` (or `gzip`)   |
 * | `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_EXPORT_TIMEOUT` | the batch span processor | 2048, 512, 5000 ms, 30000 ms |
 * | `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_METRIC_EXPORT_TIMEOUT` | otlpMetrics.intervalMs / exportTimeoutMs | 60000, 30000 |
 * | `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` | otlpMetrics.temporality | `cumulative` |
 *
 * The spec's default for both exporter variables is `otlp`; ours is off
 * unless asked, because a pod with no collector next to it would otherwise
 * send to `localhost:4318` forever and log every failure. The general
 * endpoint turns on spans only: metrics are scraped from `/metrics`, and
 * pushing them too would count them twice in a backend that does both.
 * A `<SIGNAL>_` variable wins over its general form (headers are merged, the
 * specific ones winning per key). TLS files (`OTEL_EXPORTER_OTLP_CERTIFICATE`,
 * `..._CLIENT_KEY`, `..._CLIENT_CERTIFICATE`) are read by the exporters.
 *
 * Values given to `startTelemetry` in code (CLI flags) should override these.
 */
import { TelemetryConfigError } from './errors.ts';
import {
  DEFAULT_OTLP_ENDPOINT,
  isHttpUrl,
  OTLP_PROTOCOLS,
  redactUrl,
  type OtlpHttpExport,
  type OtlpProtocol,
} from './otlp-http.ts';
import {
  OTLP_METRIC_DEFAULTS,
  OTLP_TEMPORALITIES,
  type OtlpMetricExport,
  type OtlpTemporality,
} from './otlp-metrics.ts';
import { OTLP_TRACE_DEFAULTS, type OtlpTraceExport } from './otlp-traces.ts';
import type { TelemetryOptions } from './start-telemetry.ts';

type Signal = 'TRACES' | 'METRICS';
const SIGNAL_PATHS: Record<Signal, string> = { TRACES: 'v1/traces', METRICS: 'v1/metrics' };
const perSignal = (suffix: string) =>
  [
    `OTEL_EXPORTER_OTLP_${suffix}`,
    `OTEL_EXPORTER_OTLP_TRACES_${suffix}`,
    `OTEL_EXPORTER_OTLP_METRICS_${suffix}`,
  ] as const;

/** The environment variables read by `telemetryOptionsFromEnv`, for `--help` and docs. */
export const TELEMETRY_ENV_VARS = [
  'OTEL_SERVICE_NAME',
  'CTR_TELEMETRY_PORT',
  'CTR_TELEMETRY_HOST',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'CTR_HEALTH_CHECK_TIMEOUT_MS',
  'OTEL_TRACES_EXPORTER',
  'OTEL_METRICS_EXPORTER',
  ...perSignal('ENDPOINT'),
  ...perSignal('PROTOCOL'),
  ...perSignal('HEADERS'),
  ...perSignal('TIMEOUT'),
  ...perSignal('COMPRESSION'),
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_BSP_EXPORT_TIMEOUT',
  'OTEL_METRIC_EXPORT_INTERVAL',
  'OTEL_METRIC_EXPORT_TIMEOUT',
  'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
] as const;

/** The samplers of `OTEL_TRACES_SAMPLER` we honour: parent-based ones, as the engine follows a producer's decision. */
const SAMPLERS = ['parentbased_traceidratio', 'parentbased_always_on', 'parentbased_always_off'] as const;

/**
 * Reads the telemetry options set in `env` over `defaults`.
 * @throws TelemetryConfigError naming every variable with a bad value.
 */
export function telemetryOptionsFromEnv(
  defaults: TelemetryOptions,
  env: NodeJS.ProcessEnv = process.env,
): TelemetryOptions {
  const options: TelemetryOptions = { ...defaults };
  const problems: string[] = [];
  const text = (name: string) => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };

  const serviceName = text('OTEL_SERVICE_NAME');
  if (serviceName !== undefined) options.serviceName = serviceName;

  const port = text('CTR_TELEMETRY_PORT');
  if (port !== undefined) {
    if (port === 'off' || port === 'false') options.prometheusPort = false;
    else if (/^\d+$/.test(port) && Number(port) <= 65535) options.prometheusPort = Number(port);
    else
      problems.push(`CTR_TELEMETRY_PORT: expected an integer 0..65535 or "off", got ${JSON.stringify(port)}`);
  }

  const host = text('CTR_TELEMETRY_HOST');
  if (host !== undefined) options.prometheusHost = host;

  const sampler = text('OTEL_TRACES_SAMPLER')?.toLowerCase();
  if (sampler !== undefined && !(SAMPLERS as readonly string[]).includes(sampler))
    problems.push(
      `OTEL_TRACES_SAMPLER: expected ${SAMPLERS.join(', ')} (a record's trace keeps its producer's decision), got ${JSON.stringify(sampler)}`,
    );
  const ratio = text('OTEL_TRACES_SAMPLER_ARG');
  if (sampler === 'parentbased_always_on') options.traceSampleRatio = 1;
  else if (sampler === 'parentbased_always_off') options.traceSampleRatio = 0;
  else if (ratio !== undefined) {
    const value = Number(ratio);
    if (Number.isFinite(value) && value >= 0 && value <= 1) options.traceSampleRatio = value;
    else problems.push(`OTEL_TRACES_SAMPLER_ARG: expected a number 0..1, got ${JSON.stringify(ratio)}`);
  }

  const timeout = text('CTR_HEALTH_CHECK_TIMEOUT_MS');
  if (timeout !== undefined) {
    if (/^\d+$/.test(timeout) && Number(timeout) > 0) options.healthCheckTimeoutMs = Number(timeout);
    else
      problems.push(`CTR_HEALTH_CHECK_TIMEOUT_MS: expected an integer > 0, got ${JSON.stringify(timeout)}`);
  }

  const traces = otlpTracesFromEnv(text, problems);
  if (traces !== undefined) options.otlpTraces = traces;
  const metrics = otlpMetricsFromEnv(text, problems);
  if (metrics !== undefined) options.otlpMetrics = metrics;

  if (problems.length > 0)
    // a bad general variable (endpoint, headers) is found once per signal: report it once
    throw new TelemetryConfigError(`invalid telemetry environment: ${[...new Set(problems)].join('; ')}`);
  return options;
}

type Text = (name: string) => string | undefined;

/** The OTLP trace export the variables ask for, or undefined when spans are not exported; problems are appended. */
function otlpTracesFromEnv(text: Text, problems: string[]): OtlpTraceExport | undefined {
  const exporter = text('OTEL_TRACES_EXPORTER')?.toLowerCase();
  if (exporter !== undefined && exporter !== 'otlp' && exporter !== 'none') {
    problems.push(
      `OTEL_TRACES_EXPORTER: expected "otlp" or "none" (OTLP/HTTP; point Jaeger, Zipkin or a console at a collector), got ${JSON.stringify(exporter)}`,
    );
    return undefined;
  }
  const endpointSet =
    text('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined ||
    text('OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined;
  if (exporter === 'none' || (exporter === undefined && !endpointSet)) return undefined;

  const config: OtlpTraceExport = otlpHttpFromEnv('TRACES', text, problems);
  const batch = [
    ['OTEL_BSP_MAX_QUEUE_SIZE', 'maxQueueSize', 1],
    ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'maxExportBatchSize', 1],
    ['OTEL_BSP_SCHEDULE_DELAY', 'scheduledDelayMs', 0],
    ['OTEL_BSP_EXPORT_TIMEOUT', 'exportTimeoutMs', 1],
  ] as const;
  for (const [name, field, min] of batch) {
    const value = text(name);
    if (value === undefined) continue;
    const n = integer(name, value, min, problems);
    if (n !== undefined) config[field] = n;
  }
  const queue = config.maxQueueSize ?? OTLP_TRACE_DEFAULTS.maxQueueSize;
  if (config.maxExportBatchSize !== undefined && config.maxExportBatchSize > queue)
    problems.push(
      `OTEL_BSP_MAX_EXPORT_BATCH_SIZE: ${config.maxExportBatchSize} is larger than the queue (OTEL_BSP_MAX_QUEUE_SIZE ${queue})`,
    );
  return config;
}

/** The OTLP metric push the variables ask for, or undefined (Prometheus only); problems are appended. */
function otlpMetricsFromEnv(text: Text, problems: string[]): OtlpMetricExport | undefined {
  const raw = text('OTEL_METRICS_EXPORTER')?.toLowerCase();
  const listed = raw
    ?.split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const unknown = listed?.filter((e) => e !== 'otlp' && e !== 'prometheus' && e !== 'none') ?? [];
  if (unknown.length > 0) {
    problems.push(
      `OTEL_METRICS_EXPORTER: expected a list of "otlp", "prometheus" (always served on CTR_TELEMETRY_PORT) or "none", got ${JSON.stringify(raw)}`,
    );
    return undefined;
  }
  const wanted =
    listed === undefined
      ? text('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT') !== undefined
      : listed.includes('otlp');
  if (!wanted) return undefined;

  const config: OtlpMetricExport = otlpHttpFromEnv('METRICS', text, problems);
  const interval = text('OTEL_METRIC_EXPORT_INTERVAL');
  if (interval !== undefined) {
    const n = integer('OTEL_METRIC_EXPORT_INTERVAL', interval, 1, problems);
    if (n !== undefined) config.intervalMs = n;
  }
  const timeout = text('OTEL_METRIC_EXPORT_TIMEOUT');
  if (timeout !== undefined) {
    const n = integer('OTEL_METRIC_EXPORT_TIMEOUT', timeout, 1, problems);
    if (n !== undefined) config.exportTimeoutMs = n;
  }
  const exportTimeoutMs = config.exportTimeoutMs ?? OTLP_METRIC_DEFAULTS.exportTimeoutMs;
  const intervalMs = config.intervalMs ?? OTLP_METRIC_DEFAULTS.intervalMs;
  if (exportTimeoutMs > intervalMs)
    problems.push(
      `OTEL_METRIC_EXPORT_TIMEOUT: ${exportTimeoutMs} ms is longer than the interval (OTEL_METRIC_EXPORT_INTERVAL ${intervalMs} ms)`,
    );
  const temporality = text('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE')?.toLowerCase();
  if (temporality !== undefined) {
    if ((OTLP_TEMPORALITIES as readonly string[]).includes(temporality))
      config.temporality = temporality as OtlpTemporality;
    else
      problems.push(
        `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: expected ${OTLP_TEMPORALITIES.join(', ')}, got ${JSON.stringify(temporality)}`,
      );
  }
  return config;
}

/** Endpoint, protocol, headers, timeout and compression of one signal. */
function otlpHttpFromEnv(signal: Signal, text: Text, problems: string[]): OtlpHttpExport {
  // the signal-specific URL is used as given; the general one is a base the signal path is appended to (spec)
  const specificName = `OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`;
  const specificUrl = text(specificName);
  const baseUrl = text('OTEL_EXPORTER_OTLP_ENDPOINT');
  let url = `${DEFAULT_OTLP_ENDPOINT}${SIGNAL_PATHS[signal]}`;
  if (specificUrl !== undefined) url = checkedUrl(specificName, specificUrl, problems);
  else if (baseUrl !== undefined) {
    const base = checkedUrl('OTEL_EXPORTER_OTLP_ENDPOINT', baseUrl, problems);
    url = `${base.endsWith('/') ? base : `${base}/`}${SIGNAL_PATHS[signal]}`;
  }
  const config: OtlpHttpExport = { url };

  const protocol = specific(text, signal, 'PROTOCOL');
  if (protocol !== undefined) {
    if ((OTLP_PROTOCOLS as readonly string[]).includes(protocol.value))
      config.protocol = protocol.value as OtlpProtocol;
    else
      problems.push(
        `${protocol.name}: expected ${OTLP_PROTOCOLS.join(' or ')}${protocol.value === 'grpc' ? " (gRPC is not built in: use the collector's OTLP/HTTP port, 4318)" : ''}, got ${JSON.stringify(protocol.value)}`,
      );
  }

  const signalHeaders = `OTEL_EXPORTER_OTLP_${signal}_HEADERS`;
  const headers = {
    ...parseHeaders('OTEL_EXPORTER_OTLP_HEADERS', text('OTEL_EXPORTER_OTLP_HEADERS'), problems),
    ...parseHeaders(signalHeaders, text(signalHeaders), problems),
  };
  if (Object.keys(headers).length > 0) config.headers = headers;

  const timeout = specific(text, signal, 'TIMEOUT');
  if (timeout !== undefined) {
    const ms = integer(timeout.name, timeout.value, 1, problems);
    if (ms !== undefined) config.timeoutMs = ms;
  }
  const compression = specific(text, signal, 'COMPRESSION');
  if (compression !== undefined) {
    if (compression.value === 'gzip' || compression.value === 'none') config.compression = compression.value;
    else
      problems.push(`${compression.name}: expected gzip or none, got ${JSON.stringify(compression.value)}`);
  }
  return config;
}

/** `OTEL_EXPORTER_OTLP_<signal>_<suffix>` if set, else `OTEL_EXPORTER_OTLP_<suffix>`, with the name that was read. */
function specific(text: Text, signal: Signal, suffix: string): { name: string; value: string } | undefined {
  for (const name of [`OTEL_EXPORTER_OTLP_${signal}_${suffix}`, `OTEL_EXPORTER_OTLP_${suffix}`]) {
    const value = text(name);
    if (value !== undefined) return { name, value: value.toLowerCase() };
  }
  return undefined;
}

function checkedUrl(name: string, value: string, problems: string[]): string {
  if (isHttpUrl(value)) return new URL(value).toString();
  problems.push(
    `${name}: expected an http:// or https:// URL (e.g. http://otel-collector:4318), got ${JSON.stringify(redactUrl(value))}`,
  );
  return value;
}

function integer(name: string, value: string, min: number, problems: string[]): number | undefined {
  if (/^\d+$/.test(value) && Number(value) >= min && Number.isSafeInteger(Number(value)))
    return Number(value);
  problems.push(`${name}: expected an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  return undefined;
}

/**
 * `key=value,key2=value2` (W3C baggage syntax, values URL-encoded), as the
 * OTLP exporter spec defines the headers variables. Messages never quote a
 * value: it is usually a credential.
 */
function parseHeaders(name: string, raw: string | undefined, problems: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  if (raw === undefined) return headers;
  raw.split(',').forEach((entry, index) => {
    if (entry.trim() === '') return;
    const eq = entry.indexOf('=');
    const key = (eq < 0 ? entry : entry.slice(0, eq)).trim();
    if (eq < 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) {
      problems.push(
        `${name}: entry ${index + 1} is not key=value with a header name as key (expected key=value,key2=value2)`,
      );
      return;
    }
    try {
      headers[key.toLowerCase()] = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      problems.push(`${name}: the value of header "${key}" is not valid URL encoding (value not shown)`);
    }
  });
  return headers;
}

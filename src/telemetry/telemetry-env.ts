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
 * | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | otlpTraces.url (as is) | -              |
 * | `OTEL_EXPORTER_OTLP_ENDPOINT` | otlpTraces.url (+ `/v1/traces`) | `http://localhost:4318` |
 * | `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` | otlpTraces.protocol | `http/protobuf` (or `http/json`) |
 * | `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`  | otlpTraces.headers  | - (`key=value,...`, values URL-encoded) |
 * | `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT`  | otlpTraces.timeoutMs | 10000            |
 * | `OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION` | otlpTraces.compression | `none` (or `gzip`) |
 * | `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_EXPORT_TIMEOUT` | the batch span processor | 2048, 512, 5000 ms, 30000 ms |
 *
 * The spec's default for `OTEL_TRACES_EXPORTER` is `otlp`; ours is `none`
 * unless an endpoint is given, because a pod with no collector next to it
 * would otherwise retry `localhost:4318` forever and log every failure.
 * A `TRACES_` variable wins over its general form (headers are merged, the
 * specific ones winning per key). TLS files (`OTEL_EXPORTER_OTLP_CERTIFICATE`,
 * `..._CLIENT_KEY`, `..._CLIENT_CERTIFICATE`) are read by the exporter itself.
 *
 * Values given to `startTelemetry` in code (CLI flags) should override these.
 */
import { TelemetryConfigError } from './errors.ts';
import {
  DEFAULT_OTLP_TRACES_URL,
  OTLP_TRACE_PROTOCOLS,
  redactUrl,
  type OtlpTraceExport,
  type OtlpTraceProtocol,
} from './otlp-traces.ts';
import type { TelemetryOptions } from './start-telemetry.ts';

/** The environment variables read by `telemetryOptionsFromEnv`, for `--help` and docs. */
export const TELEMETRY_ENV_VARS = [
  'OTEL_SERVICE_NAME',
  'CTR_TELEMETRY_PORT',
  'CTR_TELEMETRY_HOST',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'CTR_HEALTH_CHECK_TIMEOUT_MS',
  'OTEL_TRACES_EXPORTER',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  'OTEL_EXPORTER_OTLP_TIMEOUT',
  'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
  'OTEL_EXPORTER_OTLP_COMPRESSION',
  'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_BSP_EXPORT_TIMEOUT',
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

  const otlp = otlpTracesFromEnv(text, problems);
  if (otlp !== undefined) options.otlpTraces = otlp;

  if (problems.length > 0)
    throw new TelemetryConfigError(`invalid telemetry environment: ${problems.join('; ')}`);
  return options;
}

/** The OTLP trace export the variables ask for, or undefined when spans are not exported; problems are appended. */
function otlpTracesFromEnv(
  text: (name: string) => string | undefined,
  problems: string[],
): OtlpTraceExport | undefined {
  const exporter = text('OTEL_TRACES_EXPORTER')?.toLowerCase();
  const specificUrl = text('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const baseUrl = text('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (exporter !== undefined && exporter !== 'otlp' && exporter !== 'none') {
    problems.push(
      `OTEL_TRACES_EXPORTER: expected "otlp" or "none" (OTLP/HTTP; point Jaeger, Zipkin or a console at a collector), got ${JSON.stringify(exporter)}`,
    );
    return undefined;
  }
  if (exporter === 'none' || (exporter === undefined && specificUrl === undefined && baseUrl === undefined))
    return undefined;

  // the signal-specific URL is used as given; the general one is a base the signal path is appended to (spec)
  let url = DEFAULT_OTLP_TRACES_URL;
  if (specificUrl !== undefined)
    url = checkedUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', specificUrl, problems);
  else if (baseUrl !== undefined) {
    const base = checkedUrl('OTEL_EXPORTER_OTLP_ENDPOINT', baseUrl, problems);
    url = `${base.endsWith('/') ? base : `${base}/`}v1/traces`;
  }
  const config: OtlpTraceExport = { url };

  const protocol = specific(text, 'PROTOCOL');
  if (protocol !== undefined) {
    if ((OTLP_TRACE_PROTOCOLS as readonly string[]).includes(protocol.value))
      config.protocol = protocol.value as OtlpTraceProtocol;
    else
      problems.push(
        `${protocol.name}: expected ${OTLP_TRACE_PROTOCOLS.join(' or ')}${protocol.value === 'grpc' ? " (gRPC is not built in: use the collector's OTLP/HTTP port, 4318)" : ''}, got ${JSON.stringify(protocol.value)}`,
      );
  }

  const headers = {
    ...parseHeaders('OTEL_EXPORTER_OTLP_HEADERS', text('OTEL_EXPORTER_OTLP_HEADERS'), problems),
    ...parseHeaders('OTEL_EXPORTER_OTLP_TRACES_HEADERS', text('OTEL_EXPORTER_OTLP_TRACES_HEADERS'), problems),
  };
  if (Object.keys(headers).length > 0) config.headers = headers;

  const timeout = specific(text, 'TIMEOUT');
  if (timeout !== undefined) {
    const ms = integer(timeout.name, timeout.value, 1, problems);
    if (ms !== undefined) config.timeoutMs = ms;
  }
  const compression = specific(text, 'COMPRESSION');
  if (compression !== undefined) {
    if (compression.value === 'gzip' || compression.value === 'none') config.compression = compression.value;
    else
      problems.push(`${compression.name}: expected gzip or none, got ${JSON.stringify(compression.value)}`);
  }

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
  if (config.maxExportBatchSize !== undefined && config.maxExportBatchSize > (config.maxQueueSize ?? 2048))
    problems.push(
      `OTEL_BSP_MAX_EXPORT_BATCH_SIZE: ${config.maxExportBatchSize} is larger than the queue (OTEL_BSP_MAX_QUEUE_SIZE ${config.maxQueueSize ?? 2048})`,
    );
  return config;
}

/** `OTEL_EXPORTER_OTLP_TRACES_<suffix>` if set, else `OTEL_EXPORTER_OTLP_<suffix>`, with the name that was read. */
function specific(
  text: (name: string) => string | undefined,
  suffix: string,
): { name: string; value: string } | undefined {
  for (const name of [`OTEL_EXPORTER_OTLP_TRACES_${suffix}`, `OTEL_EXPORTER_OTLP_${suffix}`]) {
    const value = text(name);
    if (value !== undefined) return { name, value: value.toLowerCase() };
  }
  return undefined;
}

function checkedUrl(name: string, value: string, problems: string[]): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    problems.push(
      `${name}: expected an http:// or https:// URL (e.g. http://otel-collector:4318), got ${JSON.stringify(redactUrl(value))}`,
    );
    return value;
  }
  return url.toString();
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

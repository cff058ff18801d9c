/**
 * What the OTLP/HTTP exporters of every signal share: the endpoint, the
 * encoding (protobuf, the OTLP default that every collector accepts on port
 * 4318, or JSON), headers, a request timeout and compression; and how an
 * endpoint is shown in logs without its credentials.
 *
 * The exporters are the official ones (`@opentelemetry/exporter-*-otlp-http`
 * / `-proto`); this file only validates and translates our options.
 */
import type { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';

/** The OTLP transports this build speaks (`grpc` needs other exporter packages and is not included). */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** The spec's default collector: on this host, OTLP/HTTP port 4318. */
export const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318/';

/** The exporter spec's defaults. */
export const OTLP_HTTP_DEFAULTS = {
  protocol: 'http/protobuf',
  timeoutMs: 10_000,
  compression: 'none',
} as const satisfies Omit<Required<OtlpHttpExport>, 'url' | 'headers'>;

/** Where and how one signal is sent over OTLP/HTTP. */
export interface OtlpHttpExport {
  /** Full URL of the signal's endpoint, e.g. `http://otel-collector:4318/v1/traces` (no path is appended). */
  url: string;
  /** Default `http/protobuf`. */
  protocol?: OtlpProtocol;
  /** Extra HTTP headers, e.g. `{ authorization: 'Bearer …' }`; their values are never logged. */
  headers?: Record<string, string>;
  /** Time one export request may take, retries included (ms, default 10000). */
  timeoutMs?: number;
  /** Request body compression, default `none`. */
  compression?: 'gzip' | 'none';
}

/** Problems with the shared fields, one message per field; `prefix` names the option (`otlpTraces`). */
export function otlpHttpExportProblems(config: OtlpHttpExport, prefix: string): string[] {
  const problems: string[] = [];
  if (!isHttpUrl(config.url))
    problems.push(
      `${prefix}.url: expected an http:// or https:// URL, got ${JSON.stringify(redactUrl(String(config.url)))}`,
    );
  if (config.protocol !== undefined && !OTLP_PROTOCOLS.includes(config.protocol))
    problems.push(
      `${prefix}.protocol: expected ${OTLP_PROTOCOLS.join(' or ')}, got ${JSON.stringify(config.protocol)}`,
    );
  if (config.compression !== undefined && config.compression !== 'gzip' && config.compression !== 'none')
    problems.push(`${prefix}.compression: expected gzip or none, got ${JSON.stringify(config.compression)}`);
  problems.push(...positiveIntegerProblems(config, ['timeoutMs'], prefix));
  return problems;
}

/** One message per field of `fields` that is set but not an integer > 0 (`prefix.field: ...`). */
export function positiveIntegerProblems<T extends object>(
  config: T,
  fields: readonly (keyof T & string)[],
  prefix: string,
): string[] {
  const problems: string[] = [];
  for (const field of fields) {
    const value = config[field];
    if (value !== undefined && !(Number.isInteger(value) && (value as number) > 0))
      problems.push(`${prefix}.${field}: expected an integer > 0, got ${JSON.stringify(value)}`);
  }
  return problems;
}

/** The exporters' compression type: a string enum of `gzip` / `none` declared in a transitive package. */
type ExporterCompression = NonNullable<
  NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>['compression']
>;

/** The constructor options every OTLP/HTTP exporter takes, from ours. */
export function exporterOptions(config: OtlpHttpExport): {
  url: string;
  headers: Record<string, string>;
  timeoutMillis: number;
  compression: ExporterCompression;
} {
  return {
    url: config.url,
    headers: { ...config.headers },
    timeoutMillis: config.timeoutMs ?? OTLP_HTTP_DEFAULTS.timeoutMs,
    compression: (config.compression ?? OTLP_HTTP_DEFAULTS.compression) as ExporterCompression,
  };
}

/** True for an absolute http:// or https:// URL. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
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

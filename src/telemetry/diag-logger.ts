/**
 * The OpenTelemetry SDK's own diagnostics (`diag`: a failed span export, a
 * full span queue, a bad exporter setting) as pino log lines, so that an
 * unreachable collector shows up in the instance's logs instead of nowhere.
 */
import type { DiagLogger } from '@opentelemetry/api';
import type { Logger } from './logger.ts';

/** Writes `diag` calls to `log` (component `telemetry`), with `source: "otel-sdk"`. */
export function diagLogger(log: Logger): DiagLogger {
  const write =
    (level: 'error' | 'warn' | 'info' | 'debug' | 'trace') =>
    (message: string, ...args: unknown[]): void => {
      const error = args.find((a): a is Error => a instanceof Error);
      const rest = args.filter((a) => a !== error);
      log[level](
        {
          source: 'otel-sdk',
          ...(error === undefined ? {} : { err: error }),
          ...(rest.length === 0 ? {} : { args: rest.map(describe) }),
        },
        message,
      );
    };
  return {
    error: write('error'),
    warn: write('warn'),
    info: write('info'),
    debug: write('debug'),
    verbose: write('trace'),
  };
}

function describe(value: unknown): unknown {
  // the SDK passes errors as plain objects too (e.g. an OTLPExporterError's fields); keep them readable
  if (value === null || typeof value !== 'object') return value;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return String(value);
  }
}

/**
 * Typed errors of the telemetry layer. Telemetry sits beneath the engine (the
 * engine records into it), so it has its own small base instead of importing
 * StreamsError; the shape is the same: a stable `code`, `retriable`, and a
 * message that names the thing (`cannot serve metrics on 0.0.0.0:9464: port in use`).
 */

export const TELEMETRY_ERROR_CODES = [
  'CTR_TELEMETRY_CONFIG',
  'CTR_TELEMETRY_PORT_IN_USE',
  'CTR_TELEMETRY_SERVER',
  'CTR_TELEMETRY_ALREADY_STARTED',
] as const;

export type TelemetryErrorCode = (typeof TELEMETRY_ERROR_CODES)[number];

export interface TelemetryErrorOptions {
  cause?: unknown;
  retriable?: boolean;
}

export class TelemetryError extends Error {
  readonly code: TelemetryErrorCode;
  readonly retriable: boolean;

  constructor(code: TelemetryErrorCode, message: string, options: TelemetryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** A telemetry option is invalid; the message names the option and the bad value. */
export class TelemetryConfigError extends TelemetryError {
  constructor(message: string) {
    super('CTR_TELEMETRY_CONFIG', message);
  }
}

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
 * | `OTEL_TRACES_SAMPLER_ARG`    | traceSampleRatio  | 1                          |
 * | `CTR_HEALTH_CHECK_TIMEOUT_MS`| healthCheckTimeoutMs | 1000                    |
 *
 * Values given to `startTelemetry` in code (CLI flags) should override these.
 */
import { TelemetryConfigError } from './errors.ts';
import type { TelemetryOptions } from './start-telemetry.ts';

/** The environment variables read by `telemetryOptionsFromEnv`, for `--help` and docs. */
export const TELEMETRY_ENV_VARS = [
  'OTEL_SERVICE_NAME',
  'CTR_TELEMETRY_PORT',
  'CTR_TELEMETRY_HOST',
  'OTEL_TRACES_SAMPLER_ARG',
  'CTR_HEALTH_CHECK_TIMEOUT_MS',
] as const;

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

  const ratio = text('OTEL_TRACES_SAMPLER_ARG');
  if (ratio !== undefined) {
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

  if (problems.length > 0)
    throw new TelemetryConfigError(`invalid telemetry environment: ${problems.join('; ')}`);
  return options;
}

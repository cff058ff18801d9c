import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { telemetryOptionsFromEnv, TelemetryConfigError } from '../../../src/telemetry/index.ts';

describe('telemetryOptionsFromEnv', () => {
  it('keeps the defaults when nothing is set', () => {
    assert.deepEqual(telemetryOptionsFromEnv({ serviceName: 'app', prometheusPort: 9464 }, {}), {
      serviceName: 'app',
      prometheusPort: 9464,
    });
  });

  it('reads every variable the deployments set', () => {
    const options = telemetryOptionsFromEnv(
      { serviceName: 'app' },
      {
        OTEL_SERVICE_NAME: 'ctr-recommendations',
        CTR_TELEMETRY_PORT: '9500',
        CTR_TELEMETRY_HOST: '127.0.0.1',
        OTEL_TRACES_SAMPLER_ARG: '0.05',
        CTR_HEALTH_CHECK_TIMEOUT_MS: '2500',
      },
    );
    assert.deepEqual(options, {
      serviceName: 'ctr-recommendations',
      prometheusPort: 9500,
      prometheusHost: '127.0.0.1',
      traceSampleRatio: 0.05,
      healthCheckTimeoutMs: 2500,
    });
  });

  it('turns the server off with CTR_TELEMETRY_PORT=off', () => {
    assert.equal(
      telemetryOptionsFromEnv({ serviceName: 'a' }, { CTR_TELEMETRY_PORT: 'off' }).prometheusPort,
      false,
    );
  });

  it('names every bad variable in one error', () => {
    assert.throws(
      () =>
        telemetryOptionsFromEnv(
          { serviceName: 'a' },
          { CTR_TELEMETRY_PORT: '94x', OTEL_TRACES_SAMPLER_ARG: '2', CTR_HEALTH_CHECK_TIMEOUT_MS: '0' },
        ),
      (error: unknown) => {
        assert.ok(error instanceof TelemetryConfigError);
        assert.equal(error.code, 'CTR_TELEMETRY_CONFIG');
        assert.match(error.message, /CTR_TELEMETRY_PORT: expected an integer 0\.\.65535 or "off", got "94x"/);
        assert.match(error.message, /OTEL_TRACES_SAMPLER_ARG: expected a number 0\.\.1, got "2"/);
        assert.match(error.message, /CTR_HEALTH_CHECK_TIMEOUT_MS: expected an integer > 0, got "0"/);
        return true;
      },
    );
  });
});

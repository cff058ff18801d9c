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

  describe('OTLP span export', () => {
    const opts = (env: NodeJS.ProcessEnv) => telemetryOptionsFromEnv({ serviceName: 'a' }, env);

    it('exports nothing when no exporter or endpoint is set', () => {
      assert.equal(opts({}).otlpTraces, undefined);
      assert.equal(opts({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).otlpTraces, undefined);
    });

    it('turns export on by an endpoint alone, appending /v1/traces to the general one', () => {
      assert.deepEqual(opts({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).otlpTraces, {
        url: 'http://collector:4318/v1/traces',
      });
      assert.deepEqual(
        opts({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com/tenant-1/' }).otlpTraces,
        {
          url: 'https://otlp.example.com/tenant-1/v1/traces',
        },
      );
    });

    it('uses the traces endpoint as given, over the general one', () => {
      assert.equal(
        opts({
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/otlp/v1/traces',
        }).otlpTraces?.url,
        'http://tempo:4318/otlp/v1/traces',
      );
    });

    it('exports to the spec default localhost:4318 with OTEL_TRACES_EXPORTER=otlp and no endpoint', () => {
      assert.deepEqual(opts({ OTEL_TRACES_EXPORTER: 'otlp' }).otlpTraces, {
        url: 'http://localhost:4318/v1/traces',
      });
    });

    it('exports nothing with OTEL_TRACES_EXPORTER=none, even with an endpoint', () => {
      assert.equal(
        opts({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).otlpTraces,
        undefined,
      );
    });

    it('reads protocol, merged headers, timeout, compression and the batch processor settings', () => {
      assert.deepEqual(
        opts({
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
          OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
          OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Basic%20YWJj, x-tenant = one ,x-other=2',
          OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=two',
          OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
          OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip',
          OTEL_BSP_MAX_QUEUE_SIZE: '4096',
          OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1024',
          OTEL_BSP_SCHEDULE_DELAY: '1000',
          OTEL_BSP_EXPORT_TIMEOUT: '15000',
        }).otlpTraces,
        {
          url: 'http://c:4318/v1/traces',
          protocol: 'http/json',
          headers: { authorization: 'Basic YWJj', 'x-tenant': 'two', 'x-other': '2' },
          timeoutMs: 2000,
          compression: 'gzip',
          maxQueueSize: 4096,
          maxExportBatchSize: 1024,
          scheduledDelayMs: 1000,
          exportTimeoutMs: 15000,
        },
      );
    });

    it('maps the parent-based samplers to a ratio and rejects the others', () => {
      assert.equal(opts({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' }).traceSampleRatio, 0);
      assert.equal(
        opts({ OTEL_TRACES_SAMPLER: 'parentbased_always_on', OTEL_TRACES_SAMPLER_ARG: '0.1' })
          .traceSampleRatio,
        1,
      );
      assert.equal(
        opts({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' })
          .traceSampleRatio,
        0.1,
      );
      assert.throws(
        () => opts({ OTEL_TRACES_SAMPLER: 'always_on' }),
        /OTEL_TRACES_SAMPLER: expected parentbased_/,
      );
    });

    it('names every bad OTLP variable at once, without printing header values or URL credentials', () => {
      assert.throws(
        () =>
          opts({
            OTEL_TRACES_EXPORTER: 'otlp',
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://user:hunter2@collector/v1/traces',
            OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
            OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer secret-token,novalue,x-key=%E0%A4%A',
            OTEL_EXPORTER_OTLP_TIMEOUT: '10s',
            OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd',
            OTEL_BSP_MAX_QUEUE_SIZE: '100',
            OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '200',
            OTEL_BSP_SCHEDULE_DELAY: '-1',
          }),
        (error: unknown) => {
          assert.ok(error instanceof TelemetryConfigError);
          const m = error.message;
          assert.match(m, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: expected an http:\/\/ or https:\/\/ URL/);
          assert.match(
            m,
            /OTEL_EXPORTER_OTLP_PROTOCOL: expected http\/protobuf or http\/json \(gRPC is not built in/,
          );
          assert.match(m, /OTEL_EXPORTER_OTLP_HEADERS: entry 2 is not key=value/);
          assert.match(
            m,
            /OTEL_EXPORTER_OTLP_HEADERS: the value of header "x-key" is not valid URL encoding/,
          );
          assert.match(m, /OTEL_EXPORTER_OTLP_TIMEOUT: expected an integer ≥ 1, got "10s"/);
          assert.match(m, /OTEL_EXPORTER_OTLP_COMPRESSION: expected gzip or none, got "zstd"/);
          assert.match(m, /OTEL_BSP_SCHEDULE_DELAY: expected an integer ≥ 0, got "-1"/);
          assert.match(m, /OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 200 is larger than the queue/);
          assert.doesNotMatch(m, /hunter2|secret-token/);
          return true;
        },
      );
    });

    it('rejects an exporter it does not have, naming the variable', () => {
      assert.throws(
        () => opts({ OTEL_TRACES_EXPORTER: 'jaeger' }),
        /OTEL_TRACES_EXPORTER: expected "otlp" or "none" .*got "jaeger"/,
      );
    });
  });

  describe('OTLP metric push', () => {
    const opts = (env: NodeJS.ProcessEnv) => telemetryOptionsFromEnv({ serviceName: 'a' }, env);

    it('pushes nothing by default, nor when only the general endpoint is set (spans only)', () => {
      assert.equal(opts({}).otlpMetrics, undefined);
      assert.equal(opts({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).otlpMetrics, undefined);
      assert.equal(opts({ OTEL_METRICS_EXPORTER: 'prometheus' }).otlpMetrics, undefined);
    });

    it('pushes to the general endpoint + /v1/metrics when OTEL_METRICS_EXPORTER lists otlp', () => {
      assert.deepEqual(
        opts({ OTEL_METRICS_EXPORTER: 'prometheus, otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })
          .otlpMetrics,
        { url: 'http://c:4318/v1/metrics' },
      );
    });

    it('pushes when the metrics endpoint is set, with its own protocol, headers and timing', () => {
      assert.deepEqual(
        opts({
          OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m:4318/otlp/v1/metrics',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
          OTEL_EXPORTER_OTLP_HEADERS: 'a=1',
          OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'b=2',
          OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'c=3',
          OTEL_METRIC_EXPORT_INTERVAL: '15000',
          OTEL_METRIC_EXPORT_TIMEOUT: '5000',
          OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'Delta',
        }).otlpMetrics,
        {
          url: 'http://m:4318/otlp/v1/metrics',
          protocol: 'http/protobuf',
          headers: { a: '1', b: '2' },
          intervalMs: 15000,
          exportTimeoutMs: 5000,
          temporality: 'delta',
        },
      );
    });

    it('names every bad metrics variable, and a bad general endpoint once', () => {
      assert.throws(
        () =>
          opts({
            OTEL_TRACES_EXPORTER: 'otlp',
            OTEL_METRICS_EXPORTER: 'otlp',
            OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
            OTEL_METRIC_EXPORT_INTERVAL: '1000',
            OTEL_METRIC_EXPORT_TIMEOUT: '2000',
            OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'monthly',
          }),
        (error: unknown) => {
          assert.ok(error instanceof TelemetryConfigError);
          const m = error.message;
          assert.equal(m.match(/OTEL_EXPORTER_OTLP_ENDPOINT: expected an http/g)?.length, 1);
          assert.match(m, /OTEL_METRIC_EXPORT_TIMEOUT: 2000 ms is longer than the interval/);
          assert.match(
            m,
            /OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: expected cumulative, delta, lowmemory, got "monthly"/,
          );
          return true;
        },
      );
      // the other side of each comparison is the spec default when not set
      assert.throws(
        () => opts({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_METRIC_EXPORT_INTERVAL: '10000' }),
        /OTEL_METRIC_EXPORT_TIMEOUT: 30000 ms is longer than the interval \(OTEL_METRIC_EXPORT_INTERVAL 10000 ms\)/,
      );
      assert.throws(
        () => opts({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4096' }),
        /OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 4096 is larger than the queue \(OTEL_BSP_MAX_QUEUE_SIZE 2048\)/,
      );
      assert.throws(
        () => opts({ OTEL_METRICS_EXPORTER: 'otlp,statsd' }),
        /OTEL_METRICS_EXPORTER: expected a list of "otlp", "prometheus"/,
      );
    });
  });
});

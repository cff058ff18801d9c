import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  redactUrl,
  startTelemetry,
  TelemetryConfigError,
  createOtlpSpanProcessor,
} from '../../../src/telemetry/index.ts';

describe('OTLP trace export settings', () => {
  it('redacts user info and query values from an endpoint, keeping the rest', () => {
    assert.equal(
      redactUrl('https://user:pass@otlp.example.com:4318/v1/traces?api_key=abc&x=1'),
      'https://***@otlp.example.com:4318/v1/traces?api_key=***&x=***',
    );
    assert.equal(redactUrl('http://collector:4318/v1/traces'), 'http://collector:4318/v1/traces');
    assert.equal(redactUrl('not a url //me:secret@host'), 'not a url //***@host');
  });

  it('refuses invalid otlpTraces options at start, naming each field', async () => {
    await assert.rejects(
      startTelemetry({
        serviceName: 'bad-otlp',
        prometheusPort: false,
        otlpTraces: {
          url: 'collector:4318',
          protocol: 'grpc' as never,
          maxQueueSize: 10,
          maxExportBatchSize: 20,
          scheduledDelayMs: -5,
        },
      }),
      (error: unknown) => {
        assert.ok(error instanceof TelemetryConfigError);
        assert.match(error.message, /otlpTraces\.url: expected an http:\/\/ or https:\/\/ URL/);
        assert.match(
          error.message,
          /otlpTraces\.protocol: expected http\/protobuf or http\/json, got "grpc"/,
        );
        assert.match(error.message, /otlpTraces\.maxExportBatchSize: 20 is larger than maxQueueSize 10/);
        assert.match(error.message, /otlpTraces\.scheduledDelayMs: expected an integer ≥ 0, got -5/);
        return true;
      },
    );
  });

  it('refuses counts and times that are not integers > 0, for spans and pushed metrics alike', async () => {
    await assert.rejects(
      startTelemetry({
        serviceName: 'bad-otlp-numbers',
        prometheusPort: false,
        otlpTraces: { url: 'http://collector:4318/v1/traces', timeoutMs: 0, exportTimeoutMs: 1.5 },
        otlpMetrics: { url: 'http://collector:4318/v1/metrics', intervalMs: -1 },
      }),
      (error: unknown) => {
        assert.ok(error instanceof TelemetryConfigError);
        assert.match(error.message, /otlpTraces\.timeoutMs: expected an integer > 0, got 0/);
        assert.match(error.message, /otlpTraces\.exportTimeoutMs: expected an integer > 0, got 1\.5/);
        assert.match(error.message, /otlpMetrics\.intervalMs: expected an integer > 0, got -1/);
        return true;
      },
    );
  });

  it('builds a batch processor that shuts down cleanly with nothing queued', async () => {
    const processor = createOtlpSpanProcessor({ url: 'http://127.0.0.1:1/v1/traces', protocol: 'http/json' });
    await processor.forceFlush();
    await processor.shutdown();
  });
});

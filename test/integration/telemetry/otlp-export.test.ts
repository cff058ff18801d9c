import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, metrics, trace } from '@opentelemetry/api';
import { KafkaProducer, readTopicToEnd } from '../../../src/kafka/index.ts';
import {
  extractTraceContext,
  startTelemetry,
  telemetryOptionsFromEnv,
  type Telemetry,
} from '../../../src/telemetry/index.ts';
import { createTopics, eventually, testKafka, uniqueName } from '../../helpers/kafka.ts';
import { runCli, startCli, WORD_COUNT } from '../cli/fixtures/cli-process.ts';
import { startOtlpReceiver, type OtlpReceiver } from './fixtures/otlp-receiver.ts';

/** OTLP SpanKind of a CONSUMER span. */
const OTLP_CONSUMER = 5;

function remoteParent(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface MetricsJson {
  resourceMetrics: Array<{
    resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
    scopeMetrics: Array<{
      metrics: Array<{
        name: string;
        sum?: {
          dataPoints: Array<{
            asInt?: number | string;
            asDouble?: number;
            attributes?: Array<{ key: string; value: { stringValue?: string } }>;
          }>;
        };
      }>;
    }>;
  }>;
}

/** The data points of the sum metric `name` in an OTLP/JSON metrics export. */
function sumPoints(
  body: MetricsJson,
  name: string,
): Array<{ service: unknown; value: number; topic: unknown }> {
  return body.resourceMetrics.flatMap((rm) => {
    const service = rm.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue;
    return rm.scopeMetrics.flatMap((sm) =>
      sm.metrics
        .filter((m) => m.name === name)
        .flatMap((m) =>
          (m.sum?.dataPoints ?? []).map((p) => ({
            service,
            value: Number(p.asInt ?? p.asDouble),
            topic: p.attributes?.find((a) => a.key === 'topic')?.value.stringValue,
          })),
        ),
    );
  });
}

describe('OTLP export to a collector on 127.0.0.1', () => {
  let receiver: OtlpReceiver;
  let telemetry: Telemetry | undefined;
  before(async () => {
    receiver = await startOtlpReceiver();
  });
  after(async () => {
    await telemetry?.shutdown();
    await receiver.close();
  });

  it('sends a span over OTLP/JSON with its trace id, parent, service name, attributes and headers when shut down', async () => {
    const before = receiver.requests.length;
    telemetry = await startTelemetry(
      telemetryOptionsFromEnv(
        { serviceName: 'unused-default', prometheusPort: false, processMetrics: false },
        {
          OTEL_SERVICE_NAME: 'otlp-json-it',
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
          OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cret,x-tenant=ctr',
          // only the shutdown flush can deliver the span within this test
          OTEL_BSP_SCHEDULE_DELAY: '600000',
        },
      ),
    );
    assert.equal(telemetry.tracesUrl, `${receiver.url}/v1/traces`);
    const parent = remoteParent();
    const span = trace
      .getTracer('otlp-it')
      .startSpan(
        'process clicks',
        { kind: SpanKind.CONSUMER, attributes: { 'messaging.destination.name': 'clicks', 'ctr.batch': 3 } },
        extractTraceContext({ traceparent: parent.traceparent }),
      );
    span.end();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(receiver.requests.length, before, 'nothing is sent before the batch is due');

    await telemetry.shutdown();
    telemetry = undefined;

    const requests = receiver.requests.slice(before);
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.path, '/v1/traces');
    assert.equal(requests[0]!.headers.authorization, 'Bearer s3cret');
    assert.equal(requests[0]!.headers['x-tenant'], 'ctr');
    const got = receiver.jsonSpans().filter((s) => s.traceId === parent.traceId);
    assert.equal(got.length, 1);
    const s = got[0]!;
    assert.equal(s.name, 'process clicks');
    assert.equal(s.kind, OTLP_CONSUMER);
    assert.equal(s.parentSpanId, parent.spanId);
    assert.equal(s.spanId, span.spanContext().spanId);
    assert.equal(s.scope, 'otlp-it');
    assert.equal(s.resource['service.name'], 'otlp-json-it');
    assert.deepEqual(s.attributes, { 'messaging.destination.name': 'clicks', 'ctr.batch': 3 });
  });

  it('sends OTLP/protobuf (the default protocol), gzipped, to the traces endpoint as given', async () => {
    const before = receiver.requests.length;
    telemetry = await startTelemetry(
      telemetryOptionsFromEnv(
        { serviceName: 'otlp-proto-it', prometheusPort: false, processMetrics: false },
        {
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/custom/traces`,
          OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
        },
      ),
    );
    const span = trace.getTracer('otlp-it').startSpan('protobuf-span');
    span.end();
    await telemetry.forceFlush();
    const requests = receiver.requests.slice(before);
    assert.equal(requests.length, 1);
    const request = requests[0]!;
    assert.equal(request.path, '/custom/traces');
    assert.equal(request.headers['content-type'], 'application/x-protobuf');
    assert.equal(request.headers['content-encoding'], 'gzip');
    // protobuf carries the ids as raw bytes and strings as UTF-8
    assert.ok(request.body.includes(Buffer.from(span.spanContext().traceId, 'hex')), 'trace id in the body');
    assert.ok(request.body.includes(Buffer.from('otlp-proto-it')), 'service name in the body');
    assert.ok(request.body.includes(Buffer.from('protobuf-span')), 'span name in the body');
    await telemetry.shutdown();
    telemetry = undefined;
  });

  it('pushes metrics over OTLP/JSON next to Prometheus, the last interval at shutdown', async () => {
    const before = receiver.requests.length;
    telemetry = await startTelemetry(
      telemetryOptionsFromEnv(
        { serviceName: 'otlp-metrics-it', prometheusPort: 0, processMetrics: false },
        {
          OTEL_METRICS_EXPORTER: 'otlp',
          OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${receiver.url}/v1/metrics`,
          OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
          OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=ctr',
        },
      ),
    );
    assert.equal(telemetry.otlpMetricsUrl, `${receiver.url}/v1/metrics`);
    assert.equal(telemetry.tracesUrl, undefined, 'a metrics endpoint does not turn on span export');
    const name = `ctr.test.otlp_pushed_${randomBytes(3).toString('hex')}`;
    metrics.getMeter('ctr-streams').createCounter(name).add(7, { topic: 'clicks' });
    const scraped = await (await fetch(telemetry.metricsUrl!)).text();
    assert.match(scraped, new RegExp(`${name.replaceAll('.', '_')}_total\\{[^}]*topic="clicks"[^}]*\\} 7`));

    await telemetry.shutdown();
    telemetry = undefined;
    const requests = receiver.requests.slice(before);
    assert.ok(requests.length >= 1);
    assert.ok(requests.every((r) => r.path === '/v1/metrics' && r.headers['x-tenant'] === 'ctr'));
    const points = requests.flatMap((r) =>
      sumPoints(JSON.parse(r.body.toString('utf8')) as MetricsJson, name),
    );
    assert.deepEqual(points.at(-1), { service: 'otlp-metrics-it', value: 7, topic: 'clicks' });
  });

  it('does not hold up shutdown beyond the export timeout when no collector listens', async () => {
    const port = await closedPort();
    telemetry = await startTelemetry(
      telemetryOptionsFromEnv(
        { serviceName: 'otlp-down-it', prometheusPort: false, processMetrics: false },
        { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_TIMEOUT: '1500' },
      ),
    );
    trace.getTracer('otlp-it').startSpan('lost').end();
    const started = Date.now();
    await telemetry.shutdown();
    telemetry = undefined;
    const tookMs = Date.now() - started;
    assert.ok(tookMs < 5000, `shutdown took ${tookMs} ms with a 1500 ms export timeout`);
  });
});

describe('ctr-streams run exports spans over OTLP', () => {
  let receiver: OtlpReceiver;
  let stateDir: string;
  before(async () => {
    receiver = await startOtlpReceiver();
    stateDir = mkdtempSync(join(tmpdir(), 'ctr-otlp-run-'));
  });
  after(async () => {
    await receiver.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("exports the engine's batch spans, linked to the producers' traces, and flushes them on SIGTERM", async () => {
    const { kafka, bootstrap } = await testKafka();
    const [input, upper, counts] = await createTopics(
      kafka,
      ['otlp-words', 'otlp-upper', 'otlp-counts'].map((p) => ({ name: uniqueName(p), partitions: 2 })),
    );
    const appId = uniqueName('otlp-app');
    const parents = ['a', 'b', 'c', 'd'].map((key) => ({ key, ...remoteParent() }));
    const producer = new KafkaProducer(kafka);
    await producer.connect();
    try {
      await producer.send(
        parents.map((p) => ({
          topic: input!,
          key: p.key,
          value: `word ${p.key}`,
          headers: { traceparent: p.traceparent },
        })),
      );
    } finally {
      await producer.disconnect();
    }

    const run = startCli(
      [
        'run',
        WORD_COUNT,
        '--bootstrap',
        bootstrap,
        '--application-id',
        appId,
        '--state-dir',
        stateDir,
        '--metrics-port',
        '0',
        '--set',
        'commit.interval.ms=500',
      ],
      {
        CLI_FIXTURE_INPUT: input,
        CLI_FIXTURE_UPPER: upper,
        CLI_FIXTURE_COUNTS: counts,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        // whatever the calling shell set: service.name must come from the application.id here
        OTEL_SERVICE_NAME: '',
        OTEL_TRACES_EXPORTER: '',
        // nothing is exported on schedule: the spans must arrive through the flush on SIGTERM
        OTEL_BSP_SCHEDULE_DELAY: '600000',
      },
    );
    try {
      await eventually('the running line on stderr', () => /running as/.test(run.stderr()), 45_000, 100);
      assert.match(run.stderr(), new RegExp(`spans to ${receiver.url}/v1/traces`));
      await eventually(
        'a count for every word',
        async () => (await readTopicToEnd(kafka, counts!)).length >= parents.length,
        45_000,
        300,
      );
      assert.equal(receiver.requests.length, 0, 'no export before the stop');
    } finally {
      run.child.kill('SIGTERM');
    }
    const result = await run.exited;
    assert.equal(result.code, 0, result.stderr);

    const spans = receiver.jsonSpans().filter((s) => s.name === `process ${input}`);
    assert.ok(
      spans.length >= 1,
      `batch spans of ${input} received (got ${receiver.jsonSpans().length} spans)`,
    );
    for (const s of spans) {
      assert.equal(s.kind, OTLP_CONSUMER);
      assert.equal(s.resource['service.name'], appId, 'service.name defaults to the application.id');
      assert.equal(s.attributes['messaging.system'], 'kafka');
      assert.equal(s.attributes['messaging.destination.name'], input);
      assert.match(String(s.attributes['ctr.task.id']), /^\d+_\d+$/);
    }
    const linked = spans.flatMap((s) => s.links.map((l) => `${l.traceId}/${l.spanId}`)).sort();
    assert.deepEqual(linked, parents.map((p) => `${p.traceId}/${p.spanId}`).sort());
  });

  it('refuses a bad OTLP variable with exit code 2 and a message naming it', async () => {
    const result = await runCli(['run', WORD_COUNT, '--application-id', uniqueName('otlp-bad')], {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20do-not-print',
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: expected http\/protobuf or http\/json/);
    assert.doesNotMatch(result.stderr, /do-not-print/);
  });
});

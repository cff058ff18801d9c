import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { KafkaProducer, readTopicToEnd } from '../../../src/kafka/index.ts';
import {
  extractTraceContext,
  injectTraceContext,
  linksFromHeaders,
  startTelemetry,
  type Telemetry,
} from '../../../src/telemetry/index.ts';
import { createTopics, testKafka, uniqueName } from '../../helpers/kafka.ts';

describe('trace context through a real Kafka topic', () => {
  const spans = new InMemorySpanExporter();
  let telemetry: Telemetry;

  before(async () => {
    telemetry = await startTelemetry({
      serviceName: 'trace-it',
      prometheusPort: false,
      spanProcessors: [new SimpleSpanProcessor(spans)],
    });
  });
  after(async () => {
    await telemetry.shutdown();
  });

  it('makes the consumer span a child of the producer span, across the broker', async () => {
    const { kafka } = await testKafka();
    const [topic] = await createTopics(kafka, [{ name: uniqueName('trace-it'), partitions: 2 }]);
    const tracer = trace.getTracer('trace-it');

    const producer = new KafkaProducer(kafka);
    await producer.connect();
    const sent: Array<{ traceId: string; spanId: string }> = [];
    try {
      for (const key of ['a', 'b', 'c']) {
        const span = tracer.startSpan(`${topic} publish`, { kind: SpanKind.PRODUCER });
        // the active context inside `with` carries the span: inject reads it by default
        const headers = context.with(trace.setSpan(context.active(), span), () =>
          injectTraceContext({ other: 'x' }),
        );
        await producer.send([{ topic: topic!, key, value: `v-${key}`, headers }]);
        span.end();
        sent.push({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId });
      }
    } finally {
      await producer.disconnect();
    }

    const records = await readTopicToEnd(kafka, topic!, { timeoutMs: 30_000 });
    assert.equal(records.length, 3);
    for (const record of records) {
      assert.ok(Buffer.isBuffer(record.headers.traceparent), 'headers arrive as bytes');
      assert.equal(record.headers.other?.toString(), 'x');
      const parent = extractTraceContext(record.headers);
      tracer.startSpan(`${topic} process`, { kind: SpanKind.CONSUMER }, parent).end();
    }

    const finished = spans.getFinishedSpans();
    const consumers = finished.filter((s) => s.kind === SpanKind.CONSUMER);
    assert.equal(consumers.length, 3);
    const parents = consumers
      .map((s) => ({ traceId: s.spanContext().traceId, spanId: s.parentSpanContext?.spanId }))
      .sort((x, y) => x.traceId.localeCompare(y.traceId));
    const expected = sent
      .map((s) => ({ traceId: s.traceId, spanId: s.spanId }))
      .sort((x, y) => x.traceId.localeCompare(y.traceId));
    assert.deepEqual(parents, expected);
    for (const c of consumers) assert.equal(c.parentSpanContext?.isRemote, true);

    // one batch span linking all three producers, as the engine does per micro-batch
    const links = linksFromHeaders(records.map((r) => r.headers));
    assert.deepEqual(links.map((l) => l.context.spanId).sort(), sent.map((s) => s.spanId).sort());
  });
});

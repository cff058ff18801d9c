import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { metrics } from '@opentelemetry/api';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import {
  METRICS,
  counter,
  gauge,
  histogram,
  startTelemetry,
  type MetricDefinition,
} from '../../../src/telemetry/index.ts';
import { TestMetricReader } from '../../helpers/metrics.ts';

// Created at "module load", before any SDK exists: the case the lazy instruments are for.
const consumed = counter(METRICS.recordsConsumed);
const processDuration = histogram(METRICS.processDuration);
const lag = gauge(METRICS.consumerLag);

describe('catalogue instruments', () => {
  const shutdowns: Array<() => Promise<void>> = [];
  after(async () => {
    for (const s of shutdowns) await s();
  });

  it('record nothing and do not throw while no SDK is registered', () => {
    consumed.add(3, { topic: 'items' });
    processDuration.record(0.01);
    lag.record(7, { topic: 'items', partition: 0 });
  });

  it('record into the SDK once telemetry starts, although created before it', async () => {
    const reader = new TestMetricReader();
    const telemetry = await startTelemetry({
      serviceName: 'instruments-test',
      prometheusPort: false,
      processMetrics: false,
      metricReaders: [reader],
    });
    shutdowns.push(() => telemetry.shutdown());

    consumed.add(5, { topic: 'items' });
    consumed.add(2, { topic: 'items' });
    processDuration.record(0.003, { subtopology: '0' });
    processDuration.recordSince(process.hrtime.bigint() - 2_000_000n, { subtopology: '0' });
    lag.record(7, { topic: 'items', partition: 0 });
    lag.record(4, { topic: 'items', partition: 0 });

    const c = await reader.metric(METRICS.recordsConsumed.name);
    assert.equal(c?.dataPointType, DataPointType.SUM);
    assert.equal(c?.dataPoints[0]?.value, 7, 'the 3 recorded before start are not counted');
    assert.deepEqual(c?.dataPoints[0]?.attributes, { topic: 'items' });
    assert.equal(c?.descriptor.unit, '{record}');

    const h = await reader.metric(METRICS.processDuration.name);
    assert.equal(h?.dataPointType, DataPointType.HISTOGRAM);
    const point = h!.dataPoints[0]!.value as {
      count: number;
      sum: number;
      buckets: { boundaries: number[] };
    };
    assert.equal(point.count, 2);
    assert.ok(point.sum >= 0.005 && point.sum < 0.5, `sum ${point.sum}`);
    assert.deepEqual(point.buckets.boundaries, [...METRICS.processDuration.buckets]);

    const g = await reader.metric(METRICS.consumerLag.name);
    assert.equal(g?.dataPointType, DataPointType.GAUGE);
    assert.equal(g?.dataPoints[0]?.value, 4);
  });

  it('fall back to no-ops after shutdown, and re-attach on the next start', async () => {
    await shutdowns.pop()!();
    consumed.add(100, { topic: 'items' });
    const reader = new TestMetricReader();
    const telemetry = await startTelemetry({
      serviceName: 'instruments-test-2',
      prometheusPort: false,
      processMetrics: false,
      metricReaders: [reader],
    });
    shutdowns.push(() => telemetry.shutdown());
    consumed.add(1, { topic: 'items' });
    const c = await reader.metric(METRICS.recordsConsumed.name);
    assert.equal(c?.dataPoints[0]?.value, 1);
    // plain API users get the same SDK
    metrics.getMeter('ctr-streams').createCounter('ctr.test.plain').add(2);
    assert.equal((await reader.metric('ctr.test.plain'))?.dataPoints[0]?.value, 2);
  });

  it('refuse a catalogue entry of another kind', () => {
    assert.throws(() => counter(METRICS.processDuration as unknown as MetricDefinition<'counter'>), {
      name: 'TypeError',
      message: 'metric "ctr.streams.process.duration" is a histogram, not a counter',
    });
  });
});

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { metrics, type BatchObservableResult } from '@opentelemetry/api';
import { ProxyMeterProvider } from '../../../src/telemetry/meter-proxy.ts';
import { createLogger, startTelemetry, type Telemetry } from '../../../src/telemetry/index.ts';
import { TestMetricReader } from '../../helpers/metrics.ts';

// What engine modules do at load time, before any SDK exists (createLogger: the module also logs).
createLogger('meter-proxy-test');
const meter = metrics.getMeter('ctr-streams');
const early = meter.createCounter('ctr.test.proxy.early');
const earlyHistogram = meter.createHistogram('ctr.test.proxy.latency', { unit: 's' });
let queueDepth = 11;
const gauge = meter.createObservableGauge('ctr.test.proxy.queue');
gauge.addCallback((result) => result.observe(queueDepth, { model: 'ctr' }));
const batchA = meter.createObservableCounter('ctr.test.proxy.batch_a');
const batchB = meter.createObservableUpDownCounter('ctr.test.proxy.batch_b');
const batchCallback = (result: BatchObservableResult) => {
  result.observe(batchA, 5);
  result.observe(batchB, -2);
};
meter.addBatchObservableCallback(batchCallback, [batchA, batchB]);

describe('the global proxy MeterProvider', () => {
  const running: Telemetry[] = [];
  after(async () => {
    for (const t of running) await t.shutdown();
  });

  async function start(reader: TestMetricReader): Promise<Telemetry> {
    const t = await startTelemetry({
      serviceName: 'proxy-test',
      prometheusPort: false,
      processMetrics: false,
      metricReaders: [reader],
    });
    running.push(t);
    return t;
  }

  it('is the global MeterProvider as soon as our code is loaded', () => {
    assert.ok(metrics.getMeterProvider() instanceof ProxyMeterProvider);
  });

  it('drops what is recorded before telemetry starts', () => {
    early.add(100);
    earlyHistogram.record(9);
  });

  it('forwards instruments created at load time once telemetry starts', async () => {
    const reader = new TestMetricReader();
    await start(reader);
    early.add(2);
    early.add(3, { topic: 'items' });
    earlyHistogram.record(0.25);
    const data = await reader.all();
    const counter = data.get('ctr.test.proxy.early')!;
    assert.deepEqual(
      counter.dataPoints.map((p) => [p.attributes, p.value]),
      [
        [{}, 2],
        [{ topic: 'items' }, 3],
      ],
    );
    const histogram = data.get('ctr.test.proxy.latency')!;
    assert.equal(histogram.descriptor.unit, 's');
    assert.equal((histogram.dataPoints[0]!.value as { count: number }).count, 1);
  });

  it('collects observable instruments and batch callbacks registered at load time', async () => {
    queueDepth = 7;
    const reader = new TestMetricReader();
    await running.pop()!.shutdown();
    await start(reader);
    const data = await reader.all();
    assert.deepEqual(
      data.get('ctr.test.proxy.queue')!.dataPoints.map((p) => [p.attributes, p.value]),
      [[{ model: 'ctr' }, 7]],
    );
    assert.equal(data.get('ctr.test.proxy.batch_a')!.dataPoints[0]!.value, 5);
    assert.equal(data.get('ctr.test.proxy.batch_b')!.dataPoints[0]!.value, -2);
  });

  it('moves everything to the new SDK after a restart, and honours removed callbacks', async () => {
    await running.pop()!.shutdown();
    early.add(1000); // between two SDKs: dropped
    meter.removeBatchObservableCallback(batchCallback, [batchA, batchB]);
    const reader = new TestMetricReader();
    await start(reader);
    early.add(1);
    const data = await reader.all();
    assert.equal(data.get('ctr.test.proxy.early')!.dataPoints[0]!.value, 1, 'a fresh SDK starts from zero');
    assert.ok(data.has('ctr.test.proxy.queue'));
    assert.ok(!data.has('ctr.test.proxy.batch_a'), 'the removed batch callback is not called');
  });
});

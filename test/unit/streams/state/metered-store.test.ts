import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { MeteredKeyValueStore } from '../../../../src/streams/state/metered-store.ts';
import { InMemoryKeyValueStore } from '../../../../src/streams/state/in-memory-store.ts';
import { StoreClosedError } from '../../../../src/streams/state/errors.ts';
import { stringSerde } from '../../../../src/streams/serde/string-serde.ts';
import { jsonSerde } from '../../../../src/streams/serde/json-serde.ts';
import type { Serde } from '../../../../src/streams/serde/serde.ts';
import { METRICS, startTelemetry } from '../../../../src/telemetry/index.ts';
import { b, makeContext, removeDir, tempDir } from './helpers.ts';
import { TestMetricReader } from '../../../helpers/metrics.ts';

interface Stats {
  clicks: number;
  ctr: number;
}

describe('metered layer', () => {
  let dir: string;
  let store: MeteredKeyValueStore<string, Stats>;
  let shutdown: () => Promise<void>;
  const reader = new TestMetricReader();

  before(async () => {
    const telemetry = await startTelemetry({
      serviceName: 'metered-store-test',
      prometheusPort: false,
      processMetrics: false,
      metricReaders: [reader],
    });
    shutdown = () => telemetry.shutdown();
  });

  after(async () => {
    await shutdown();
  });

  beforeEach(async () => {
    dir = await tempDir();
    store = new MeteredKeyValueStore(new InMemoryKeyValueStore('stats'), stringSerde, jsonSerde<Stats>());
    await store.init(makeContext({ taskDir: dir }));
  });

  afterEach(async () => {
    await store.close();
    await removeDir(dir);
  });

  it('should serialize typed keys and values for the byte store below and read them back', async () => {
    await store.put('item-1', { clicks: 3, ctr: 0.1 });
    assert.deepEqual(await store.get('item-1'), { clicks: 3, ctr: 0.1 });
    const bytes = await store.wrapped().get(b('item-1'));
    assert.deepEqual(JSON.parse(bytes!.toString()), { clicks: 3, ctr: 0.1 });
    assert.equal(await store.get('nope'), undefined);
    assert.deepEqual(await store.delete('item-1'), { clicks: 3, ctr: 0.1 });
    assert.equal(await store.get('item-1'), undefined);
  });

  it('should scan typed entries in serialized key order', async () => {
    await store.putAll([
      ['ctx:2|item:1', { clicks: 1, ctr: 0 }],
      ['ctx:1|item:2', { clicks: 2, ctr: 0 }],
      ['ctx:1|item:1', { clicks: 3, ctr: 0 }],
      ['ctx:3|item:1', null],
    ]);
    const keys = async (it: AsyncIterable<readonly [string, Stats]>) => {
      const out: string[] = [];
      for await (const [k] of it) out.push(k);
      return out;
    };
    assert.deepEqual(await keys(store.all()), ['ctx:1|item:1', 'ctx:1|item:2', 'ctx:2|item:1']);
    assert.deepEqual(await keys(store.prefixScan('ctx:1|')), ['ctx:1|item:1', 'ctx:1|item:2']);
    assert.deepEqual(await keys(store.range('ctx:1|item:2', undefined)), ['ctx:1|item:2', 'ctx:2|item:1']);
    assert.deepEqual(
      (await store.getMany(['ctx:2|item:1', 'x'])).map((v) => v?.clicks),
      [1, undefined],
    );
    assert.equal(await store.approximateNumEntries(), 3);
  });

  it('should call the serde hooks with the changelog topic: prepare at init, resolve before deserializing', async () => {
    const calls: string[] = [];
    const tracing: Serde<string> = {
      name: 'tracing',
      serialize: (topic, data) => stringSerde.serialize(topic, data),
      deserialize: (topic, data) => stringSerde.deserialize(topic, data),
      prepare: async (topic, isKey) => void calls.push(`prepare ${topic} ${isKey ? 'key' : 'value'}`),
      resolve: async (topic, data) => void calls.push(`resolve ${topic} ${data.length}`),
    };
    const traced = new MeteredKeyValueStore(new InMemoryKeyValueStore('traced'), stringSerde, tracing);
    await traced.init(makeContext({ taskDir: dir, applicationId: 'app' }));
    await traced.put('a', 'x');
    await traced.put('b', 'y');
    await traced.getMany(['a', 'b', 'c']);
    assert.deepEqual(calls, ['prepare app-traced-changelog value', 'resolve app-traced-changelog 2']);
    await traced.close();
  });

  it('should time each operation into ctr.streams.store.operation.duration with store and operation', async () => {
    await store.put('a', { clicks: 1, ctr: 1 });
    await store.get('a');
    await store.get('b');
    for await (const _ of store.all()) void _;
    await store.flush();
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === METRICS.storeOperationDuration.name);
    assert.ok(metric, 'histogram recorded');
    assert.equal(metric.dataPointType, DataPointType.HISTOGRAM);
    const counts = new Map(
      metric.dataPoints
        .filter((p) => p.attributes.store === 'stats')
        .map((p) => [p.attributes.operation as string, (p.value as { count: number }).count]),
    );
    assert.ok((counts.get('get') ?? 0) >= 2, `get count ${counts.get('get')}`);
    assert.ok((counts.get('put') ?? 0) >= 1);
    assert.ok((counts.get('range') ?? 0) >= 1);
    assert.ok((counts.get('flush') ?? 0) >= 1);
  });

  it('should refuse a scan after close with a StoreClosedError naming the store', async () => {
    await store.close();
    await assert.rejects(
      async () => {
        for await (const _ of store.all()) void _;
      },
      (err: unknown) => err instanceof StoreClosedError && /"stats"/.test(err.message),
    );
    store = new MeteredKeyValueStore(new InMemoryKeyValueStore('stats'), stringSerde, jsonSerde<Stats>());
    await store.init(makeContext({ taskDir: dir }));
  });
});

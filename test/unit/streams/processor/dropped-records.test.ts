/**
 * Records the engine drops without a handler (negative extracted timestamp,
 * null key/value in an aggregation) are counted in
 * `ctr.streams.dropped.records` by reason and source topic.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jsonSerde, stringSerde } from '../../../../src/streams/serde/index.ts';
import { TopologyTestDriver } from '../../../../src/streams/testing/index.ts';
import { Consumed, Materialized, StreamsBuilder } from '../../../../src/streams/topology/index.ts';
import { METRICS, startTelemetry } from '../../../../src/telemetry/index.ts';
import { TestMetricReader } from '../../../helpers/metrics.ts';

const reader = new TestMetricReader();
let shutdown: (() => Promise<void>) | undefined;

/** The dropped-records count per `reason/topic`. */
async function dropped(): Promise<Record<string, number>> {
  const data = await reader.metric(METRICS.droppedRecords.name);
  const out: Record<string, number> = {};
  for (const point of data?.dataPoints ?? [])
    out[`${String(point.attributes['reason'])}/${String(point.attributes['topic'])}`] = point.value as number;
  return out;
}

describe('dropped records', () => {
  before(async () => {
    const telemetry = await startTelemetry({
      serviceName: 'dropped-records-test',
      prometheusPort: false,
      processMetrics: false,
      metricReaders: [reader],
    });
    shutdown = () => telemetry.shutdown();
  });
  after(async () => shutdown?.());

  it('counts records whose extracted timestamp is negative, and forwards the others', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream(
        'stamped',
        Consumed.with(stringSerde, jsonSerde<{ at: number }>()).withTimestampExtractor(
          (r) => (r.value as { at: number }).at,
        ),
      )
      .mapValues((v) => String(v.at))
      .to('stamped-out');
    const driver = new TopologyTestDriver(builder.build(), { applicationId: 'drop-app' });
    try {
      const input = driver.createInputTopic('stamped', stringSerde, jsonSerde<{ at: number }>());
      await input.pipeRecordList([
        { key: 'a', value: { at: 10 } },
        { key: 'b', value: { at: -1 } },
        { key: 'c', value: { at: 20 } },
        { key: 'd', value: { at: -5 } },
        { key: 'e', value: { at: -7 } },
      ]);
      const out = driver.createOutputTopic('stamped-out', stringSerde, stringSerde).readKeyValuesToList();
      assert.deepEqual(out, [
        ['a', '10'],
        ['c', '20'],
      ]);
      assert.equal((await dropped())['negative-timestamp/stamped'], 3);
    } finally {
      await driver.close();
    }
  });

  it('counts records an aggregation skips for a null key or a null value', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('votes', Consumed.with(stringSerde, stringSerde))
      .groupByKey()
      .count(Materialized.as('vote-counts'));
    const driver = new TopologyTestDriver(builder.build(), { applicationId: 'drop-agg-app' });
    try {
      const input = driver.createInputTopic('votes', stringSerde, stringSerde);
      await input.pipeRecordList([
        { key: 'x', value: 'up' },
        { key: null as unknown as string, value: 'up' },
        { key: 'y', value: null as unknown as string },
        { key: null as unknown as string, value: 'down' },
        { key: 'x', value: 'up' },
      ]);
      const counts = await driver.getKeyValueStore<string, number>('vote-counts');
      assert.equal(await counts.get('x'), 2);
      const now = await dropped();
      assert.equal(now['null-key/votes'], 2);
      assert.equal(now['null-value/votes'], 1);
    } finally {
      await driver.close();
    }
  });
});

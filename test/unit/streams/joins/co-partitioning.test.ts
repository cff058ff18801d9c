import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Consumed,
  Grouped,
  JoinWindows,
  Materialized,
  Produced,
  StreamJoined,
  StreamsBuilder,
} from '../../../../src/streams/topology/index.ts';
import { TopologyTestDriver } from '../../../../src/streams/testing/index.ts';
import { stringSerde } from '../../../../src/streams/serde/index.ts';

const S = Consumed.with(stringSerde, stringSerde);

describe('co-partitioning of joined inputs', () => {
  it('puts both sides of a join in one sub-topology and refuses inputs with different partition counts, naming them', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('impressions', S)
      .join(builder.stream('clicks', S), (i, c) => `${i}+${c}`, JoinWindows.ofTimeDifferenceWithNoGrace(10))
      .to('out', Produced.with(stringSerde, stringSerde));
    const topology = builder.build();
    assert.equal(topology.subtopologies().length, 1);
    assert.deepEqual([...topology.subtopologies()[0]!.sourceTopics].sort(), ['clicks', 'impressions']);
    const driver = new TopologyTestDriver(topology);
    try {
      driver.createInputTopic('impressions', stringSerde, stringSerde, { partitions: 4 });
      const clicks = driver.createInputTopic('clicks', stringSerde, stringSerde, { partitions: 3 });
      await assert.rejects(clicks.pipeInput('i', 'c', 1), (error: Error) => {
        assert.match(error.message, /not co-partitioned/);
        assert.match(error.message, /impressions \(4\)/);
        assert.match(error.message, /clicks \(3\)/);
        return true;
      });
    } finally {
      await driver.close().catch(() => undefined);
    }
  });

  it('repartitions a side whose key changed, through <name>-left-repartition, before joining', async () => {
    const builder = new StreamsBuilder();
    const impressions = builder.stream('impressions', S).selectKey((_ctx, item) => item);
    impressions
      .join(
        builder.stream('clicks', S),
        (i, c) => `${i}+${c}`,
        JoinWindows.ofTimeDifferenceWithNoGrace(10),
        StreamJoined.with(stringSerde, stringSerde, stringSerde).withName('imp-click'),
      )
      .to('out', Produced.with(stringSerde, stringSerde));
    const topology = builder.build();
    const internal = topology.internalTopics('app').map((t) => t.name);
    assert.ok(internal.includes('app-imp-click-left-repartition'), internal.join(', '));
    const driver = new TopologyTestDriver(topology, { applicationId: 'app' });
    try {
      // impressions keyed by context, valued by item; clicks keyed by item
      const imps = driver.createInputTopic('impressions', stringSerde, stringSerde, { partitions: 3 });
      const clicks = driver.createInputTopic('clicks', stringSerde, stringSerde, { partitions: 3 });
      await imps.pipeInput('ctx-1', 'item-9', 1);
      await clicks.pipeInput('item-9', 'click', 2);
      assert.deepEqual(driver.createOutputTopic('out', stringSerde, stringSerde).readKeyValuesToList(), [
        ['item-9', 'item-9+click'],
      ]);
    } finally {
      await driver.close();
    }
  });

  it('a table-table join needs both tables materialized, and says which is not', () => {
    const builder = new StreamsBuilder();
    const counts = builder
      .stream('a', S)
      .groupByKey(Grouped.with(stringSerde, stringSerde))
      .count(Materialized.as('counts'));
    const b = builder.table('b', S, Materialized.as('b-store'));
    const joined = counts.join(b, (n, v) => `${n}:${v}`);
    assert.equal(joined.queryableStoreName, '', 'an unmaterialized join result has no store');
    assert.throws(() => b.join(joined, (x, y) => `${x}${y}`), /is not materialized/);
  });
});

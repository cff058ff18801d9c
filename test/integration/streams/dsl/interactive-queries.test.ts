import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InteractiveQueries, KafkaStreams, StoreQueryError } from '../../../../src/streams/runtime/index.ts';
import { stringSerde } from '../../../../src/streams/serde/index.ts';
import {
  Consumed,
  Materialized,
  StreamsBuilder,
  TimeWindows,
} from '../../../../src/streams/topology/index.ts';
import {
  createTopics,
  eventually,
  produceRecords,
  testKafka,
  uniqueName,
  type TestKafka,
} from '../../../helpers/kafka.ts';
import { appConfig, FAST_GROUP, tempStateDirs, waitForTasks } from '../../../helpers/streams.ts';

const PARTITIONS = 4;

describe('interactive queries on two running instances', () => {
  let env: TestKafka;
  const dirs = tempStateDirs('ctr-iq-');
  before(async () => {
    env = await testKafka();
  });
  after(() => dirs.cleanup());

  it('every instance knows which host:port holds a key; the holder answers from its key-value and window stores', async () => {
    const input = uniqueName('iq-clicks');
    const applicationId = uniqueName('iq-app');
    await createTopics(env.kafka, [{ name: input, partitions: PARTITIONS }]);
    const builder = new StreamsBuilder();
    const clicks = builder.stream(input, Consumed.with(stringSerde, stringSerde));
    clicks.groupByKey().count(Materialized.as('clicks-total'));
    clicks
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 3_600_000))
      .count(Materialized.as('clicks-per-minute'));
    const topology = builder.build();
    const make = (server: string): KafkaStreams =>
      new KafkaStreams(
        topology,
        appConfig(env, applicationId, dirs.make(), {
          'application.server': server,
          'commit.interval.ms': 200,
          ...FAST_GROUP,
        }),
      );
    const a = make('host-a:7001');
    const b = make('host-b:7002');
    try {
      // both start at once, as pods of a StatefulSet with Parallel pod management do
      // (this caught a restore that failed fatally on a just-created changelog)
      await Promise.all([a.start(), b.start()]);
      await waitForTasks([a, b], 2);
      const base = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);
      // item-k gets k clicks, all in the first minute
      const records = [];
      for (let k = 1; k <= 20; k++)
        for (let n = 0; n < k; n++)
          records.push({ topic: input, key: `item-${k}`, value: 'c', timestamp: base + n });
      await produceRecords(env.kafka, records);
      const iqA = new InteractiveQueries(a, topology);
      const iqB = new InteractiveQueries(b, topology);
      const localTotal = async (iq: InteractiveQueries): Promise<number> => {
        let n = 0;
        for await (const [, v] of iq.keyValueStore<string, number>('clicks-total', stringSerde).all()) n += v;
        return n;
      };
      await eventually(
        'all 210 clicks counted',
        async () => (await localTotal(iqA)) + (await localTotal(iqB)) === 210,
        30_000,
        200,
      );
      assert.ok(a.error === undefined && b.error === undefined);
      const meta = await iqA.allMetadata();
      assert.deepEqual(meta.map((m) => m.host).sort(), ['host-a:7001', 'host-b:7002']);
      for (const m of meta) assert.deepEqual([...m.stores].sort(), ['clicks-per-minute', 'clicks-total']);

      const byHost = new Map([
        ['host-a:7001', iqA],
        ['host-b:7002', iqB],
      ]);
      const hosts = new Set<string>();
      for (let k = 1; k <= 20; k++) {
        const key = `item-${k}`;
        const fromA = await iqA.queryMetadataForKey('clicks-total', key, stringSerde);
        const fromB = await iqB.queryMetadataForKey('clicks-total', key, stringSerde);
        assert.equal(fromA.activeHost, fromB.activeHost, `both instances agree where ${key} lives`);
        assert.equal(fromA.partition, fromB.partition);
        assert.notEqual(fromA.local, fromB.local, `exactly one instance holds ${key}`);
        hosts.add(fromA.activeHost!);
        const holder = byHost.get(fromA.activeHost!)!;
        const other = holder === iqA ? iqB : iqA;
        assert.equal(await holder.keyValueStore<string, number>('clicks-total', stringSerde).get(key), k);
        const windows: Array<readonly [number, number]> = [];
        for await (const w of holder
          .windowStore<string, number>('clicks-per-minute', stringSerde)
          .fetch(key, base - 60_000, base + 60_000))
          windows.push(w);
        assert.deepEqual(windows, [[base, k]]);
        await assert.rejects(
          other.keyValueStore<string, number>('clicks-total', stringSerde).get(key),
          StoreQueryError,
        );
      }
      assert.equal(hosts.size, 2, 'the keys are spread over both instances');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

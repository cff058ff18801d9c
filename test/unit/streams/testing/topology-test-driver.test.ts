import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Consumed,
  countSerde,
  Materialized,
  Produced,
  StreamsBuilder,
  Topology,
} from '../../../../src/streams/topology/index.ts';
import { TopologyTestDriver } from '../../../../src/streams/testing/index.ts';
import {
  defaultPartition,
  type Processor,
  type ProcessorContext,
} from '../../../../src/streams/processor/index.ts';
import { Stores, type KeyValueStore } from '../../../../src/streams/state/index.ts';
import { stringSerde } from '../../../../src/streams/serde/index.ts';

const S = Consumed.with(stringSerde, stringSerde);
let driver: TopologyTestDriver | undefined;

afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** Forwards each record with the task's partition in the value: shows which task processed it. */
function tagWithPartition(): Processor<string, string, string, string> {
  let ctx: ProcessorContext<string, string>;
  return {
    init: (c) => void (ctx = c),
    process: (records) => ctx.forward(records.map((r) => ({ ...r, value: `${r.value}@p${ctx.partition}` }))),
  };
}

describe('TopologyTestDriver with multi-partition input', () => {
  it('runs one task per partition and places records by murmur2 of the key bytes', async () => {
    const builder = new StreamsBuilder();
    builder.stream('in', S).process(tagWithPartition).to('out', Produced.with(stringSerde, stringSerde));
    driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', stringSerde, stringSerde, { partitions: 6 });
    const keys = Array.from({ length: 30 }, (_, i) => `user-${i}`);
    for (const k of keys) await input.pipeInput(k, 'v');
    assert.deepEqual(driver.taskIds(), ['0_0', '0_1', '0_2', '0_3', '0_4', '0_5']);
    const out = driver.createOutputTopic('out', stringSerde, stringSerde).readRecordsToList();
    for (const r of out) {
      const expected = defaultPartition(Buffer.from(r.key), 6);
      assert.equal(
        r.value,
        `v@p${expected}`,
        `key ${r.key} must be processed by the task of partition ${expected}`,
      );
    }
    assert.ok(new Set(out.map((r) => r.value)).size > 1, 'keys spread over several partitions');
  });

  it('keeps per-key order within each partition', async () => {
    const builder = new StreamsBuilder();
    builder.stream('in', S).to('out', Produced.with(stringSerde, stringSerde));
    driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', stringSerde, stringSerde, { partitions: 4 });
    const records = [];
    for (let seq = 0; seq < 10; seq++)
      for (const k of ['a', 'b', 'c', 'd', 'e']) records.push({ key: k, value: String(seq), timestamp: seq });
    await input.pipeRecordList(records);
    const out = driver.createOutputTopic('out', stringSerde, stringSerde).readRecordsToList();
    assert.equal(out.length, 50);
    for (const k of ['a', 'b', 'c', 'd', 'e']) {
      assert.deepEqual(
        out.filter((r) => r.key === k).map((r) => r.value),
        ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      );
    }
  });

  it('partitions output by key too, and counts per key in the task owning the key', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('clicks', S)
      .groupByKey()
      .count(Materialized.as('counts'))
      .toStream()
      .to('counts-out', Produced.with(stringSerde, countSerde));
    driver = new TopologyTestDriver(builder.build());
    const clicks = driver.createInputTopic('clicks', stringSerde, stringSerde, { partitions: 3 });
    const out = driver.createOutputTopic('counts-out', stringSerde, countSerde, { partitions: 3 });
    for (let i = 0; i < 12; i++) await clicks.pipeInput(`item-${i % 4}`, 'c');
    const records = out.readRecordsToList();
    for (const r of records) assert.equal(r.partition, defaultPartition(Buffer.from(r.key), 3));
    for (let i = 0; i < 4; i++) {
      const key = `item-${i}`;
      const store: KeyValueStore<string, number> = await driver.getKeyValueStore<string, number>(
        'counts',
        defaultPartition(Buffer.from(key), 3),
      );
      assert.equal(await store.get(key), 3);
    }
  });

  it('rejects sources of one sub-topology that are not co-partitioned', async () => {
    const topology = new Topology()
      .addSource('s', ['a', 'b'])
      .addProcessor('p', () => ({ process() {} }), 's');
    driver = new TopologyTestDriver(topology);
    driver.createInputTopic('a', undefined, undefined, { partitions: 2 });
    driver.createInputTopic('b', undefined, undefined, { partitions: 3 });
    await assert.rejects(
      driver.init(),
      /sub-topology 0 reads topics that are not co-partitioned: a \(2\), b \(3\)/,
    );
  });

  it('pipes a list as one batch per partition', async () => {
    const sizes: number[] = [];
    const builder = new StreamsBuilder();
    builder.stream('in', S).process(() => ({ process: (records) => void sizes.push(records.length) }));
    driver = new TopologyTestDriver(builder.build());
    await driver.createInputTopic('in', stringSerde, stringSerde).pipeKeyValueList([
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
    ]);
    assert.deepEqual(sizes, [3]);
  });
});

describe('TopologyTestDriver time', () => {
  it('fires STREAM_TIME punctuators from piped timestamps and WALL_CLOCK_TIME ones from advanceWallClockTime', async () => {
    const events: string[] = [];
    const topology = new Topology().addSource('s', 'in', stringSerde, stringSerde).addProcessor(
      'p',
      () => ({
        init(c: ProcessorContext) {
          c.schedule(1000, 'STREAM_TIME', (t) => void events.push(`stream@${t}`));
          c.schedule(5000, 'WALL_CLOCK_TIME', (t) => void events.push(`wall@${t}`));
        },
        process(records) {
          events.push(`records ${records.map((r) => r.value).join(',')}`);
        },
      }),
      's',
    );
    driver = new TopologyTestDriver(topology, { initialWallClockTimeMs: 100_000 });
    const input = driver.createInputTopic('in', stringSerde, stringSerde);
    await input.pipeInput('k', 'a', 0);
    await input.pipeInput('k', 'b', 999);
    await input.pipeInput('k', 'c', 1000);
    await driver.advanceWallClockTime(4999);
    await driver.advanceWallClockTime(1);
    await driver.advanceWallClockTime(12_000);
    assert.deepEqual(events, [
      'records a',
      'stream@0',
      'records b',
      'records c',
      'stream@1000',
      'wall@105000',
      'wall@117000',
    ]);
    assert.equal(driver.currentWallClockTimeMs, 117_000);
  });

  it('gives processors the mock wall clock as currentSystemTimeMs', async () => {
    const seen: number[] = [];
    const topology = new Topology().addSource('s', 'in').addProcessor(
      'p',
      () => {
        let ctx: ProcessorContext;
        return {
          init: (c: ProcessorContext) => void (ctx = c),
          process: () => void seen.push(ctx.currentSystemTimeMs),
        };
      },
      's',
    );
    driver = new TopologyTestDriver(topology, { initialWallClockTimeMs: 5000 });
    const input = driver.createInputTopic('in', undefined, undefined);
    await input.pipeValue(Buffer.from('x'));
    await driver.advanceWallClockTime(250);
    await input.pipeValue(Buffer.from('y'));
    assert.deepEqual(seen, [5000, 5250]);
  });

  it('commits every commit interval of mock time and on demand, returning next offsets', async () => {
    const builder = new StreamsBuilder();
    builder.stream('in', S).groupByKey().count(Materialized.as('c'));
    driver = new TopologyTestDriver(builder.build(), { commitIntervalMs: 10_000, initialWallClockTimeMs: 0 });
    const input = driver.createInputTopic('in', stringSerde, stringSerde);
    await input.pipeInput('a', '1');
    await input.pipeInput('a', '2');
    assert.deepEqual([...driver.committedOffsets()], []);
    await driver.advanceWallClockTime(9_999);
    assert.deepEqual([...driver.committedOffsets()], []);
    await driver.advanceWallClockTime(1);
    assert.deepEqual([...driver.committedOffsets()], [['in:0', '2']]);
    await input.pipeInput('b', '3');
    await driver.commit();
    assert.deepEqual([...driver.committedOffsets()], [['in:0', '3']]);
  });

  it('commits when a processor requests it', async () => {
    const topology = new Topology().addSource('s', 'in').addProcessor(
      'p',
      () => {
        let ctx: ProcessorContext;
        return { init: (c: ProcessorContext) => void (ctx = c), process: () => ctx.requestCommit() };
      },
      's',
    );
    driver = new TopologyTestDriver(topology);
    await driver.createInputTopic('in', undefined, undefined).pipeValue(Buffer.from('x'));
    assert.deepEqual([...driver.committedOffsets()], [['in:0', '1']]);
  });

  it('auto-advances input time for records without a timestamp', async () => {
    const builder = new StreamsBuilder();
    builder.stream('in', S).to('out', Produced.with(stringSerde, stringSerde));
    driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', stringSerde, stringSerde, {
      startTimestampMs: 1000,
      autoAdvanceMs: 10,
    });
    await input.pipeKeyValueList([
      ['a', '1'],
      ['b', '2'],
    ]);
    input.advanceTime(100);
    await input.pipeInput('c', '3');
    assert.deepEqual(
      driver
        .createOutputTopic('out', stringSerde, stringSerde)
        .readRecordsToList()
        .map((r) => r.timestamp),
      [1000, 1010, 1120],
    );
  });
});

describe('TopologyTestDriver topics and stores', () => {
  it('feeds records written to a topic the topology reads back into it', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', S)
      .mapValues((v) => v + '>mid')
      .to('mid', Produced.with(stringSerde, stringSerde));
    builder
      .stream('mid', S)
      .mapValues((v) => v + '>out')
      .to('out', Produced.with(stringSerde, stringSerde));
    driver = new TopologyTestDriver(builder.build());
    await driver.createInputTopic('in', stringSerde, stringSerde).pipeInput('k', 'v');
    assert.deepEqual(driver.createOutputTopic('out', stringSerde, stringSerde).readValuesToList(), [
      'v>mid>out',
    ]);
  });

  it('reads pattern-subscribed topics', async () => {
    const builder = new StreamsBuilder();
    builder.stream(/^events-/, S).to('out', Produced.with(stringSerde, stringSerde));
    driver = new TopologyTestDriver(builder.build());
    await driver.createInputTopic('events-eu', stringSerde, stringSerde).pipeInput('k', 'eu', 1);
    await driver.createInputTopic('events-us', stringSerde, stringSerde).pipeInput('k', 'us', 2);
    await driver.createInputTopic('other', stringSerde, stringSerde).pipeInput('k', 'ignored', 3);
    assert.deepEqual(driver.createOutputTopic('out', stringSerde, stringSerde).readValuesToList(), [
      'eu',
      'us',
    ]);
  });

  it('writes changelog records to <application.id>-<store>-changelog', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', S)
      .groupByKey()
      .count(Materialized.as<string, number>('counts').withCachingDisabled());
    driver = new TopologyTestDriver(builder.build(), { applicationId: 'clicks' });
    await driver.createInputTopic('in', stringSerde, stringSerde).pipeKeyValueList([
      ['a', '1'],
      ['a', '2'],
    ]);
    await driver.commit();
    const changelog = driver.createOutputTopic('clicks-counts-changelog', stringSerde, countSerde);
    assert.deepEqual(changelog.readKeyValuesToMap(), new Map([['a', 2]]));
  });

  it('uses in-memory stores by default and real LevelDB stores when asked', async () => {
    const build = () => {
      const builder = new StreamsBuilder();
      builder.stream('in', S).groupByKey().count(Materialized.as('counts'));
      return builder.build();
    };
    const memory = new TopologyTestDriver(build());
    await memory.createInputTopic('in', stringSerde, stringSerde).pipeInput('a', '1');
    assert.equal((await memory.getKeyValueStore('counts')).persistent, false);
    await memory.close();

    const stateDir = mkdtempSync(join(tmpdir(), 'ttd-leveldb-'));
    try {
      driver = new TopologyTestDriver(build(), { applicationId: 'disk', storeType: 'persistent', stateDir });
      await driver.createInputTopic('in', stringSerde, stringSerde).pipeInput('a', '1');
      const store: KeyValueStore<string, number> = await driver.getKeyValueStore<string, number>('counts');
      assert.equal(store.persistent, true);
      assert.equal(await store.get('a'), 1);
      await driver.close();
      driver = undefined;
      assert.ok(
        existsSync(join(stateDir, 'disk', '0_0', 'counts')),
        'the LevelDB store lives in <state.dir>/<app>/<task>/<store>',
      );
      assert.ok(readdirSync(join(stateDir, 'disk', '0_0', 'counts')).length > 0);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('commits real LevelDB stores at the changelog offset the collector acked, and keeps data across driver restarts', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ttd-position-'));
    const build = () => {
      const builder = new StreamsBuilder();
      builder
        .stream('in', S)
        .groupByKey()
        .count(Materialized.as<string, number>('counts').withCachingDisabled());
      return builder.build();
    };
    try {
      driver = new TopologyTestDriver(build(), { applicationId: 'pos', storeType: 'persistent', stateDir });
      await driver.createInputTopic('in', stringSerde, stringSerde).pipeKeyValueList([
        ['a', '1'],
        ['b', '2'],
        ['a', '3'],
      ]);
      await driver.commit();
      const store = await driver.getKeyValueStore<string, number>('counts');
      const changelog = driver
        .createOutputTopic('pos-counts-changelog', stringSerde, countSerde)
        .readRecordsToList();
      assert.equal(
        await store.committedPosition(),
        String(changelog.length),
        'position = offset after the last acked changelog record',
      );
      await driver.close();

      driver = new TopologyTestDriver(build(), { applicationId: 'pos', storeType: 'persistent', stateDir });
      await driver.createInputTopic('in', stringSerde, stringSerde).pipeInput('a', '4');
      assert.equal(await (await driver.getKeyValueStore<string, number>('counts')).get('a'), 3);
    } finally {
      await driver?.close();
      driver = undefined;
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('serves stores added with the Processor API and explains a missing store or partition', async () => {
    const topology = new Topology()
      .addSource('s', 'in', stringSerde, stringSerde)
      .addProcessor(
        'p',
        (): Processor<string, string> => {
          let store: KeyValueStore<string, string>;
          return {
            init: (c: ProcessorContext) => void (store = c.getStateStore('last')),
            process: async (records) => store.putAll(records.map((r) => [r.key, r.value] as const)),
          };
        },
        's',
      )
      .addStateStore(
        Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore('last'), stringSerde, stringSerde),
        'p',
      );
    driver = new TopologyTestDriver(topology);
    await driver.createInputTopic('in', stringSerde, stringSerde).pipeInput('k', 'v1');
    assert.equal(await (await driver.getKeyValueStore<string, string>('last')).get('k'), 'v1');
    await assert.rejects(
      driver.getKeyValueStore('nope'),
      /the topology has no store "nope" \(stores: "last"\)/,
    );
    await assert.rejects(
      driver.getKeyValueStore('last', 3),
      /store "last" has no partition 3 \(sub-topology 0 has 1\)/,
    );
  });

  it('reports a failing processor from the pipe call and refuses use after close', async () => {
    const builder = new StreamsBuilder();
    builder.stream('in', S).peek(() => {
      throw new Error('bad record');
    });
    driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', stringSerde, stringSerde);
    await assert.rejects(
      input.pipeInput('k', 'v'),
      /processor "KSTREAM-PEEK-0000000001" of task 0_0 failed on a batch of 1 record\(s\) from in\[0\] at offset 0: bad record/,
    );
    await driver.close();
    await assert.rejects(input.pipeInput('k', 'v'), /the TopologyTestDriver is closed/);
    driver = undefined;
  });
});

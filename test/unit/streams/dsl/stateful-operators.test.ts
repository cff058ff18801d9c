import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  Consumed,
  countSerde,
  Grouped,
  Materialized,
  Named,
  Produced,
  StreamsBuilder,
} from '../../../../src/streams/topology/index.ts';
import { TopologyTestDriver } from '../../../../src/streams/testing/index.ts';
import { jsonSerde, stringSerde } from '../../../../src/streams/serde/index.ts';

const S = Consumed.with(stringSerde, stringSerde);
let driver: TopologyTestDriver | undefined;

afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

describe('KTable from a topic', () => {
  it('materialises the latest value per key, deletes on null, and emits updates through toStream', async () => {
    const builder = new StreamsBuilder();
    builder
      .table('items', S, Materialized.as<string, string>('items-store').withCachingDisabled())
      .toStream()
      .to('items-out', Produced.with(stringSerde, stringSerde));
    driver = new TopologyTestDriver(builder.build());
    const items = driver.createInputTopic('items', stringSerde, stringSerde);
    await items.pipeInput('i1', 'v1');
    await items.pipeInput('i2', 'v1');
    await items.pipeInput('i1', 'v2');
    await items.pipeInput('i2', null as unknown as string);
    const out = driver.createOutputTopic('items-out', stringSerde, stringSerde);
    assert.deepEqual(out.readKeyValuesToList(), [
      ['i1', 'v1'],
      ['i2', 'v1'],
      ['i1', 'v2'],
      ['i2', null],
    ]);
    const store = await driver.getKeyValueStore<string, string>('items-store');
    assert.equal(await store.get('i1'), 'v2');
    assert.equal(await store.get('i2'), undefined);
  });

  it('with caching on (the default) emits one update per key per batch, the latest', async () => {
    const builder = new StreamsBuilder();
    builder
      .table('items', S, Materialized.as('items-store'))
      .toStream()
      .to('items-out', Produced.with(stringSerde, stringSerde));
    driver = new TopologyTestDriver(builder.build());
    await driver.createInputTopic('items', stringSerde, stringSerde).pipeRecordList([
      { key: 'a', value: '1', timestamp: 10 },
      { key: 'b', value: '1', timestamp: 11 },
      { key: 'a', value: '2', timestamp: 12 },
    ]);
    const records = driver.createOutputTopic('items-out', stringSerde, stringSerde).readRecordsToList();
    assert.deepEqual(
      records.map((r) => [r.key, r.value, r.timestamp]),
      [
        ['b', '1', 11],
        ['a', '2', 12],
      ],
    );
  });

  it('needs serdes for its store', () => {
    const builder = new StreamsBuilder();
    assert.throws(
      () => builder.table('items'),
      /table\("items"\) needs a key serde for store "items-STATE-STORE-0000000000"/,
    );
  });
});

describe('KGroupedStream aggregations', () => {
  it('count emits the running count per key and stores it', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('clicks', S)
      .groupByKey()
      .count(Materialized.as<string, number>('click-counts').withCachingDisabled())
      .toStream()
      .to('counts', Produced.with(stringSerde, countSerde));
    driver = new TopologyTestDriver(builder.build());
    await driver.createInputTopic('clicks', stringSerde, stringSerde).pipeKeyValueList([
      ['item-1', 'c'],
      ['item-2', 'c'],
      ['item-1', 'c'],
    ]);
    assert.deepEqual(driver.createOutputTopic('counts', stringSerde, countSerde).readKeyValuesToList(), [
      ['item-1', 1],
      ['item-2', 1],
      ['item-1', 2],
    ]);
    const store = await driver.getKeyValueStore<string, number>('click-counts');
    assert.equal(await store.get('item-1'), 2);
  });

  it('count continues from the stored value across batches and coalesces within a batch by default', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('clicks', S)
      .groupByKey()
      .count(Materialized.as('click-counts'))
      .toStream()
      .to('counts', Produced.with(stringSerde, countSerde));
    driver = new TopologyTestDriver(builder.build());
    const clicks = driver.createInputTopic('clicks', stringSerde, stringSerde);
    const counts = driver.createOutputTopic('counts', stringSerde, countSerde);
    await clicks.pipeKeyValueList([
      ['x', '1'],
      ['x', '2'],
      ['y', '3'],
    ]);
    assert.deepEqual(counts.readKeyValuesToList(), [
      ['x', 2],
      ['y', 1],
    ]);
    await clicks.pipeKeyValueList([['x', '4']]);
    assert.deepEqual(counts.readKeyValuesToList(), [['x', 3]]);
  });

  it('aggregate folds values from the initializer', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', S)
      .groupByKey()
      .aggregate(
        () => ({ total: 0, values: [] as string[] }),
        (_k, v, agg) => ({ total: agg.total + v.length, values: [...agg.values, v] }),
        Materialized.as<string, { total: number; values: string[] }>('agg')
          .withValueSerde(jsonSerde())
          .withCachingDisabled(),
      )
      .toStream()
      .to('out', Produced.with(stringSerde, jsonSerde()));
    driver = new TopologyTestDriver(builder.build());
    await driver.createInputTopic('in', stringSerde, stringSerde).pipeKeyValueList([
      ['k', 'ab'],
      ['k', 'cde'],
    ]);
    assert.deepEqual(driver.createOutputTopic('out', stringSerde, jsonSerde()).readValuesToList(), [
      { total: 2, values: ['ab'] },
      { total: 5, values: ['ab', 'cde'] },
    ]);
  });

  it('reduce combines values, skipping null keys and values', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', S)
      .groupByKey()
      .reduce((a, b) => (a > b ? a : b), Materialized.as<string, string>('max').withCachingDisabled())
      .toStream()
      .to('out', Produced.with(stringSerde, stringSerde));
    driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', stringSerde, stringSerde);
    await input.pipeInput('k', 'b');
    await input.pipeInput('k', 'a');
    await input.pipeInput(null as unknown as string, 'z');
    await input.pipeInput('k', null as unknown as string);
    await input.pipeInput('k', 'c');
    assert.deepEqual(driver.createOutputTopic('out', stringSerde, stringSerde).readValuesToList(), [
      'b',
      'b',
      'c',
    ]);
  });

  it('aggregate without a value serde fails at build with a message saying how to fix it', () => {
    const builder = new StreamsBuilder();
    assert.throws(
      () =>
        builder
          .stream('in', S)
          .groupByKey()
          .aggregate(
            () => 0,
            (_k, _v, a) => a + 1,
          ),
      /aggregate needs a value serde for store "KSTREAM-AGGREGATE-STATE-STORE-0000000001"/,
    );
  });

  it('regroups through a repartition topic after a key change, so each new key is counted in one task', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('views', S)
      .selectKey((_user, item) => item)
      .groupByKey(Grouped.with(stringSerde, stringSerde).withName('by-item'))
      .count(Materialized.as<string, number>('views-per-item').withCachingDisabled())
      .toStream()
      .to('item-views', Produced.with(stringSerde, countSerde));
    const topology = builder.build();
    assert.deepEqual(
      topology.internalTopics('app').map((t) => t.name),
      ['app-by-item-repartition', 'app-views-per-item-changelog'],
    );
    assert.deepEqual(
      topology.internalTopics('app').map((t) => t.partitionsFrom),
      [['views'], ['views']],
      'both are sized from the user topic, so the runtime can create them before either exists',
    );
    driver = new TopologyTestDriver(topology, { applicationId: 'app' });
    const views = driver.createInputTopic('views', stringSerde, stringSerde, { partitions: 4 });
    // users u0..u19 land on different partitions; they all view the same two items
    for (let u = 0; u < 20; u++) await views.pipeInput(`u${u}`, u % 2 === 0 ? 'item-even' : 'item-odd');
    const latest = driver.createOutputTopic('item-views', stringSerde, countSerde).readKeyValuesToMap();
    assert.deepEqual(
      latest,
      new Map([
        ['item-even', 10],
        ['item-odd', 10],
      ]),
    );
    assert.ok(driver.producedTopicNames().includes('app-by-item-repartition'));
    assert.equal(
      driver.taskIds().filter((id) => id.startsWith('1_')).length,
      4,
      'the repartition topic has the partition count of its source',
    );
  });

  it('refuses to regroup after a key change without serdes for the repartition topic', () => {
    const builder = new StreamsBuilder();
    const grouped = builder
      .stream('views', S)
      .map((k, v) => [v, k] as const)
      .groupByKey();
    assert.throws(
      () => grouped.count(Materialized.with(stringSerde, countSerde)),
      /needs a key serde for the repartition topic "KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition"/,
    );
  });
});

describe('KStream.groupBy and toTable', () => {
  it('groupBy regroups by the selected key through a repartition topic', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('views', S)
      .groupBy((_user, item) => item, Grouped.with(stringSerde, stringSerde))
      .count(Materialized.as<string, number>('per-item').withCachingDisabled())
      .toStream()
      .to('out', Produced.with(stringSerde, countSerde));
    driver = new TopologyTestDriver(builder.build(), { applicationId: 'g' });
    const views = driver.createInputTopic('views', stringSerde, stringSerde, { partitions: 3 });
    for (let u = 0; u < 9; u++) await views.pipeInput(`user-${u}`, `item-${u % 3}`);
    assert.deepEqual(
      driver.createOutputTopic('out', stringSerde, countSerde).readKeyValuesToMap(),
      new Map([
        ['item-0', 3],
        ['item-1', 3],
        ['item-2', 3],
      ]),
    );
    assert.ok(driver.producedTopicNames().includes('g-per-item-repartition'));
  });

  it('toTable keeps the latest value per key and emits the updates', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', S)
      .toTable(Named.as('latest'), Materialized.as<string, string>('latest-store').withCachingDisabled())
      .toStream()
      .to('out', Produced.with(stringSerde, stringSerde));
    driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', stringSerde, stringSerde);
    await input.pipeInput('a', '1');
    await input.pipeInput('a', '2');
    await input.pipeInput('b', '3');
    assert.deepEqual(driver.createOutputTopic('out', stringSerde, stringSerde).readKeyValuesToList(), [
      ['a', '1'],
      ['a', '2'],
      ['b', '3'],
    ]);
    const store = await driver.getKeyValueStore<string, string>('latest-store');
    assert.equal(await store.get('a'), '2');
  });
});

describe('DSL naming', () => {
  it('generates Kafka Streams-style names and describes the topology like Kafka Streams', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('input', S)
      .filter((_k, v) => v.length > 0)
      .groupByKey()
      .count()
      .toStream()
      .to('output', Produced.with(stringSerde, countSerde));
    const text = builder.build().describe().toString();
    assert.equal(
      text,
      'Topologies:\n' +
        '   Sub-topology: 0\n' +
        '    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n' +
        '      --> KSTREAM-FILTER-0000000001\n' +
        '    Processor: KSTREAM-FILTER-0000000001 (stores: [])\n' +
        '      --> KSTREAM-AGGREGATE-0000000003\n' +
        '      <-- KSTREAM-SOURCE-0000000000\n' +
        '    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000002])\n' +
        '      --> KTABLE-TOSTREAM-0000000004\n' +
        '      <-- KSTREAM-FILTER-0000000001\n' +
        '    Processor: KTABLE-TOSTREAM-0000000004 (stores: [])\n' +
        '      --> KSTREAM-SINK-0000000005\n' +
        '      <-- KSTREAM-AGGREGATE-0000000003\n' +
        '    Sink: KSTREAM-SINK-0000000005 (topic: output)\n' +
        '      <-- KTABLE-TOSTREAM-0000000004\n' +
        '\n',
    );
  });

  it('uses explicit names everywhere they are given, so adding an operator does not rename the others', () => {
    const build = (extra: boolean) => {
      const builder = new StreamsBuilder();
      let s = builder.stream('input', S.withName('read-input'));
      if (extra) s = s.peek(() => {});
      s.filter((_k, v) => v.length > 0, Named.as('non-empty'))
        .groupByKey()
        .count(Materialized.as('counts'), Named.as('count'))
        .toStream(Named.as('count-updates'))
        .to('output', Produced.with(stringSerde, countSerde).withName('write-output'));
      return builder.build();
    };
    const names = (t: ReturnType<typeof build>) => t.nodeNames().filter((n) => !n.startsWith('KSTREAM-PEEK'));
    assert.deepEqual(names(build(false)), [
      'read-input',
      'non-empty',
      'count',
      'count-updates',
      'write-output',
    ]);
    assert.deepEqual(names(build(true)), names(build(false)));
    assert.deepEqual(build(true).storeNames(), ['counts']);
  });

  it('rejects an explicit name used twice', () => {
    const builder = new StreamsBuilder();
    const s = builder.stream('input', S);
    s.filter(() => true, Named.as('dup'));
    assert.throws(() => s.mapValues((v) => v, Named.as('dup')), /a node named "dup" already exists/);
  });
});

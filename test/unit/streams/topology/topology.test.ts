import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology } from '../../../../src/streams/topology/index.ts';
import { Stores } from '../../../../src/streams/state/index.ts';
import { stringSerde } from '../../../../src/streams/serde/index.ts';
import type { StreamsError } from '../../../../src/streams/errors.ts';

const noop = () => ({ process() {} });
const store = (name: string) =>
  Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(name), stringSerde, stringSerde);

describe('Topology builder', () => {
  it('rejects a duplicate node name with a TopologyError naming it', () => {
    const t = new Topology().addSource('orders', 'orders-topic');
    assert.throws(
      () => t.addProcessor('orders', noop, 'orders'),
      (e: StreamsError) =>
        e.code === 'CTR_TOPOLOGY' && e.message.includes('a node named "orders" already exists'),
    );
  });

  it('rejects unknown parents, sinks as parents, and nodes without parents', () => {
    const t = new Topology().addSource('s', 'a').addSink('k', 'b', undefined, undefined, 's');
    assert.throws(
      () => t.addProcessor('p', noop, 'missing'),
      /parent "missing" of "p" is not in the topology/,
    );
    assert.throws(() => t.addProcessor('p', noop, 'k'), /sink "k" cannot be the parent of "p"/);
    assert.throws(() => t.addProcessor('p', noop), /"p" must have at least one parent/);
  });

  it('rejects a topic read by two sources', () => {
    const t = new Topology().addSource('s1', ['a', 'b']);
    assert.throws(() => t.addSource('s2', 'b'), /topic "b" is already read by source "s1"/);
  });

  it('rejects connecting an unknown store, and a store name reused by another builder', () => {
    const t = new Topology().addSource('s', 'a').addProcessor('p', noop, 's').addStateStore(store('st'), 'p');
    assert.throws(() => t.connectProcessorAndStateStores('p', 'nope'), /no such store/);
    assert.throws(() => t.addStateStore(store('st'), 'p'), /store "st" is already added/);
  });

  it('rejects a topology without a source and a store connected to nothing', () => {
    assert.throws(() => new Topology().subtopologies(), /has no source/);
    const t = new Topology().addSource('s', 'a').addStateStore(store('lonely'));
    assert.throws(() => t.subtopologies(), /store "lonely" is connected to no processor/);
  });

  it('splits into sub-topologies by connected components, joining sources that share a store', () => {
    const t = new Topology()
      .addSource('s1', 'a')
      .addProcessor('p1', noop, 's1')
      .addSource('s2', 'b')
      .addProcessor('p2', noop, 's2')
      .addSource('s3', 'c')
      .addProcessor('p3', noop, 's3')
      .addStateStore(store('shared'), 'p1', 'p3');
    const subs = t.subtopologies();
    assert.equal(subs.length, 2);
    assert.deepEqual(subs[0]!.nodes, ['s1', 'p1', 's3', 'p3']);
    assert.deepEqual(subs[0]!.sourceTopics, ['a', 'c']);
    assert.deepEqual(subs[0]!.stores, ['shared']);
    assert.deepEqual(subs[1]!.nodes, ['s2', 'p2']);
    assert.equal(t.subtopologyForTopic('c', 'app'), 0);
    assert.equal(t.subtopologyForTopic('b', 'app'), 1);
    assert.equal(t.subtopologyForTopic('zzz', 'app'), undefined);
  });

  it('adds and connects the stores a supplier declares', () => {
    const t = new Topology()
      .addSource('s', 'a')
      .addProcessor('p', { get: noop, stores: () => [store('from-supplier')] }, 's');
    assert.deepEqual(t.subtopologies()[0]!.stores, ['from-supplier']);
  });

  it('matches pattern sources', () => {
    const t = new Topology().addSource('s', /^events-.*/g).addProcessor('p', noop, 's');
    assert.equal(t.subtopologyForTopic('events-1', 'app'), 0);
    assert.equal(
      t.subtopologyForTopic('events-2', 'app'),
      0,
      'a /g pattern must not keep lastIndex between topics',
    );
    assert.match(t.describe().toString(), /Source: s \(topics: \^events-\.\*\)/);
  });
});

describe('Topology.describe', () => {
  it('prints like Kafka Streams: sub-topologies, nodes by sub-tree size, stores, topics, arrows', () => {
    const t = new Topology()
      .addSource('source', 'input', stringSerde, stringSerde)
      .addProcessor('counter', noop, 'source')
      .addStateStore(store('counts'), 'counter')
      .addSink('sink', 'output', stringSerde, stringSerde, 'counter')
      .addSource('other-source', ['x', 'y'])
      .addSink('other-sink', 'z', undefined, undefined, 'other-source');
    const expected =
      'Topologies:\n' +
      '   Sub-topology: 0\n' +
      '    Source: source (topics: [input])\n' +
      '      --> counter\n' +
      '    Processor: counter (stores: [counts])\n' +
      '      --> sink\n' +
      '      <-- source\n' +
      '    Sink: sink (topic: output)\n' +
      '      <-- counter\n' +
      '\n' +
      '  Sub-topology: 1\n' +
      '    Source: other-source (topics: [x, y])\n' +
      '      --> other-sink\n' +
      '    Sink: other-sink (topic: z)\n' +
      '      <-- other-source\n' +
      '\n';
    assert.equal(t.describe().toString(), expected);
  });

  it('describes nodes with predecessors and successors as data', () => {
    const t = new Topology()
      .addSource('s', 'a')
      .addProcessor('p1', noop, 's')
      .addProcessor('p2', noop, 's')
      .addProcessor('m', noop, 'p1', 'p2');
    const sub = t.describe().subtopologies[0]!;
    const byName = new Map(sub.nodes.map((n) => [n.name, n]));
    assert.deepEqual(byName.get('s')!.successors, ['p1', 'p2']);
    assert.deepEqual(byName.get('m')!.predecessors, ['p1', 'p2']);
    assert.deepEqual(
      sub.nodes.map((n) => n.name),
      ['s', 'p1', 'p2', 'm'],
    );
    assert.equal(JSON.parse(JSON.stringify(t.describe())).subtopologies[0].nodes.length, 4);
  });
});

describe('Topology sinks with a topic extractor', () => {
  it('describes the extractor by name and routes each record to the topic it picks', () => {
    const byRegion = (key: unknown) => `events-${String(key).split(':')[0]}`;
    const t = new Topology().addSource('s', 'in').addSink('route', byRegion, undefined, undefined, 's');
    assert.match(t.describe().toString(), /Sink: route \(extractor class: byRegion\)/);
  });
});

describe('Topology.internalTopics', () => {
  it('lists a compacted changelog per logged store with the partition source of its sub-topology', () => {
    const t = new Topology()
      .addSource('s', ['a', 'b'])
      .addProcessor('p', noop, 's')
      .addStateStore(store('logged').withLoggingEnabled({ 'min.compaction.lag.ms': '0' }), 'p')
      .addStateStore(store('unlogged').withLoggingDisabled(), 'p');
    assert.deepEqual(t.internalTopics('app'), [
      {
        name: 'app-logged-changelog',
        kind: 'changelog',
        subtopology: 0,
        store: 'logged',
        partitionsFrom: ['a', 'b'],
        config: { 'min.compaction.lag.ms': '0', 'cleanup.policy': 'compact' },
      },
    ]);
  });

  it('prefixes internal (repartition) topics with the application id in tasks and specs', () => {
    const t = new Topology()
      .markInternalTopic('by-user-repartition')
      .addSource('s', 'clicks')
      .addSink('k', 'by-user-repartition', undefined, undefined, 's')
      .addSource('r', 'by-user-repartition')
      .addProcessor('p', noop, 'r');
    const spec = t.internalTopics('app').find((x) => x.kind === 'repartition')!;
    assert.equal(spec.name, 'app-by-user-repartition');
    assert.deepEqual(spec.partitionsFrom, ['clicks']);
    assert.equal(spec.subtopology, 1);
    assert.deepEqual(t.sourceTopics(1, 'app'), ['app-by-user-repartition']);
    const sink = t.subtopology(0, 'app').nodes.get('k')!;
    assert.equal(sink.kind === 'sink' && sink.topic, 'app-by-user-repartition');
  });
});

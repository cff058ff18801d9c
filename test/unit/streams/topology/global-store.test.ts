import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Topology } from '../../../../src/streams/topology/index.ts';
import { Stores, type KeyValueStore } from '../../../../src/streams/state/index.ts';
import { stringSerde } from '../../../../src/streams/serde/index.ts';
import { TopologyTestDriver } from '../../../../src/streams/testing/index.ts';
import type { Processor, ProcessorContext } from '../../../../src/streams/processor/index.ts';

const itemsStore = () =>
  Stores.keyValueStoreBuilder(
    Stores.inMemoryKeyValueStore('items'),
    stringSerde,
    stringSerde,
  ).withLoggingDisabled();

/** Writes every record of the global topic into the global store. */
function itemsUpdater(): Processor<string, string, never, never> {
  let store: KeyValueStore<string, string>;
  return {
    init: (c) => void (store = c.getStateStore('items')),
    process: async (records) => store.putAll(records.map((r) => [r.key, r.value] as const)),
  };
}

/** Enriches each request with the item's title from the global store. */
function enricher(): Processor<string, string, string, string> {
  let ctx: ProcessorContext<string, string>;
  let items: KeyValueStore<string, string>;
  return {
    init(c) {
      ctx = c;
      items = c.getStateStore('items');
    },
    async process(records) {
      const titles = await items.getMany(records.map((r) => r.value));
      ctx.forward(
        records.map((r, i) => ({ ...r, value: `${r.value}=${titles[i] ?? 'unknown'}@p${ctx.partition}` })),
      );
    },
  };
}

function enrichTopology(): Topology {
  return new Topology()
    .addGlobalStore(
      itemsStore(),
      'items-source',
      stringSerde,
      stringSerde,
      'items',
      'items-updater',
      itemsUpdater,
    )
    .addSource('requests', 'requests', stringSerde, stringSerde)
    .addProcessor('enrich', enricher, 'requests')
    .addSink('out', 'enriched', stringSerde, stringSerde, 'enrich');
}

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

describe('Topology.addGlobalStore', () => {
  it('keeps the global store out of task sub-topologies and describes it like Kafka Streams', () => {
    const t = enrichTopology();
    assert.equal(t.subtopologies().length, 1);
    assert.deepEqual(t.subtopologies()[0]!.stores, []);
    assert.deepEqual(t.globalStoreNames(), ['items']);
    assert.ok(t.isGlobalTopic('items'));
    assert.equal(
      t.subtopologyForTopic('items', 'app'),
      undefined,
      'the group never subscribes to a global topic',
    );
    assert.deepEqual(t.internalTopics('app'), [], 'the global topic is the changelog: nothing to create');
    assert.equal(
      t.describe().toString(),
      'Topologies:\n' +
        '   Sub-topology: 0\n' +
        '    Source: requests (topics: [requests])\n' +
        '      --> enrich\n' +
        '    Processor: enrich (stores: [])\n' +
        '      --> out\n' +
        '      <-- requests\n' +
        '    Sink: out (topic: enriched)\n' +
        '      <-- enrich\n' +
        '\n' +
        '  Sub-topology: 1 for global store (will not generate tasks)\n' +
        '    Source: items-source (topics: [items])\n' +
        '      --> items-updater\n' +
        '    Processor: items-updater (stores: [items])\n' +
        '      --> none\n' +
        '      <-- items-source\n',
    );
  });

  it('requires logging disabled, since the topic is the changelog', () => {
    const logged = Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore('g'), stringSerde, stringSerde);
    assert.throws(
      () => new Topology().addGlobalStore(logged, 's', stringSerde, stringSerde, 't', 'p', itemsUpdater),
      /global store "g" must have logging disabled: its topic "t" is its changelog/,
    );
  });

  it('lets processors of every partition read the global store filled from all partitions of its topic', async () => {
    driver = new TopologyTestDriver(enrichTopology());
    const items = driver.createInputTopic('items', stringSerde, stringSerde, { partitions: 3 });
    const requests = driver.createInputTopic('requests', stringSerde, stringSerde, { partitions: 2 });
    const out = driver.createOutputTopic('enriched', stringSerde, stringSerde);
    for (let i = 0; i < 6; i++) await items.pipeInput(`item-${i}`, `title ${i}`);
    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
    for (const [i, u] of users.entries()) await requests.pipeInput(u, `item-${i}`);
    const values = out.readValuesToList();
    assert.equal(values.length, 6);
    for (const [i, v] of values.entries()) assert.match(v, new RegExp(`^item-${i}=title ${i}@p[01]$`));
    assert.equal(
      new Set(values.map((v) => v.slice(-2))).size,
      2,
      'both request partitions read the global store',
    );
    // an update while running is seen at once
    await items.pipeInput('item-0', 'renamed');
    await requests.pipeInput('u1', 'item-0');
    assert.match(out.readValue(), /^item-0=renamed@p/);
    assert.equal(await (await driver.getKeyValueStore<string, string>('items')).get('item-5'), 'title 5');
  });
});

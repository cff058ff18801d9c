import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaProducer, readTopicToEnd } from '../../../../src/kafka/index.ts';
import { KafkaStreams } from '../../../../src/streams/runtime/index.ts';
import { stringSerde } from '../../../../src/streams/serde/index.ts';
import type { KeyValueStore } from '../../../../src/streams/state/index.ts';
import { Consumed, Materialized, Produced, StreamsBuilder } from '../../../../src/streams/topology/index.ts';
import { createTopics, eventually, testKafka, uniqueName, type TestKafka } from '../../../helpers/kafka.ts';
import { appConfig, tempStateDirs } from '../../../helpers/streams.ts';

describe('a GlobalKTable on a real broker', () => {
  let env: TestKafka;
  const dirs = tempStateDirs('ctr-global-');
  before(async () => {
    env = await testKafka();
  });
  after(() => dirs.cleanup());

  it('bootstraps every partition before tasks start, and updates while the app runs are seen without a restart', async () => {
    const items = uniqueName('gt-items');
    const requests = uniqueName('gt-requests');
    const out = uniqueName('gt-out');
    await createTopics(env.kafka, [
      { name: items, partitions: 3 },
      { name: requests, partitions: 2 },
      { name: out, partitions: 1 },
    ]);
    const producer = new KafkaProducer(env.kafka);
    await producer.connect();
    let app: KafkaStreams | undefined;
    try {
      // 300 items over the 3 partitions before the app starts
      await producer.send(
        Array.from({ length: 300 }, (_, i) => ({ topic: items, key: `i${i}`, value: `title-${i}` })),
      );

      const builder = new StreamsBuilder();
      const table = builder.globalTable(
        items,
        Consumed.with(stringSerde, stringSerde),
        Materialized.as('items-global'),
      );
      builder
        .stream(requests, Consumed.with(stringSerde, stringSerde))
        .leftJoin(
          table,
          (_ctx, itemId) => itemId,
          (itemId, title) => `${itemId}=${title}`,
        )
        .to(out, Produced.with(stringSerde, stringSerde));
      app = new KafkaStreams(
        builder.build(),
        appConfig(env, uniqueName('gt-app'), dirs.make(), { 'commit.interval.ms': 200 }),
      );
      await app.start();
      const store = app.globalStore<KeyValueStore<string, string>>('items-global');
      assert.ok(store, 'the instance holds the global store');
      // bootstrapped before start() resolved: all 300, from all three partitions
      assert.equal(await store.approximateNumEntries(), 300);
      assert.equal(await store.get('i299'), 'title-299');

      await producer.send([
        { topic: requests, key: 'ctx-a', value: 'i7' },
        { topic: requests, key: 'ctx-b', value: 'new-item' },
      ]);
      // the table changes while the app runs: a new item and an update
      await producer.send([
        { topic: items, key: 'new-item', value: 'fresh' },
        { topic: items, key: 'i7', value: 'renamed' },
      ]);
      await eventually(
        'the running app sees the new item',
        async () => (await store.get('new-item')) === 'fresh',
        20_000,
      );
      await producer.send([
        { topic: requests, key: 'ctx-c', value: 'new-item' },
        { topic: requests, key: 'ctx-d', value: 'i7' },
      ]);
      let joined: string[] = [];
      await eventually(
        'four joined records',
        async () => {
          joined = (await readTopicToEnd(env.kafka, out)).map((r) => `${r.key}:${r.value}`);
          return joined.length >= 4;
        },
        30_000,
        300,
      );
      const byKey = new Map(joined.map((j) => [j.split(':')[0], j.split(':')[1]]));
      assert.equal(byKey.get('ctx-c'), 'new-item=fresh', 'an item added while running is joined');
      assert.equal(
        byKey.get('ctx-d'),
        'i7=renamed',
        'an item updated while running is joined with its new value',
      );
      assert.ok(
        ['i7=title-7', 'i7=renamed'].includes(byKey.get('ctx-a')!),
        `ctx-a joined i7 (${byKey.get('ctx-a')})`,
      );
      assert.equal(app.state, 'RUNNING');
    } finally {
      await app?.close();
      await producer.disconnect();
    }
  });
});

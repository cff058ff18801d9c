import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TopologyTestDriver } from '../../../src/streams/testing/index.ts';
import { embeddingsTopology, EMBEDDING_STORES } from '../../../topologies/embeddings.ts';
import {
  pipelineSerdes,
  vectorOf,
  type ItemEmbeddingEvent,
  type ItemCreatedEvent,
  type EmbeddingRequestEvent,
} from '../../../topologies/events.ts';
import { InProcessModelRunner } from '../../../topologies/model-runner.ts';
import { topicNames } from '../../../topologies/topics.ts';
import { itemCreated, testBackend, testModel, testWorld } from './fixtures.ts';

const topics = topicNames();

function setup(runner: InProcessModelRunner) {
  const serdes = pipelineSerdes();
  const driver = new TopologyTestDriver(
    embeddingsTopology({
      topics,
      serdes,
      model: runner,
      inMemoryStores: true,
      backfillIntervalMs: 100,
      backfillChunk: 7,
    }),
    {
      applicationId: 'embeddings-test',
      initialWallClockTimeMs: 1_700_000_000_000,
    },
  );
  return {
    driver,
    items: driver.createInputTopic<string, ItemCreatedEvent>(
      topics.itemCreated,
      serdes.key,
      serdes.itemCreated,
    ),
    requests: driver.createInputTopic<string, EmbeddingRequestEvent>(
      topics.embeddingRequests,
      serdes.key,
      serdes.embeddingRequest,
    ),
    out: driver.createOutputTopic<string, ItemEmbeddingEvent>(
      topics.itemEmbeddings,
      serdes.key,
      serdes.itemEmbedding,
    ),
  };
}

describe('embeddings topology', () => {
  before(async () => {
    await testBackend();
  });
  const world = testWorld(20);
  let runner: InProcessModelRunner;
  after(async () => runner?.close());

  it('embeds new items in one batch, stores the vectors with their version and emits them', async () => {
    runner = new InProcessModelRunner(testModel(1), 'v1');
    const { driver, items, out } = setup(runner);
    try {
      await items.pipeRecordList(
        world.items.slice(0, 5).map((it) => ({ key: it.id, value: itemCreated(it), timestamp: 1000 })),
      );
      const emitted = out.readKeyValuesToList();
      assert.deepEqual(
        emitted.map(([k]) => k),
        world.items.slice(0, 5).map((it) => it.id),
      );
      for (const [, e] of emitted) {
        assert.equal(e.modelVersion, 'v1');
        assert.equal(e.dimension, 64);
        assert.equal(e.category, world.item(e.itemId)?.category);
        assert.ok(
          vectorOf(e).some((x) => x !== 0),
          'a real tower output, not zeros',
        );
      }
      // the same item embedded alone gives the same vector as in the batch (no cross-item leakage)
      const alone = await runner.embed([
        {
          title: world.items[2]!.title,
          description: world.items[2]!.description,
          image: world.items[2]!.image,
        },
      ]);
      const inBatch = vectorOf(emitted[2]![1]);
      for (let i = 0; i < 64; i++) assert.ok(Math.abs(alone.embeddings[i]! - inBatch[i]!) < 1e-4);
      const store = await driver.getKeyValueStore<string, ItemEmbeddingEvent>(EMBEDDING_STORES.embeddings);
      assert.equal((await store.get(world.items[0]!.id))?.modelVersion, 'v1');
    } finally {
      await driver.close();
    }
  });

  it('keeps a request for an unknown item until the item arrives, then answers it', async () => {
    runner = new InProcessModelRunner(testModel(1), 'v1');
    const { driver, items, requests, out } = setup(runner);
    try {
      const item = world.items[7]!;
      await requests.pipeInput(
        item.id,
        { itemId: item.id, requestedAt: 10, reason: 'CACHE_MISS', requestedBy: 'ctx-1' },
        10,
      );
      assert.equal(out.getQueueSize(), 0, 'nothing to embed yet');
      const pending = await driver.getKeyValueStore<string, EmbeddingRequestEvent>(EMBEDDING_STORES.pending);
      assert.equal((await pending.get(item.id))?.requestedBy, 'ctx-1');
      await items.pipeInput(item.id, itemCreated(item), 20);
      assert.deepEqual(
        out.readKeyValuesToList().map(([k, v]) => [k, v.modelVersion]),
        [[item.id, 'v1']],
      );
      assert.equal(await pending.get(item.id), undefined, 'the request is answered and forgotten');
      // a request for a known item with a current vector re-sends it without recomputing
      await requests.pipeInput(
        item.id,
        { itemId: item.id, requestedAt: 30, reason: 'CACHE_MISS', requestedBy: 'ctx-2' },
        30,
      );
      assert.deepEqual(
        out.readKeyValuesToList().map(([k, v]) => [k, v.modelVersion]),
        [[item.id, 'v1']],
      );
    } finally {
      await driver.close();
    }
  });

  it('re-embeds every known item when the model version changes (a backfill in chunks)', async () => {
    runner = new InProcessModelRunner(testModel(1), 'v1');
    const { driver, items, out } = setup(runner);
    try {
      await items.pipeRecordList(
        world.items.map((it) => ({ key: it.id, value: itemCreated(it), timestamp: 1000 })),
      );
      const first = new Map(out.readKeyValuesToList());
      assert.equal(first.size, 20);
      await driver.advanceWallClockTime(500); // the backfill sees v1 everywhere: nothing to do
      assert.equal(out.getQueueSize(), 0);
      runner.setModel(testModel(2), 'v2');
      await driver.advanceWallClockTime(100);
      const chunk1 = out.readKeyValuesToList();
      assert.equal(chunk1.length, 7, 'one chunk per tick');
      for (let i = 0; i < 5; i++) await driver.advanceWallClockTime(100);
      const all = [...chunk1, ...out.readKeyValuesToList()];
      assert.equal(all.length, 20, 'every item once');
      assert.deepEqual(new Set(all.map(([k]) => k)), new Set(world.items.map((it) => it.id)));
      for (const [k, v] of all) {
        assert.equal(v.modelVersion, 'v2');
        assert.notDeepEqual(vectorOf(v), vectorOf(first.get(k)!), 'new towers, new vector');
      }
      const store = await driver.getKeyValueStore<string, ItemEmbeddingEvent>(EMBEDDING_STORES.embeddings);
      for (const it of world.items) assert.equal((await store.get(it.id))?.modelVersion, 'v2');
    } finally {
      await driver.close();
    }
  });

  it('re-embeds nothing when the new version shares the towers of the old one (head-only training)', async () => {
    runner = new InProcessModelRunner(testModel(1), 'v1');
    const { driver, items, out } = setup(runner);
    try {
      await items.pipeRecordList(
        world.items.map((it) => ({ key: it.id, value: itemCreated(it), timestamp: 1000 })),
      );
      assert.equal(out.readKeyValuesToList().length, 20);
      // v2 trained the head only: its embedding version is v1's
      runner.setModel(testModel(1), 'v2', 'v1');
      for (let i = 0; i < 4; i++) await driver.advanceWallClockTime(100);
      assert.equal(out.getQueueSize(), 0, 'no backfill');
      // a new item is stamped with the embedding version, so every vector stays interchangeable
      const fresh = world.newItems(1, 2000)[0]!;
      await items.pipeInput(fresh.id, itemCreated(fresh), 2000);
      assert.deepEqual(
        out.readKeyValuesToList().map(([k, v]) => [k, v.modelVersion]),
        [[fresh.id, 'v1']],
      );
      // then a version with new towers (its own embedding version) re-embeds the catalogue
      runner.setModel(testModel(3), 'v3');
      for (let i = 0; i < 6; i++) await driver.advanceWallClockTime(100);
      const again = out.readKeyValuesToList();
      assert.equal(again.length, 21);
      assert.ok(again.every(([, v]) => v.modelVersion === 'v3'));
    } finally {
      await driver.close();
    }
  });
});

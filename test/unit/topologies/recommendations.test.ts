import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TopologyTestDriver } from '../../../src/streams/testing/index.ts';
import { jsonSerde } from '../../../src/streams/serde/index.ts';
import type { CandidateSet } from '../../../topologies/engagement.ts';
import { EmbeddingTable } from '../../../topologies/embedding-table.ts';
import {
  pipelineSerdes,
  vectorBytes,
  type EmbeddingRequestEvent,
  type RecommendationEvent,
} from '../../../topologies/events.ts';
import { topK } from '../../../topologies/list-builder.ts';
import { InProcessModelRunner } from '../../../topologies/model-runner.ts';
import { recommendationsTopology } from '../../../topologies/recommendations.ts';
import { topicNames } from '../../../topologies/topics.ts';
import { testModel } from './fixtures.ts';

const topics = topicNames();
const T0 = 1_700_000_000_000;

function candidateSet(contextId: string, items: string[], updatedAt = T0): CandidateSet {
  return {
    contextId,
    publisher: 'pub-1',
    placement: 'pub-1/pl-0',
    country: 'SI',
    candidates: items.map((itemId, i) => ({ itemId, lastSeen: updatedAt - i, impressions: 1, clicks: 0 })),
    updatedAt,
  };
}

function vector(seed: number): Float32Array {
  return Float32Array.from({ length: 64 }, (_, i) => Math.sin(seed * 7.1 + i) * 0.5);
}

function embed(table: EmbeddingTable, itemId: string, version: string, seed: number, computedAt = T0): void {
  table.apply(itemId, {
    itemId,
    modelVersion: version,
    dimension: 64,
    vector: vectorBytes(vector(seed)),
    computedAt,
    category: 'cat-1',
    createdAt: T0 - 3_600_000,
  });
}

function setup(runner: InProcessModelRunner, table: EmbeddingTable) {
  const serdes = pipelineSerdes();
  const driver = new TopologyTestDriver(
    recommendationsTopology({
      topics,
      serdes,
      model: runner,
      embeddings: table,
      cycleIntervalMs: 1000,
      k: 3,
      inMemoryStores: true,
      requestRetryMs: 5000,
    }),
    { applicationId: 'recs-test', initialWallClockTimeMs: T0 },
  );
  return {
    driver,
    candidates: driver.createInputTopic<string, CandidateSet>(
      topics.contextCandidates,
      serdes.key,
      jsonSerde<CandidateSet>(),
    ),
    recs: driver.createOutputTopic<string, RecommendationEvent>(
      topics.recommendations,
      serdes.key,
      serdes.recommendation,
    ),
    requests: driver.createOutputTopic<string, EmbeddingRequestEvent>(
      topics.embeddingRequests,
      serdes.key,
      serdes.embeddingRequest,
    ),
  };
}

describe('topK', () => {
  it('returns the indices of the k best scores, best first, earlier index first on ties', () => {
    assert.deepEqual(topK(Float32Array.from([0.1, 0.9, 0.5, 0.9, 0.2, 0.7]), 3), [1, 3, 5]);
    assert.deepEqual(topK(Float32Array.from([0.3, 0.1]), 5), [0, 1]);
    const many = Float32Array.from({ length: 500 }, (_, i) => Math.sin(i * 1.3));
    const want = [...many.keys()].sort((a, b) => (many[b] as number) - (many[a] as number)).slice(0, 10);
    assert.deepEqual(topK(many, 10), want);
  });
});

describe('recommendations topology', () => {
  const runner = new InProcessModelRunner(testModel(1), 'v1');
  after(() => runner.close());

  it('emits one ranked list per active context each cycle, with model version, cycle id and scores', async () => {
    const table = new EmbeddingTable();
    for (let i = 0; i < 6; i++) embed(table, `i${i}`, 'v1', i);
    const { driver, candidates, recs, requests } = setup(runner, table);
    try {
      await candidates.pipeInput('ctx-a', candidateSet('ctx-a', ['i0', 'i1', 'i2', 'i3', 'i4']), T0);
      await candidates.pipeInput('ctx-b', candidateSet('ctx-b', ['i3', 'i4', 'i5']), T0);
      assert.equal(recs.getQueueSize(), 0, 'lists come from the cycle, not per record');
      await driver.advanceWallClockTime(1000);
      const lists = new Map(recs.readKeyValuesToList());
      assert.deepEqual([...lists.keys()].sort(), ['ctx-a', 'ctx-b']);
      const a = lists.get('ctx-a')!;
      assert.equal(a.modelVersion, 'v1');
      assert.equal(a.cycleId, Math.floor((T0 + 1000) / 1000));
      assert.equal(a.generatedAt, T0 + 1000);
      assert.equal(a.items.length, 3);
      assert.deepEqual(
        a.items.map((x) => x.position),
        [0, 1, 2],
      );
      for (let i = 1; i < a.items.length; i++)
        assert.ok(a.items[i - 1]!.score >= a.items[i]!.score, 'best first');
      assert.ok(a.items.every((x) => !x.outOfVocabulary && x.score > 0 && x.score < 1));
      assert.equal(requests.getQueueSize(), 0, 'no misses, no requests');
      // the next cycle scores the same candidates again; only the items' age moved (by one second)
      await driver.advanceWallClockTime(1000);
      const again = new Map(recs.readKeyValuesToList()).get('ctx-a')!;
      assert.deepEqual(
        again.items.map((x) => x.itemId),
        a.items.map((x) => x.itemId),
      );
      again.items.forEach((x, i) => assert.ok(Math.abs(x.score - a.items[i]!.score) < 1e-4));
      assert.equal(again.cycleId, a.cycleId + 1);
    } finally {
      await driver.close();
    }
  });

  it('scores a missing item with the OOV vector and flag, requests it once, then uses its vector when it arrives', async () => {
    const table = new EmbeddingTable();
    embed(table, 'i0', 'v1', 0);
    const { driver, candidates, recs, requests } = setup(runner, table);
    try {
      await candidates.pipeInput('ctx-a', candidateSet('ctx-a', ['i0', 'new-item']), T0);
      await driver.advanceWallClockTime(1000);
      const first = recs.readValue();
      assert.equal(first.items.find((x) => x.itemId === 'new-item')?.outOfVocabulary, true);
      assert.equal(first.items.find((x) => x.itemId === 'i0')?.outOfVocabulary, false);
      assert.deepEqual(
        requests.readKeyValuesToList().map(([k, v]) => [k, v.reason, v.requestedBy]),
        [['new-item', 'CACHE_MISS', 'ctx-a']],
      );
      await driver.advanceWallClockTime(1000);
      assert.equal(recs.readValue().items.find((x) => x.itemId === 'new-item')?.outOfVocabulary, true);
      assert.equal(requests.getQueueSize(), 0, 'not requested again within requestRetryMs');
      embed(table, 'new-item', 'v1', 9);
      await driver.advanceWallClockTime(1000);
      const later = recs.readValue();
      const scored = later.items.find((x) => x.itemId === 'new-item')!;
      assert.equal(scored.outOfVocabulary, false);
      assert.notEqual(
        scored.score,
        first.items.find((x) => x.itemId === 'new-item')!.score,
        'its own vector, not the OOV one',
      );
    } finally {
      await driver.close();
    }
  });

  it('scores a re-embedded item (same embedding version, new vector) with its new vector at once', async () => {
    const table = new EmbeddingTable();
    embed(table, 'i0', 'v1', 0);
    embed(table, 'i1', 'v1', 1);
    const { driver, candidates, recs } = setup(runner, table);
    try {
      await candidates.pipeInput('ctx-a', candidateSet('ctx-a', ['i0', 'i1']), T0);
      await driver.advanceWallClockTime(1000);
      const before = recs.readValue().items.find((x) => x.itemId === 'i1')!.score;
      // its content changed: the same towers computed a new vector, within the same parts epoch
      embed(table, 'i1', 'v1', 7, T0 + 5);
      await driver.advanceWallClockTime(1000);
      const after = recs.readValue().items.find((x) => x.itemId === 'i1')!.score;
      assert.notEqual(after, before, 'the cached item parts of the old vector must not be used');
      // and equals what a builder that never saw the old vector computes
      const fresh = new EmbeddingTable();
      embed(fresh, 'i0', 'v1', 0);
      embed(fresh, 'i1', 'v1', 7, T0 + 5);
      const other = setup(runner, fresh);
      try {
        await other.candidates.pipeInput('ctx-a', candidateSet('ctx-a', ['i0', 'i1']), T0);
        await other.driver.advanceWallClockTime(2000);
        const expected = other.recs
          .readValuesToList()
          .at(-1)!
          .items.find((x) => x.itemId === 'i1')!.score;
        assert.ok(Math.abs(after - expected) < 1e-6, `${after} vs ${expected}`);
      } finally {
        await other.driver.close();
      }
    } finally {
      await driver.close();
    }
  });

  it('never feeds a vector of another model version to the head: such items count as misses', async () => {
    const table = new EmbeddingTable();
    embed(table, 'i0', 'v1', 0);
    embed(table, 'i1', 'v1', 1);
    const local = new InProcessModelRunner(testModel(1), 'v1');
    const { driver, candidates, recs, requests } = setup(local, table);
    try {
      await candidates.pipeInput('ctx-a', candidateSet('ctx-a', ['i0', 'i1']), T0);
      local.setModel(testModel(2), 'v2');
      embed(table, 'i1', 'v2', 1, T0 + 1);
      await driver.advanceWallClockTime(1000);
      const list = recs.readValue();
      assert.equal(list.modelVersion, 'v2');
      assert.deepEqual(Object.fromEntries(list.items.map((x) => [x.itemId, x.outOfVocabulary])), {
        i0: true,
        i1: false,
      });
      assert.deepEqual(
        requests.readKeyValuesToList().map(([k]) => k),
        ['i0'],
      );
    } finally {
      await driver.close();
      await local.close();
    }
  });

  it('scores with the stored vectors of the embedding version a head-only version shares', async () => {
    const table = new EmbeddingTable();
    embed(table, 'i0', 'v1', 0);
    embed(table, 'i1', 'v1', 1);
    const local = new InProcessModelRunner(testModel(1), 'v1');
    const { driver, candidates, recs, requests } = setup(local, table);
    try {
      await candidates.pipeInput('ctx-a', candidateSet('ctx-a', ['i0', 'i1']), T0);
      // v2: a new head on v1's towers; the vectors stamped v1 are its embeddings too
      local.setModel(testModel(2), 'v2', 'v1');
      await driver.advanceWallClockTime(1000);
      const list = recs.readValue();
      assert.equal(list.modelVersion, 'v2', 'the list names the version that scored it');
      assert.ok(list.items.every((x) => !x.outOfVocabulary));
      assert.equal(requests.getQueueSize(), 0, 'no misses, no embedding requests');
    } finally {
      await driver.close();
      await local.close();
    }
  });

  it('skips contexts whose candidates went quiet and emits nothing before a model is loaded', async () => {
    const table = new EmbeddingTable();
    embed(table, 'i0', 'v1', 0);
    const empty = new InProcessModelRunner();
    const { driver, candidates, recs } = setup(empty, table);
    try {
      await candidates.pipeInput('ctx-a', candidateSet('ctx-a', ['i0']), T0);
      await driver.advanceWallClockTime(3000);
      assert.equal(recs.getQueueSize(), 0, 'no model: no lists');
      empty.setModel(testModel(1), 'v1');
      // a context silent for more than a day of stream time is not active
      await candidates.pipeInput('ctx-old', candidateSet('ctx-old', ['i0'], T0 - 2 * 86_400_000), T0);
      await driver.advanceWallClockTime(1000);
      assert.deepEqual(
        recs.readKeyValuesToList().map(([k]) => k),
        ['ctx-a'],
      );
    } finally {
      await driver.close();
    }
  });
});

describe('ListBuilder item-part cache', () => {
  it('scores the same with cached item parts as when it computes them, and caches one entry per item', async () => {
    const { ListBuilder } = await import('../../../topologies/list-builder.ts');
    const table = new EmbeddingTable();
    for (let i = 0; i < 30; i++) embed(table, `i${i}`, 'v1', i);
    const runner = new InProcessModelRunner(testModel(3), 'v1');
    const builder = new ListBuilder(runner, table, { k: 30, chunkContexts: 2 });
    const ctxs = ['a', 'b', 'c'].map((c) => ({
      contextId: c,
      publisher: 'p',
      placement: 'p/0',
      country: 'SI',
      candidates: Array.from({ length: 20 }, (_, j) => ({ itemId: `i${(j * 7 + c.charCodeAt(0)) % 30}` })),
    }));
    const cold = (await builder.build(ctxs, T0))!;
    const coldStats = runner.itemPartStats()!;
    assert.ok(coldStats.entries > 0 && coldStats.entries <= 30, `one entry per item: ${coldStats.entries}`);
    const warm = (await builder.build(ctxs, T0))!;
    assert.equal(warm.lists.length, 3);
    const warmStats = runner.itemPartStats()!;
    assert.equal(warmStats.misses, coldStats.misses, 'the warm cycle computes no item part');
    assert.equal(warmStats.hits - coldStats.hits, 60, 'every candidate of the warm cycle read its parts');
    for (const [i, l] of warm.lists.entries()) {
      const c = cold.lists[i]!;
      assert.deepEqual(
        l.items.map((x) => x.itemId),
        c.items.map((x) => x.itemId),
      );
      l.items.forEach((x, j) => assert.ok(Math.abs(x.score - c.items[j]!.score) < 1e-5));
    }
    // a fresh builder (no cache) agrees too: the cache changes cost, not results
    const fresh = (await new ListBuilder(runner, table, { k: 30, chunkContexts: 64 }).build(ctxs, T0))!;
    fresh.lists.forEach((l, i) =>
      l.items.forEach((x, j) => assert.ok(Math.abs(x.score - warm.lists[i]!.items[j]!.score) < 1e-5)),
    );
    await runner.close();
  });

  it('with partsTtlMs 0 recomputes every item part each cycle, and refuses a negative one', async () => {
    const { ListBuilder } = await import('../../../topologies/list-builder.ts');
    const table = new EmbeddingTable();
    for (let i = 0; i < 10; i++) embed(table, `i${i}`, 'v1', i);
    const runner = new InProcessModelRunner(testModel(3), 'v1');
    assert.throws(() => new ListBuilder(runner, table, { k: 5, partsTtlMs: -1 }), RangeError);
    const builder = new ListBuilder(runner, table, { k: 5, partsTtlMs: 0 });
    const ctxs = [
      {
        contextId: 'a',
        publisher: 'p',
        placement: 'p/0',
        country: 'SI',
        candidates: Array.from({ length: 10 }, (_, j) => ({ itemId: `i${j}` })),
      },
    ];
    await builder.build(ctxs, T0);
    const first = runner.itemPartStats()!;
    await builder.build(ctxs, T0 + 1);
    const second = runner.itemPartStats()!;
    assert.equal(second.misses - first.misses, 10, 'the next cycle computes every part again');
    assert.equal(second.hits, first.hits);
    await runner.close();
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TopologyTestDriver } from '../../../src/streams/testing/index.ts';
import { jsonSerde } from '../../../src/streams/serde/index.ts';
import {
  engagementTopology,
  ENGAGEMENT_STORES,
  type CandidateSet,
  type Counts,
} from '../../../topologies/engagement.ts';
import {
  pipelineSerdes,
  type ClickEvent,
  type ImpressionEvent,
  type TrainingExampleEvent,
} from '../../../topologies/events.ts';
import { topicNames } from '../../../topologies/topics.ts';

const topics = topicNames();
const T0 = 1_700_000_000_000;

function impression(id: string, contextId: string, items: string[], timestamp: number): ImpressionEvent {
  return {
    impressionId: id,
    context: { contextId, publisher: 'pub-1', placement: 'pub-1/pl-0' },
    userSegment: 'seg-2',
    device: 'mobile',
    country: 'SI',
    pageDepth: 3,
    items: items.map((itemId, position) => ({ itemId, position })),
    timestamp,
  };
}

function setup(options: { maxCandidates?: number } = {}) {
  const serdes = pipelineSerdes();
  const driver = new TopologyTestDriver(
    engagementTopology({
      topics,
      serdes,
      inMemoryStores: true,
      joinWindowMs: 60_000,
      counterWindowMs: 3_600_000,
      ...options,
    }),
    { applicationId: 'engagement-test' },
  );
  return {
    driver,
    impressions: driver.createInputTopic<string, ImpressionEvent>(
      topics.impressions,
      serdes.key,
      serdes.impression,
    ),
    clicks: driver.createInputTopic<string, ClickEvent>(topics.clicks, serdes.key, serdes.click),
    examples: driver.createOutputTopic<string, TrainingExampleEvent>(
      topics.trainingExamples,
      serdes.key,
      serdes.trainingExample,
    ),
    candidates: driver.createOutputTopic<string, CandidateSet>(
      topics.contextCandidates,
      serdes.key,
      jsonSerde<CandidateSet>(),
    ),
  };
}

describe('engagement topology', () => {
  it('joins a click to its impression and labels every shown item when the window closes', async () => {
    const { driver, impressions, clicks, examples } = setup();
    try {
      await impressions.pipeInput('imp-1', impression('imp-1', 'ctx-a', ['i1', 'i2', 'i3'], T0), T0);
      await clicks.pipeInput(
        'imp-1',
        { impressionId: 'imp-1', itemId: 'i2', timestamp: T0 + 5_000 },
        T0 + 5_000,
      );
      assert.equal(examples.getQueueSize(), 0, 'the window is still open');
      // stream time passes the window: another impression far later closes it
      await impressions.pipeInput('imp-2', impression('imp-2', 'ctx-b', ['i9'], T0 + 120_000), T0 + 120_000);
      const out = examples.readKeyValuesToList();
      assert.deepEqual(
        out.map(([k, v]) => [k, v.label]),
        [
          ['imp-1/i1', 0],
          ['imp-1/i2', 1],
          ['imp-1/i3', 0],
        ],
      );
      const ex = out[1]![1];
      assert.equal(ex.features.position, 1);
      assert.equal(ex.features.segment, 'seg-2');
      assert.equal(ex.features.pageDepth, 3);
      assert.equal(ex.contextId, 'ctx-a');
    } finally {
      await driver.close();
    }
  });

  it('joins a click that arrives before its impression, and drops a click past the window', async () => {
    const { driver, impressions, clicks, examples } = setup();
    try {
      await clicks.pipeInput('imp-1', { impressionId: 'imp-1', itemId: 'i1', timestamp: T0 }, T0);
      await impressions.pipeInput(
        'imp-1',
        impression('imp-1', 'ctx-a', ['i1', 'i2'], T0 + 1_000),
        T0 + 1_000,
      );
      await impressions.pipeInput('imp-2', impression('imp-2', 'ctx-a', ['i3'], T0 + 2_000), T0 + 2_000);
      await clicks.pipeInput(
        'imp-2',
        { impressionId: 'imp-2', itemId: 'i3', timestamp: T0 + 70_000 },
        T0 + 70_000,
      ); // 68 s after: too late
      await impressions.pipeInput('imp-3', impression('imp-3', 'ctx-a', ['i4'], T0 + 200_000), T0 + 200_000);
      assert.deepEqual(
        examples.readKeyValuesToList().map(([k, v]) => [k, v.label]),
        [
          ['imp-1/i1', 1],
          ['imp-1/i2', 0],
          ['imp-2/i3', 0],
        ],
      );
    } finally {
      await driver.close();
    }
  });

  it('keeps the most recent candidates per context with their counts, and counts per context and item', async () => {
    const { driver, impressions, clicks, candidates } = setup({ maxCandidates: 3 });
    try {
      await impressions.pipeInput('imp-1', impression('imp-1', 'ctx-a', ['i1', 'i2'], T0), T0);
      await impressions.pipeInput('imp-2', impression('imp-2', 'ctx-a', ['i2', 'i3'], T0 + 1000), T0 + 1000);
      await clicks.pipeInput(
        'imp-2',
        { impressionId: 'imp-2', itemId: 'i3', timestamp: T0 + 1500 },
        T0 + 1500,
      );
      await impressions.pipeInput('imp-3', impression('imp-3', 'ctx-a', ['i4'], T0 + 2000), T0 + 2000);
      const sets = candidates.readKeyValuesToList();
      const last = sets[sets.length - 1]![1];
      assert.deepEqual(
        last.candidates.map((c) => c.itemId),
        ['i4', 'i2', 'i3'],
        'most recent first, capped at 3 (i1 dropped)',
      );
      assert.deepEqual(
        last.candidates.find((c) => c.itemId === 'i3'),
        { itemId: 'i3', lastSeen: T0 + 1000, impressions: 1, clicks: 1 },
      );
      assert.equal(last.candidates.find((c) => c.itemId === 'i2')?.impressions, 2);
      const window = Math.floor(T0 / 3_600_000) * 3_600_000;
      const ctxCounts = await driver.getKeyValueStore<string, Counts>(ENGAGEMENT_STORES.contextCounters);
      assert.deepEqual(await ctxCounts.get(`ctx-a@${String(window).padStart(15, '0')}`), {
        impressions: 3,
        clicks: 1,
      });
      // item counters live in the item-keyed sub-topology; find the partition-0 task's store (1 partition here)
      const itemCounts = await driver.getKeyValueStore<string, Counts>(ENGAGEMENT_STORES.itemCounters);
      assert.deepEqual(await itemCounts.get(`i2@${String(window).padStart(15, '0')}`), {
        impressions: 2,
        clicks: 0,
      });
      assert.deepEqual(await itemCounts.get(`i3@${String(window).padStart(15, '0')}`), {
        impressions: 1,
        clicks: 1,
      });
    } finally {
      await driver.close();
    }
  });
});

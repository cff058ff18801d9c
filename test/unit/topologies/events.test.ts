import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  pipelineSerdes,
  vectorBytes,
  vectorOf,
  type ItemEmbeddingEvent,
} from '../../../topologies/events.ts';
import { topicNames, topicSpecs } from '../../../topologies/topics.ts';

describe('pipeline events', () => {
  it('reads records written by another process without a schema registry server (ids derive from the schemas)', () => {
    const writer = pipelineSerdes();
    const reader = pipelineSerdes();
    const buf = writer.click.serialize('x-clicks', {
      impressionId: 'imp-1',
      itemId: 'item-2',
      timestamp: 1_700_000_000_000,
    });
    assert.equal(buf?.[0], 0, 'Confluent wire format: magic byte 0');
    assert.deepEqual(
      { ...reader.click.deserialize('x-clicks', buf) },
      { impressionId: 'imp-1', itemId: 'item-2', timestamp: 1_700_000_000_000 },
    );
  });

  it('round-trips an embedding vector through its bytes', () => {
    const v = Float32Array.from([0.5, -1.25, 3e-7, 42]);
    const e: ItemEmbeddingEvent = {
      itemId: 'i',
      modelVersion: 'v',
      dimension: 4,
      vector: vectorBytes(v),
      computedAt: 1,
      category: null,
      createdAt: null,
    };
    const s = pipelineSerdes();
    const back = s.itemEmbedding.deserialize('t', s.itemEmbedding.serialize('t', e)) as ItemEmbeddingEvent;
    assert.deepEqual(vectorOf(back), v);
    assert.equal(back.category, null);
  });

  it('co-partitions the topics that are joined by key, and compacts the tables', () => {
    const t = topicNames('p');
    const specs = new Map(topicSpecs(t, { items: 3, events: 5, contexts: 7 }).map((s) => [s.name, s]));
    for (const n of [t.itemCreated, t.embeddingRequests, t.itemEmbeddings, t.itemActivity])
      assert.equal(specs.get(n)?.partitions, 3);
    for (const n of [t.impressions, t.clicks]) assert.equal(specs.get(n)?.partitions, 5);
    for (const n of [t.contextActivity, t.contextCandidates, t.recommendations])
      assert.equal(specs.get(n)?.partitions, 7);
    for (const n of [t.itemEmbeddings, t.contextCandidates, t.recommendations, t.itemCreated])
      assert.equal(specs.get(n)?.compacted, true);
    assert.equal(t.impressions, 'p-impressions');
  });
});

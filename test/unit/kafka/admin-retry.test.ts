import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaAdmin, type Kafka } from '../../../src/kafka/index.ts';

// A kafkajs admin whose offset reads fail with the given errors first. This is
// a unit test of the retry rule only; the integration tests use a real broker.
function kafkaWithFailingOffsets(failures: Error[]) {
  const calls = { offsets: 0, metadata: 0 };
  const admin = {
    connect: async () => {},
    disconnect: async () => {},
    fetchTopicOffsets: async () => {
      calls.offsets++;
      const failure = failures.shift();
      if (failure) throw failure;
      return [{ partition: 0, offset: '7', low: '2', high: '7' }];
    },
    fetchTopicMetadata: async () => {
      calls.metadata++;
      return { topics: [] };
    },
  };
  return { kafka: { admin: () => admin } as unknown as Kafka, calls };
}

function kafkaError(message: string, retriable: boolean): Error {
  return Object.assign(new Error(message), { retriable });
}

describe('KafkaAdmin.topicOffsets', () => {
  it('retries retriable errors (a fresh topic whose leader is not known yet), refreshing metadata in between', async () => {
    const notLeader = () => kafkaError('This server is not the leader for that topic-partition', true);
    const { kafka, calls } = kafkaWithFailingOffsets([notLeader(), notLeader()]);
    const offsets = await new KafkaAdmin(kafka).topicOffsets('fresh-changelog');
    assert.deepEqual(offsets, [{ partition: 0, low: '2', high: '7' }]);
    assert.equal(calls.offsets, 3);
    assert.equal(calls.metadata, 2);
  });

  it('throws a non-retriable error at once', async () => {
    const { kafka, calls } = kafkaWithFailingOffsets([kafkaError('Topic authorization failed', false)]);
    await assert.rejects(new KafkaAdmin(kafka).topicOffsets('secret'), /Topic authorization failed/);
    assert.equal(calls.offsets, 1);
  });
});

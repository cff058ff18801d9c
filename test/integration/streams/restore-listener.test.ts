/**
 * What a StateRestoreListener is told when a restore's first attempt fails
 * before it could start reading (the changelog's offsets cannot be fetched):
 * the restore that succeeds on a retry still announces its start, once,
 * before its batches and its end. Real broker: the changelog does not exist
 * yet when the restore begins (UNKNOWN_TOPIC_OR_PARTITION, retriable), and is
 * created once the first retry is announced.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryKeyValueStore, type StateStoreContext } from '../../../src/streams/state/index.ts';
import { KafkaError } from '../../../src/kafka/index.ts';
import type { StateRestoreListener } from '../../../src/streams/runtime/index.ts';
import { restoreTaskStores } from '../../../src/streams/runtime/store-restorer.ts';
import {
  createTopics,
  deleteTopicsStartingWith,
  produceRecords,
  testKafka,
  uniqueName,
  type TestKafka,
} from '../../helpers/kafka.ts';

/** A real in-memory store, logged to `topic` (as ChangeLoggingKeyValueStore reports it after init). */
class LoggedInMemoryStore extends InMemoryKeyValueStore {
  override readonly changelogTopic: string | undefined;
  constructor(name: string, topic: string) {
    super(name);
    this.changelogTopic = topic;
  }
}

describe('store restore listener across retries', () => {
  let env: TestKafka;
  const prefix = uniqueName('rl');
  before(async () => {
    env = await testKafka();
  });
  after(async () => {
    await deleteTopicsStartingWith(env.kafka, [prefix]);
  });

  it('announces the start once, before batches and end, when the first attempt failed before reading', async () => {
    const changelog = `${prefix}-counts-changelog`;
    const store = new LoggedInMemoryStore('counts', changelog);
    // the in-memory store only needs to be open; the rest of the context is for logged/persistent layers
    await store.init({ taskId: '0_0', partition: 0 } as StateStoreContext);
    const events: string[] = [];
    let creating: Promise<void> | undefined;
    /** Attempts from this one on may read: they fetched the offsets after the changelog was filled. */
    let readableFrom: number | undefined;
    let lastAttempt = 0;
    const listener: StateRestoreListener = {
      onRestoreStart: (_topic, _partition, _store, from, to) => events.push(`start ${from}..${to}`),
      onBatchRestored: (_topic, _partition, _store, next) => events.push(`batch ${next}`),
      onRestoreEnd: (_topic, _partition, _store, total) => events.push(`end ${total}`),
      onRestoreRetry: (_topic, _partition, _store, _offset, attempt) => {
        events.push(`retry ${attempt}`);
        // the changelog appears (with three records) once the first attempt has failed
        creating ??= (async () => {
          await createTopics(env.kafka, [{ name: changelog, partitions: 1, compacted: true }]);
          await produceRecords(
            env.kafka,
            ['a', 'b', 'c'].map((key) => ({ topic: changelog, partition: 0, key, value: `v-${key}` })),
          );
          // the attempt in flight may have fetched the offsets before the records were written
          readableFrom = lastAttempt + 2;
        })();
      },
    };

    const results = await restoreTaskStores({
      kafka: env.kafka,
      taskId: '0_0',
      partition: 0,
      stores: [store],
      listener,
      batchMaxRecords: 100,
      taskTimeoutMs: 45_000,
      faults: {
        beforeRead: (read) => {
          lastAttempt = read.attempt;
          if (readableFrom !== undefined && read.attempt >= readableFrom) return;
          // a race of the test (offsets fetched before the records were written), not of the product
          throw new KafkaError('CTR_KAFKA_CONSUME', 'test: changelog not filled yet', { retriable: true });
        },
      },
    });

    assert.equal(results.length, 1);
    assert.ok(results[0]!.retries >= 1, `retries: ${results[0]!.retries}`);
    assert.equal(results[0]!.restored, 3);
    // told once, whichever attempt first got the changelog's offsets (their end may predate the records)
    const restoring = events.filter((e) => !e.startsWith('retry'));
    assert.equal(restoring.filter((e) => e.startsWith('start')).length, 1, events.join(', '));
    assert.match(restoring[0]!, /^start 0\.\.\d+$/, events.join(', '));
    assert.deepEqual(restoring.slice(1), ['batch 3', 'end 3'], events.join(', '));
    assert.equal((await store.get(Buffer.from('b')))?.toString(), 'v-b');
    await store.close();
  });
});

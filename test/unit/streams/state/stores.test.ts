import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Stores } from '../../../../src/streams/state/stores.ts';
import { CachingKeyValueStore } from '../../../../src/streams/state/caching-store.ts';
import { ChangeLoggingKeyValueStore } from '../../../../src/streams/state/change-logging-store.ts';
import { LevelDbKeyValueStore } from '../../../../src/streams/state/leveldb-store.ts';
import { InMemoryKeyValueStore } from '../../../../src/streams/state/in-memory-store.ts';
import { SharedCacheBudget } from '../../../../src/streams/state/shared-cache-budget.ts';
import type { BytesStore } from '../../../../src/streams/state/bytes-store.ts';
import { TopologyError } from '../../../../src/streams/errors.ts';
import { stringSerde } from '../../../../src/streams/serde/string-serde.ts';
import { RecordingCollector, makeContext, removeDir, tempDir } from './helpers.ts';

/** The layer classes from the top byte layer down. */
function layers(store: BytesStore): string[] {
  const out: string[] = [];
  let current: BytesStore | undefined = store;
  while (current !== undefined) {
    out.push(current.constructor.name);
    current = (current as { wrapped?: () => BytesStore }).wrapped?.();
  }
  return out;
}

describe('Stores', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await tempDir();
  });

  afterEach(async () => {
    await removeDir(dir);
  });

  it('should stack metered -> change-logging -> store by default (logging on, caching off)', () => {
    const builder = Stores.keyValueStoreBuilder(
      Stores.persistentKeyValueStore('emb'),
      stringSerde,
      stringSerde,
    );
    assert.equal(builder.name, 'emb');
    assert.equal(builder.loggingEnabled, true);
    assert.equal(builder.cachingEnabled, false);
    assert.deepEqual(layers(builder.build().wrapped()), [
      ChangeLoggingKeyValueStore.name,
      LevelDbKeyValueStore.name,
    ]);
  });

  it('should add or leave out caching and change-logging per the builder flags', () => {
    const builder = Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore('mem'), stringSerde, stringSerde)
      .withCachingEnabled()
      .withLoggingEnabled({ 'min.compaction.lag.ms': '0' });
    assert.deepEqual(layers(builder.build().wrapped()), [
      CachingKeyValueStore.name,
      ChangeLoggingKeyValueStore.name,
      InMemoryKeyValueStore.name,
    ]);
    assert.deepEqual(builder.logConfig, { 'min.compaction.lag.ms': '0' });
    builder.withLoggingDisabled();
    assert.equal(builder.loggingEnabled, false);
    assert.deepEqual(builder.logConfig, {});
    assert.deepEqual(layers(builder.build().wrapped()), [
      CachingKeyValueStore.name,
      InMemoryKeyValueStore.name,
    ]);
    builder.withCachingDisabled();
    assert.deepEqual(layers(builder.build().wrapped()), [InMemoryKeyValueStore.name]);
  });

  it('should build a fresh store per call (one per task)', () => {
    const builder = Stores.keyValueStoreBuilder(
      Stores.persistentKeyValueStore('emb'),
      stringSerde,
      stringSerde,
    );
    assert.notEqual(builder.build(), builder.build());
  });

  it('should report the changelog topic only when logging is on', async () => {
    const logged = Stores.keyValueStoreBuilder(
      Stores.inMemoryKeyValueStore('a'),
      stringSerde,
      stringSerde,
    ).build();
    const unlogged = Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore('b'), stringSerde, stringSerde)
      .withLoggingDisabled()
      .build();
    await logged.init(makeContext({ taskDir: dir, applicationId: 'ctr-app' }));
    await unlogged.init(makeContext({ taskDir: dir, applicationId: 'ctr-app' }));
    assert.equal(logged.changelogTopic, 'ctr-app-a-changelog');
    assert.equal(unlogged.changelogTopic, undefined);
    assert.equal(logged.persistent, false);
    await logged.close();
    await unlogged.close();
  });

  it('should expose the LevelDB write buffer size through every layer, so the runtime can commit early', async () => {
    const store = Stores.keyValueStoreBuilder(
      Stores.persistentKeyValueStore('buffered'),
      stringSerde,
      stringSerde,
    )
      .withCachingEnabled()
      .build();
    await store.init(makeContext({ taskDir: dir }));
    await store.put('key', 'value');
    assert.equal(store.uncommittedBytes(), 0, 'still in the cache');
    await store.flush();
    assert.equal(store.uncommittedBytes(), 8, '3 key bytes + 5 value bytes in the write buffer');
    await store.commit('1');
    assert.equal(store.uncommittedBytes(), 0);
    await store.close();
  });

  it('should reject store names that cannot be a directory or part of a topic name', () => {
    for (const name of ['', 'a/b', '..', 'has space', 'x'.repeat(201)]) {
      assert.throws(() => Stores.persistentKeyValueStore(name), TopologyError, name);
    }
    assert.throws(() => Stores.inMemoryKeyValueStore('a/b'), /store name "a\/b" is not valid/);
  });

  it('should restore a full cached, logged LevelDB stack on another instance from what its changelog received', async () => {
    const collector = new RecordingCollector();
    const builder = Stores.keyValueStoreBuilder(
      Stores.persistentKeyValueStore('counts'),
      stringSerde,
      stringSerde,
    ).withCachingEnabled();
    const first = builder.build();
    await first.init(
      makeContext({ taskDir: `${dir}/a`, collector, cacheBudget: new SharedCacheBudget(1 << 20) }),
    );
    for (let i = 0; i < 50; i++) await first.put(`k${i % 10}`, `v${i}`);
    await first.delete('k3');
    // commit protocol: flush -> (collector acks) -> commit(next offset)
    await first.flush();
    assert.equal(collector.sent.length, 10, 'coalesced: one record per key');
    await first.commit(String(collector.sent.length));
    await first.close();

    // another instance: empty state dir, restore from the changelog records
    const second = builder.build();
    await second.init(
      makeContext({
        taskDir: `${dir}/b`,
        collector: new RecordingCollector(),
        cacheBudget: new SharedCacheBudget(1 << 20),
      }),
    );
    assert.equal(await second.committedPosition(), undefined);
    await second.restoreBatch(collector.raw.slice(0, 4), '4');
    await second.restoreBatch(collector.raw.slice(4), '10');
    assert.equal(await second.committedPosition(), '10');
    const restored: Array<[string, string]> = [];
    for await (const [k, v] of second.all()) restored.push([k, v]);
    const expected = Array.from({ length: 10 }, (_, i) => [`k${i}`, `v${40 + i}`] as [string, string]).filter(
      ([k]) => k !== 'k3',
    );
    assert.deepEqual(restored, expected);
    await second.close();

    // and the first instance's own files agree with its position after a reopen
    const reopened = builder.build();
    await reopened.init(makeContext({ taskDir: `${dir}/a`, cacheBudget: new SharedCacheBudget(1 << 20) }));
    assert.equal(await reopened.committedPosition(), '10');
    const own: Array<[string, string]> = [];
    for await (const [k, v] of reopened.all()) own.push([k, v]);
    assert.deepEqual(own, expected);
    await reopened.close();
  });
});

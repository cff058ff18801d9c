/**
 * The undo journal behind poison-record isolation: writes made through a
 * journaled view while it records are undone by rollback (key-value,
 * window and session stores), kept by discard, and stores whose writes
 * cannot be undone are refused.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { journaledStore, StoreJournal } from '../../../../src/streams/processor/store-journal.ts';
import { jsonSerde, stringSerde } from '../../../../src/streams/serde/index.ts';
import {
  SessionStoreBuilder,
  Stores,
  WindowStoreBuilder,
  type KeyValueStore,
  type SessionStore,
  type StateStore,
  type WindowStore,
} from '../../../../src/streams/state/index.ts';
import { makeContext, removeDir, tempDir } from '../state/helpers.ts';
import { recordingStoreBuilder } from './recording-fakes.ts';

let dir: string;
const opened: StateStore[] = [];
beforeEach(async () => {
  dir = await tempDir('ctr-journal-');
});
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  await removeDir(dir);
});

async function open<S extends StateStore>(store: S): Promise<S> {
  await store.init(makeContext({ taskDir: dir }));
  opened.push(store);
  return store;
}

async function entries(store: KeyValueStore<string, number>): Promise<Array<readonly [string, number]>> {
  const out: Array<readonly [string, number]> = [];
  for await (const e of store.all()) out.push(e);
  return out;
}

describe('StoreJournal', () => {
  it('undoes put, putAll and delete on a cached key-value store, newest first', async () => {
    const store = await open(
      Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore('kv'), stringSerde, jsonSerde<number>())
        .withCachingEnabled()
        .build(),
    );
    await store.putAll([
      ['a', 1],
      ['b', 2],
    ]);
    const journal = new StoreJournal();
    const view = journaledStore(store, journal) as KeyValueStore<string, number>;
    assert.ok(view);
    journal.begin();
    await view.put('a', 10);
    await view.putAll([
      ['a', 11],
      ['c', 3],
      ['c', 4],
    ]);
    assert.equal(await view.delete('b'), 2);
    assert.deepEqual(
      await entries(view),
      [
        ['a', 11],
        ['c', 4],
      ],
      'the attempt reads its own writes',
    );
    await journal.rollback();
    assert.deepEqual(await entries(store), [
      ['a', 1],
      ['b', 2],
    ]);
    assert.equal(journal.recording, false);
  });

  it('keeps the writes on discard and does not journal outside an attempt', async () => {
    const store = await open(
      Stores.keyValueStoreBuilder(
        Stores.inMemoryKeyValueStore('kv2'),
        stringSerde,
        jsonSerde<number>(),
      ).build(),
    );
    const journal = new StoreJournal();
    const view = journaledStore(store, journal) as KeyValueStore<string, number>;
    journal.begin();
    await view.put('a', 1);
    journal.discard();
    await view.put('b', 2); // not recording: a later rollback must not touch it
    await journal.rollback();
    assert.deepEqual(await entries(store), [
      ['a', 1],
      ['b', 2],
    ]);
  });

  it('undoes window store puts', async () => {
    const store = await open(
      new WindowStoreBuilder('win', stringSerde, jsonSerde<number>(), {
        retentionMs: 60_000,
        windowSizeMs: 1000,
        persistent: false,
      }).build(),
    );
    await store.put('k', 5, 1000);
    const journal = new StoreJournal();
    const view = journaledStore(store, journal) as WindowStore<string, number>;
    journal.begin();
    await view.put('k', 6, 1000);
    await view.putAll([
      ['k', 7, 2000],
      ['j', 1, 1000],
    ]);
    await journal.rollback();
    assert.equal(await store.fetch('k', 1000), 5);
    assert.equal(await store.fetch('k', 2000), undefined);
    assert.equal(await store.fetch('j', 1000), undefined);
  });

  it('undoes session store puts and removes', async () => {
    const store = await open(
      new SessionStoreBuilder('sess', stringSerde, jsonSerde<number>(), {
        retentionMs: 60_000,
        persistent: false,
      }).build(),
    );
    const s1 = { key: 'u', window: { startMs: 1000, endMs: 2000 } };
    const s2 = { key: 'u', window: { startMs: 5000, endMs: 5000 } };
    await store.put(s1, 3);
    const journal = new StoreJournal();
    const view = journaledStore(store, journal) as SessionStore<string, number>;
    journal.begin();
    await view.remove(s1);
    await view.put(s2, 1);
    await journal.rollback();
    assert.equal(await store.fetchSession('u', 1000, 2000), 3);
    assert.equal(await store.fetchSession('u', 5000, 5000), undefined);
  });

  it('refuses stores whose writes it cannot undo', async () => {
    const journal = new StoreJournal();
    const duplicates = new WindowStoreBuilder('join-buffer', stringSerde, jsonSerde<number>(), {
      retentionMs: 60_000,
      windowSizeMs: 0,
      retainDuplicates: true,
      persistent: false,
    }).build();
    assert.equal(
      journaledStore(duplicates, journal),
      undefined,
      'a put adds an entry no write can single out',
    );
    const custom = recordingStoreBuilder('custom', [], []).build();
    assert.equal(journaledStore(custom, journal), undefined, 'an unknown store type');
  });
});

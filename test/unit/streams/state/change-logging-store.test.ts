import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChangeLoggingKeyValueStore,
  changelogTopicFor,
} from '../../../../src/streams/state/change-logging-store.ts';
import { StoreClosedError } from '../../../../src/streams/state/errors.ts';
import { INNER_STORES, RecordingCollector, b, entries, makeContext, removeDir, tempDir } from './helpers.ts';

for (const { kind, make } of INNER_STORES) {
  describe(`change-logging layer over the ${kind} store`, () => {
    let dir: string;
    let collector: RecordingCollector;
    let store: ChangeLoggingKeyValueStore;
    let now: number;

    beforeEach(async () => {
      dir = await tempDir();
      collector = new RecordingCollector();
      now = 1_700_000_000_000;
      store = new ChangeLoggingKeyValueStore(make('counts'));
      await store.init(
        makeContext({
          taskDir: dir,
          collector,
          applicationId: 'ctr',
          partition: 3,
          currentTimestamp: () => now,
        }),
      );
    });

    afterEach(async () => {
      await store.close();
      await removeDir(dir);
    });

    it('names the changelog topic <application.id>-<store>-changelog', () => {
      assert.equal(store.changelogTopic, 'ctr-counts-changelog');
      assert.equal(changelogTopicFor('app', 'x'), 'app-x-changelog');
    });

    it('should log every put to the task partition with the current timestamp, and write it below', async () => {
      await store.put(b('a'), b('1'));
      now += 5;
      await store.put(b('a'), b('2'));
      assert.deepEqual(collector.sent, [
        { topic: 'ctr-counts-changelog', partition: 3, key: 'a', value: '1', timestamp: 1_700_000_000_000 },
        { topic: 'ctr-counts-changelog', partition: 3, key: 'a', value: '2', timestamp: 1_700_000_000_005 },
      ]);
      assert.equal((await store.wrapped().get(b('a')))?.toString(), '2');
    });

    it('should log a delete as a tombstone and return the old value', async () => {
      await store.put(b('a'), b('1'));
      assert.equal((await store.delete(b('a')))?.toString(), '1');
      await store.put(b('b'), null);
      assert.deepEqual(
        collector.sent.map((r) => [r.key, r.value]),
        [
          ['a', '1'],
          ['a', null],
          ['b', null],
        ],
      );
      assert.equal(await store.wrapped().get(b('a')), undefined);
    });

    it('should log putAll entries in order', async () => {
      await store.putAll([
        [b('x'), b('1')],
        [b('y'), null],
        [b('x'), b('3')],
      ]);
      assert.deepEqual(
        collector.sent.map((r) => [r.key, r.value]),
        [
          ['x', '1'],
          ['y', null],
          ['x', '3'],
        ],
      );
    });

    it('should not log reads or restored records', async () => {
      await store.restoreBatch([{ key: b('r'), value: b('restored') }], '1');
      await store.get(b('r'));
      await store.getMany([b('r')]);
      await entries(store.all());
      assert.deepEqual(collector.sent, []);
      assert.equal((await store.get(b('r')))?.toString(), 'restored');
    });

    it('should refuse writes after close, naming the store, and log nothing', async () => {
      await store.close();
      await assert.rejects(
        store.put(b('a'), b('1')),
        (err: unknown) => err instanceof StoreClosedError && /"counts"/.test(err.message),
      );
      assert.deepEqual(collector.sent, []);
      store = new ChangeLoggingKeyValueStore(make('counts'));
      await store.init(makeContext({ taskDir: dir, collector }));
    });
  });
}

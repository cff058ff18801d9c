/**
 * The contract both innermost byte stores (in-memory, LevelDB) share:
 * writes, reads, scans in key byte order, counts, closed-store errors.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { StoreClosedError } from '../../../../src/streams/state/errors.ts';
import type { BytesStore } from '../../../../src/streams/state/bytes-store.ts';
import { INNER_STORES, b, entries, makeContext, removeDir, tempDir } from './helpers.ts';

for (const { kind, make } of INNER_STORES) {
  describe(`${kind} store`, () => {
    let dir: string;
    let store: BytesStore;

    beforeEach(async () => {
      dir = await tempDir();
      store = make('words');
      await store.init(makeContext({ taskDir: dir }));
    });

    afterEach(async () => {
      await store.close();
      await removeDir(dir);
    });

    it('returns what was put, undefined for absent keys, and deletes on null', async () => {
      await store.put(b('a'), b('1'));
      assert.equal((await store.get(b('a')))?.toString(), '1');
      assert.equal(await store.get(b('missing')), undefined);
      await store.put(b('a'), null);
      assert.equal(await store.get(b('a')), undefined);
    });

    it('delete returns the previous value', async () => {
      await store.put(b('k'), b('v'));
      assert.equal((await store.delete(b('k')))?.toString(), 'v');
      assert.equal(await store.delete(b('k')), undefined);
      assert.equal(await store.get(b('k')), undefined);
    });

    it('putAll applies entries in order, a later entry for a key winning', async () => {
      await store.putAll([
        [b('x'), b('1')],
        [b('y'), b('2')],
        [b('x'), b('3')],
        [b('y'), null],
      ]);
      assert.equal((await store.get(b('x')))?.toString(), '3');
      assert.equal(await store.get(b('y')), undefined);
    });

    it('getMany answers per key in request order', async () => {
      await store.putAll([
        [b('a'), b('1')],
        [b('c'), b('3')],
      ]);
      const values = await store.getMany([b('c'), b('b'), b('a'), b('c')]);
      assert.deepEqual(
        values.map((v) => v?.toString()),
        ['3', undefined, '1', '3'],
      );
    });

    it('returns range, prefixScan and all in unsigned key byte order', async () => {
      const keys = ['b', 'a', 'ab', 'abc', 'b\u00ff', 'ac', '\u0000', 'aa'];
      for (const key of keys) await store.put(Buffer.from(key, 'latin1'), b(key.length.toString()));
      const all = (await entries(store.all())).map(([k]) => k);
      const sorted = keys
        .map((k) => Buffer.from(k, 'latin1'))
        .sort(Buffer.compare)
        .map((k) => k.toString());
      assert.deepEqual(all, sorted);
      assert.deepEqual(
        (await entries(store.range(b('aa'), b('ac')))).map(([k]) => k),
        ['aa', 'ab', 'abc', 'ac'],
      );
      assert.deepEqual(
        (await entries(store.range(undefined, b('a')))).map(([k]) => k),
        ['\u0000', 'a'],
      );
      const fromB: string[] = [];
      for await (const [k] of store.range(b('b'), undefined)) fromB.push(k.toString('hex'));
      assert.deepEqual(fromB, ['62', '62ff']);
      assert.deepEqual(
        (await entries(store.prefixScan(b('ab')))).map(([k]) => k),
        ['ab', 'abc'],
      );
      assert.deepEqual(await entries(store.range(b('z'), b('a'))), []);
    });

    it('prefix-scans keys ending in 0xff bytes', async () => {
      const p = Buffer.from([0x01, 0xff]);
      await store.put(Buffer.from([0x01, 0xff, 0x00]), b('in'));
      await store.put(Buffer.from([0x01, 0xff]), b('in'));
      await store.put(Buffer.from([0x02]), b('out'));
      await store.put(Buffer.from([0x01, 0xfe]), b('out'));
      const found = [];
      for await (const [k, v] of store.prefixScan(p)) found.push([k.toString('hex'), v.toString()]);
      assert.deepEqual(found, [
        ['01ff', 'in'],
        ['01ff00', 'in'],
      ]);
    });

    it('counts entries', async () => {
      await store.putAll([
        [b('a'), b('1')],
        [b('b'), b('2')],
        [b('c'), b('3')],
      ]);
      await store.delete(b('b'));
      await store.put(b('a'), b('4'));
      assert.equal(await store.approximateNumEntries(), 2);
    });

    it('restoreBatch applies puts and tombstones', async () => {
      await store.put(b('gone'), b('x'));
      await store.commit('0');
      await store.restoreBatch(
        [
          { key: b('a'), value: b('1') },
          { key: b('gone'), value: null },
          { key: b('a'), value: b('2') },
        ],
        '3',
      );
      assert.deepEqual(await entries(store.all()), [['a', '2']]);
    });

    it('wipe empties the store and leaves it usable', async () => {
      await store.put(b('a'), b('1'));
      await store.commit('1');
      await store.wipe();
      assert.deepEqual(await entries(store.all()), []);
      assert.equal(await store.committedPosition(), undefined);
      await store.put(b('b'), b('2'));
      assert.equal((await store.get(b('b')))?.toString(), '2');
    });

    it('rejects use after close with a StoreClosedError naming the store', async () => {
      await store.close();
      await assert.rejects(store.get(b('a')), (err: unknown) => {
        assert.ok(err instanceof StoreClosedError);
        assert.equal(err.code, 'CTR_STORE_CLOSED');
        assert.equal(err.store, 'words');
        assert.match(err.message, /"words"/);
        return true;
      });
      await assert.rejects(store.put(b('a'), b('1')), StoreClosedError);
      await assert.rejects(entries(store.all()), StoreClosedError);
      // reopen for afterEach's close
      store = make('words');
      await store.init(makeContext({ taskDir: dir }));
    });
  });
}

import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { CachingKeyValueStore } from '../../../../src/streams/state/caching-store.ts';
import { ChangeLoggingKeyValueStore } from '../../../../src/streams/state/change-logging-store.ts';
import {
  SharedCacheBudget,
  CACHE_ENTRY_OVERHEAD_BYTES,
} from '../../../../src/streams/state/shared-cache-budget.ts';
import type { BytesStore } from '../../../../src/streams/state/bytes-store.ts';
import { InMemoryKeyValueStore } from '../../../../src/streams/state/in-memory-store.ts';
import { INNER_STORES, RecordingCollector, b, entries, makeContext, removeDir, tempDir } from './helpers.ts';

/** A byte store wrapper counting the calls the cache makes below it. */
function countingCalls(inner: BytesStore): {
  store: BytesStore;
  calls: { get: number; putAll: number; put: number };
} {
  const calls = { get: 0, putAll: 0, put: 0 };
  const store = new Proxy(inner, {
    get(target, property) {
      const member = Reflect.get(target, property, target) as unknown;
      if (typeof member !== 'function') return member;
      if (property === 'get' || property === 'putAll' || property === 'put') calls[property]++;
      return (member as (...args: unknown[]) => unknown).bind(target);
    },
  });
  return { store, calls };
}

for (const { kind, make } of INNER_STORES) {
  describe(`caching layer over change-logging over the ${kind} store`, () => {
    let dir: string;
    let cleanups: Array<() => Promise<void>>;

    beforeEach(async () => {
      dir = await tempDir();
      cleanups = [];
    });

    afterEach(async () => {
      for (const c of cleanups) await c();
      await removeDir(dir);
    });

    async function stack(name: string, budget: SharedCacheBudget, taskId = '0_0') {
      const collector = new RecordingCollector();
      const inner = make(name);
      const counted = countingCalls(inner);
      const cache = new CachingKeyValueStore(new ChangeLoggingKeyValueStore(counted.store));
      await cache.init(makeContext({ taskDir: `${dir}/${taskId}`, taskId, collector, cacheBudget: budget }));
      cleanups.push(() => cache.close());
      return { cache, collector, inner, calls: counted.calls };
    }

    it('should coalesce N writes to a key into one changelog record with the last value at flush', async () => {
      const { cache, collector, inner, calls } = await stack('clicks', new SharedCacheBudget(1 << 20));
      for (let i = 1; i <= 100; i++) await cache.put(b('item-1'), b(String(i)));
      await cache.put(b('item-2'), b('x'));
      await cache.delete(b('item-2'));
      assert.equal(collector.sent.length, 0, 'nothing reaches the changelog before flush');
      assert.equal(await inner.get(b('item-1')), undefined, 'nor the store below');
      await cache.flush();
      assert.deepEqual(
        collector.sent.map((r) => [r.key, r.value]),
        [
          ['item-1', '100'],
          ['item-2', null],
        ],
      );
      assert.equal(calls.putAll, 1, 'one putAll per flush');
      assert.equal((await inner.get(b('item-1')))?.toString(), '100');
      await cache.flush();
      assert.equal(collector.sent.length, 2, 'a second flush has nothing dirty');
    });

    it('should serve reads from the cache and count hits and misses', async () => {
      const { cache, inner, calls } = await stack('items', new SharedCacheBudget(1 << 20));
      await inner.put(b('below'), b('v'));
      assert.equal((await cache.get(b('below')))?.toString(), 'v');
      assert.equal((await cache.get(b('below')))?.toString(), 'v');
      await cache.put(b('written'), b('w'));
      assert.equal((await cache.get(b('written')))?.toString(), 'w');
      assert.equal(await cache.get(b('absent')), undefined);
      assert.equal(calls.get, 2, 'one read below for the miss on "below", one for "absent"');
      assert.deepEqual(cache.stats(), { hits: 2, misses: 2, entries: 2, dirty: 1 });
      const many = await cache.getMany([b('written'), b('below'), b('absent')]);
      assert.deepEqual(
        many.map((v) => v?.toString()),
        ['w', 'v', undefined],
      );
      assert.equal(cache.stats().hits, 4);
    });

    it('should merge cached writes and deletes over the store below in key order', async () => {
      const { cache, inner } = await stack('merge', new SharedCacheBudget(1 << 20));
      await inner.putAll([
        [b('a'), b('below-a')],
        [b('c'), b('below-c')],
        [b('e'), b('below-e')],
        [b('g'), b('below-g')],
      ]);
      await cache.put(b('b'), b('cache-b'));
      await cache.put(b('c'), b('cache-c'));
      await cache.delete(b('e'));
      await cache.put(b('h'), b('cache-h'));
      const expected = [
        ['a', 'below-a'],
        ['b', 'cache-b'],
        ['c', 'cache-c'],
        ['g', 'below-g'],
        ['h', 'cache-h'],
      ];
      assert.deepEqual(await entries(cache.all()), expected);
      assert.deepEqual(await entries(cache.range(b('b'), b('g'))), expected.slice(1, 4));
      assert.deepEqual(await entries(cache.prefixScan(b('c'))), [['c', 'cache-c']]);
      assert.equal(await cache.get(b('e')), undefined);
      await cache.flush();
      assert.deepEqual(await entries(inner.all()), expected);
    });

    it('should bound the memory of all caches sharing a budget and evict least recently used entries across stores', async () => {
      const value = Buffer.alloc(100, 1);
      const entrySize = 2 + 100 + CACHE_ENTRY_OVERHEAD_BYTES;
      const budget = new SharedCacheBudget(entrySize * 10);
      const one = await stack('one', budget, '0_0');
      const two = await stack('two', budget, '0_1');
      for (let i = 0; i < 8; i++) await one.cache.put(b(`k${i}`), value);
      // touch k0 so it is recent; then a second store needs room
      await one.cache.get(b('k0'));
      for (let i = 0; i < 6; i++) {
        await two.cache.put(b(`k${i}`), value);
        assert.ok(budget.usedBytes <= budget.maxBytes, `used ${budget.usedBytes} > ${budget.maxBytes}`);
      }
      assert.equal(budget.stats().entries, 10);
      assert.equal(two.cache.stats().entries, 6, 'the busy store took memory from the idle one');
      assert.equal(one.cache.stats().entries, 4);
      // the least recently used of store one went: k1..k4; k0 was touched and stays cached
      assert.deepEqual(
        one.collector.sent.map((r) => r.key),
        ['k1', 'k2', 'k3', 'k4'],
        'evicted dirty entries were written down and logged at once',
      );
      assert.equal((await one.inner.get(b('k1')))?.length, 100);
      assert.equal(await one.inner.get(b('k0')), undefined, 'k0 still only in the cache');
      assert.equal(budget.stats().dirtyEvictions, 4);
      // reads of evicted keys still see them (from the store below)
      assert.equal((await one.cache.get(b('k2')))?.length, 100);
    });

    it('should write through when the budget is 0', async () => {
      const { cache, collector, inner } = await stack('thru', new SharedCacheBudget(0));
      await cache.put(b('a'), b('1'));
      await cache.put(b('a'), b('2'));
      assert.deepEqual(
        collector.sent.map((r) => r.value),
        ['1', '2'],
      );
      assert.equal((await inner.get(b('a')))?.toString(), '2');
      assert.equal(cache.stats().entries, 0);
    });

    it('should not skip or repeat keys in a scan while other stores evict its dirty entries', async () => {
      const value = Buffer.alloc(50, 2);
      const budget = new SharedCacheBudget(400 * (50 + 5 + CACHE_ENTRY_OVERHEAD_BYTES));
      const scanned = await stack('scanned', budget, '0_0');
      const other = await stack('other', budget, '0_1');
      for (let i = 0; i < 300; i++) await scanned.cache.put(b(`k${String(i).padStart(3, '0')}`), value);
      const seen: string[] = [];
      let n = 0;
      for await (const [key] of scanned.cache.all()) {
        seen.push(key.toString());
        // another task's writes push this store's dirty entries down mid-scan
        for (let j = 0; j < 5; j++) await other.cache.put(b(`o${n++}`), value);
      }
      assert.ok(scanned.collector.sent.length > 100, 'entries were evicted during the scan');
      assert.equal(seen.length, 300);
      assert.equal(new Set(seen).size, 300);
      assert.deepEqual(seen, [...seen].sort());
    });

    it('should drop the cache without writing on close and on wipe', async () => {
      const budget = new SharedCacheBudget(1 << 20);
      const { cache, collector, inner } = await stack('dropped', budget);
      await cache.put(b('a'), b('1'));
      await cache.wipe();
      assert.equal(budget.usedBytes, 0);
      assert.deepEqual(collector.sent, []);
      assert.equal(await cache.get(b('a')), undefined);
      await cache.put(b('b'), b('2'));
      await cache.close();
      assert.equal(budget.usedBytes, 0, 'a closed cache releases its budget');
      assert.deepEqual(collector.sent, []);
      assert.equal(await inner.get(b('b')).catch(() => undefined), undefined);
    });

    it('should let restored records replace cached values', async () => {
      const { cache } = await stack('restored', new SharedCacheBudget(1 << 20));
      await cache.restoreBatch([{ key: b('a'), value: b('1') }], '1');
      assert.equal((await cache.get(b('a')))?.toString(), '1');
      await cache.restoreBatch([{ key: b('a'), value: b('2') }], '2');
      assert.equal((await cache.get(b('a')))?.toString(), '2');
    });
  });
}

describe('caching layer under concurrent reads and writes', () => {
  it('should not cache a value read before a write to the same key went down', async () => {
    const dir = await tempDir();
    const inner = new InMemoryKeyValueStore('racy');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let slowReads = 0;
    const slow = new Proxy(inner, {
      get(target, property) {
        const member = Reflect.get(target, property, target) as unknown;
        if (property === 'get') {
          return async (key: Buffer) => {
            const value = await target.get(key);
            if (slowReads++ === 0) await gate; // the first read returns late, with what it read before
            return value;
          };
        }
        return typeof member === 'function' ? (member as (...a: unknown[]) => unknown).bind(target) : member;
      },
    });
    const cache = new CachingKeyValueStore(new ChangeLoggingKeyValueStore(slow));
    await cache.init(makeContext({ taskDir: dir, cacheBudget: new SharedCacheBudget(1 << 20) }));
    await inner.put(b('k'), b('old'));
    const read = cache.get(b('k'));
    await cache.put(b('k'), null);
    await cache.flush();
    release();
    assert.equal((await read)?.toString(), 'old', 'the slow read answers what it read');
    assert.equal(await cache.get(b('k')), undefined, 'but did not cache it over the delete');
    await cache.close();
    await removeDir(dir);
  });
});

describe('SharedCacheBudget', () => {
  it('rejects a negative bound', () => {
    assert.throws(() => new SharedCacheBudget(-1), /statestore.cache.max.bytes/);
  });
});

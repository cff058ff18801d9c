import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SortedBytesMap } from '../../../../src/streams/state/sorted-bytes-map.ts';
import { prefixBounds, prefixUpperBound } from '../../../../src/streams/state/key-bounds.ts';

const hex = (buf: Buffer): string => buf.toString('hex');

/** Deterministic pseudo-random numbers (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomKey(next: () => number): Buffer {
  const len = 1 + Math.floor(next() * 4);
  return Buffer.from(Array.from({ length: len }, () => Math.floor(next() * 256)));
}

describe('SortedBytesMap', () => {
  it('orders keys as unsigned bytes, shorter prefix first', () => {
    const map = new SortedBytesMap<number>();
    const keys = [[0xff], [0x00], [0x01, 0x00], [0x01], [0x80], [0x7f, 0xff], []].map((k) => Buffer.from(k));
    keys.forEach((k, i) => map.set(k, i));
    assert.deepEqual(
      [...map.entries()].map(([k]) => hex(k)),
      ['', '00', '01', '0100', '7fff', '80', 'ff'],
    );
    assert.equal(map.size, 7);
  });

  it('matches a reference map over 20,000 random inserts, overwrites and deletes (chunks split and empty)', () => {
    const next = rng(42);
    const map = new SortedBytesMap<number>();
    const reference = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const key = randomKey(next);
      if (next() < 0.3) {
        assert.equal(map.delete(key), reference.delete(hex(key)));
      } else {
        const previous = map.set(key, i);
        assert.equal(previous, reference.get(hex(key)));
        reference.set(hex(key), i);
      }
    }
    const expected = [...reference.entries()].sort(([a], [b]) =>
      Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')),
    );
    assert.deepEqual(
      [...map.entries()].map(([k, v]) => [hex(k), v]),
      expected,
    );
    assert.equal(map.size, reference.size);
    for (const [k, v] of expected.slice(0, 200)) assert.equal(map.get(Buffer.from(k, 'hex')), v);
  });

  it('collects within gt/gte/lt/lte bounds and up to a limit', () => {
    const map = new SortedBytesMap<string>();
    for (const k of ['a', 'b', 'c', 'd', 'e']) map.set(Buffer.from(k), k);
    const keys = (bounds: Parameters<typeof map.collect>[0], limit = 100) =>
      map
        .collect(bounds, limit)
        .map(([, v]) => v)
        .join('');
    assert.equal(keys({ gte: Buffer.from('b'), lte: Buffer.from('d') }), 'bcd');
    assert.equal(keys({ gt: Buffer.from('b'), lt: Buffer.from('d') }), 'c');
    assert.equal(keys({ gt: Buffer.from('bb') }), 'cde');
    assert.equal(keys({ lt: Buffer.from('a') }), '');
    assert.equal(keys({ gte: Buffer.from('d'), lte: Buffer.from('b') }), '');
    assert.equal(keys({}, 2), 'ab');
  });

  it('scans without skipping or repeating keys when keys are inserted and deleted during the scan', () => {
    const pad = (n: number) => Buffer.from(n.toString().padStart(5, '0'));
    const map = new SortedBytesMap<number>();
    for (let i = 0; i < 2000; i += 2) map.set(pad(i), i);
    const seen: number[] = [];
    const keys: string[] = [];
    for (const [key, value] of map.scan({}, 16)) {
      seen.push(value);
      keys.push(key.toString());
      if (value >= 10_000) continue;
      // behind the cursor: never seen; far ahead (beyond the fetched batch): seen
      if (value > 0) map.set(pad(value - 1), 20_000 + value);
      map.set(Buffer.concat([pad(value + 101), Buffer.from('x')]), 10_000 + value);
      // deleting far ahead removes the key before the scan gets there
      map.delete(pad(value + 200));
    }
    assert.equal(new Set(keys).size, keys.length, 'no key twice');
    for (let i = 1; i < keys.length; i++) assert.ok(keys[i]! > keys[i - 1]!, 'ascending');
    assert.ok(seen.includes(10_000) && seen.includes(10_900), 'keys inserted ahead are seen');
    assert.ok(!seen.some((v) => v >= 20_000), 'keys inserted behind are not');
    // 0..198 are seen and delete 200..398; so 400..598 survive and delete 600..798
    assert.ok(
      !seen.includes(200) && !seen.includes(398) && !seen.includes(600),
      'keys deleted ahead are not',
    );
    assert.ok(seen.includes(0) && seen.includes(198) && seen.includes(400), 'keys not deleted are seen');
  });
});

describe('key bounds', () => {
  it('computes the prefix upper bound, carrying over trailing 0xff bytes', () => {
    assert.equal(hex(prefixUpperBound(Buffer.from([0x61, 0x62]))!), '6163');
    assert.equal(hex(prefixUpperBound(Buffer.from([0x61, 0xff, 0xff]))!), '62');
    assert.equal(prefixUpperBound(Buffer.from([0xff, 0xff])), undefined);
    assert.equal(prefixUpperBound(Buffer.alloc(0)), undefined);
    assert.deepEqual(prefixBounds(Buffer.from([0xff])), { gte: Buffer.from([0xff]) });
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPartition, murmur2 } from '../../../../src/streams/processor/partitioner.ts';

describe('murmur2', () => {
  // the vectors of Kafka's UtilsTest.testMurmur2
  const vectors: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [input, expected] of vectors) {
    it(`hashes "${input}" to ${expected} as Kafka's Utils.murmur2 does`, () => {
      assert.equal(murmur2(Buffer.from(input, 'utf8')), expected);
    });
  }

  it('hashes the empty array (no body, no tail bytes) to a stable value', () => {
    assert.equal(murmur2(new Uint8Array(0)), 275646681);
  });
});

describe('defaultPartition', () => {
  it('takes the positive hash modulo the partition count', () => {
    const key = Buffer.from('foobar');
    assert.equal(defaultPartition(key, 7), (-790332482 & 0x7fffffff) % 7);
  });

  it('always returns 0 for one partition and stays in range for many', () => {
    for (let i = 0; i < 200; i++) {
      const key = Buffer.from(`key-${i}`);
      assert.equal(defaultPartition(key, 1), 0);
      const p = defaultPartition(key, 12);
      assert.ok(p >= 0 && p < 12);
    }
  });

  it('rejects a partition count below 1', () => {
    assert.throws(() => defaultPartition(Buffer.from('k'), 0), RangeError);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assignPartitionGroups } from '../../../src/kafka/partition-group-assigner.ts';

function check(result: Map<string, number[]>, partitions: number): void {
  const all = [...result.values()].flat().sort((a, b) => a - b);
  assert.deepEqual(
    all,
    Array.from({ length: partitions }, (_, p) => p),
    'each partition exactly once',
  );
  const sizes = [...result.values()].map((l) => l.length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced: ${sizes}`);
}

describe('assignPartitionGroups (co-partitioning, sticky)', () => {
  it('spreads partition numbers evenly over new members', () => {
    const r = assignPartitionGroups(
      8,
      new Map([
        ['b', []],
        ['a', []],
      ]),
    );
    check(r, 8);
    assert.equal(r.get('a')!.length, 4);
  });

  it('keeps what a member owns when a newcomer joins, moving only what balance needs', () => {
    const r = assignPartitionGroups(
      8,
      new Map([
        ['old', [0, 1, 2, 3, 4, 5, 6, 7]],
        ['new', []],
      ]),
    );
    check(r, 8);
    assert.deepEqual(r.get('old'), [0, 1, 2, 3]);
    assert.deepEqual(r.get('new'), [4, 5, 6, 7]);
  });

  it("gives a leaver's partitions to the others and keeps theirs", () => {
    const r = assignPartitionGroups(
      9,
      new Map([
        ['a', [0, 3, 6]],
        ['b', [1, 4, 7]],
      ]),
    );
    check(r, 9);
    for (const p of [0, 3, 6]) assert.ok(r.get('a')!.includes(p));
    for (const p of [1, 4, 7]) assert.ok(r.get('b')!.includes(p));
  });

  it('ignores claimed partitions that no longer exist or are claimed twice', () => {
    const r = assignPartitionGroups(
      4,
      new Map([
        ['a', [0, 1, 9]],
        ['b', [1, 2]],
      ]),
    );
    check(r, 4);
    assert.ok(r.get('a')!.includes(0) && r.get('a')!.includes(1));
    assert.ok(r.get('b')!.includes(2));
  });

  it('returns empty lists when there is nothing to assign', () => {
    assert.deepEqual([...assignPartitionGroups(0, new Map([['a', [1]]]))], [['a', []]]);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  PunctuationQueue,
  PunctuationSchedule,
} from '../../../../src/streams/processor/punctuation-schedule.ts';

const noop = (): void => {};

describe('PunctuationSchedule', () => {
  it('moves the due time one interval on when it fired on time', () => {
    const s = new PunctuationSchedule('p', 'WALL_CLOCK_TIME', 100, noop, 1000);
    s.advance(1000);
    assert.equal(s.dueMs, 1100);
  });

  it('skips the intervals it missed instead of firing for each', () => {
    const s = new PunctuationSchedule('p', 'STREAM_TIME', 100, noop, 1000);
    s.advance(1350);
    assert.equal(s.dueMs, 1400);
  });
});

describe('PunctuationQueue', () => {
  it('returns due schedules earliest first and forgets cancelled ones', () => {
    const q = new PunctuationQueue();
    const a = new PunctuationSchedule('a', 'WALL_CLOCK_TIME', 10, noop, 30);
    const b = new PunctuationSchedule('b', 'WALL_CLOCK_TIME', 10, noop, 10);
    const c = new PunctuationSchedule('c', 'WALL_CLOCK_TIME', 10, noop, 20);
    q.add(a);
    q.add(b);
    q.add(c);
    assert.deepEqual(
      q.due(25).map((s) => s.nodeName),
      ['b', 'c'],
    );
    c.cancel();
    assert.deepEqual(
      q.due(100).map((s) => s.nodeName),
      ['b', 'a'],
    );
    assert.equal(q.size, 2);
    assert.equal(q.nextDueMs(), 10);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  holdOutLatest,
  positionOf,
  rangeSize,
  toTrainingExamples,
  trainingRange,
  type TopicTrainingEvent,
} from '../../../src/cli/training-topic-source.ts';
import { CliError } from '../../../src/cli/errors.ts';
import type { ItemCreatedEvent, TrainingExampleEvent } from '../../../topologies/events.ts';

const T = 'training-examples';
const offsets = [
  { partition: 0, low: '0', high: '10' },
  { partition: 1, low: '5', high: '8' },
];

describe('trainingRange', () => {
  it('starts at the earliest offsets when there is no stored position, and ends at the current ends', () => {
    const r = trainingRange(T, offsets, undefined);
    assert.equal(r.reason, 'no-position');
    assert.deepEqual(
      [...r.start],
      [
        [0, 0n],
        [1, 5n],
      ],
    );
    assert.equal(rangeSize(r), 13);
    assert.deepEqual(positionOf(r), { topic: T, offsets: { '0': '10', '1': '8' } });
  });

  it('resumes from the stored position, and reads a partition it does not name from its start', () => {
    const r = trainingRange(T, offsets, { topic: T, offsets: { '0': '7' } });
    assert.equal(r.reason, 'position');
    assert.deepEqual(
      [...r.start],
      [
        [0, 7n],
        [1, 5n],
      ],
    );
    assert.equal(rangeSize(r), 6);
    assert.deepEqual(r.warnings, []);
  });

  it('is empty when the position is the end', () => {
    const r = trainingRange(T, offsets, { topic: T, offsets: { '0': '10', '1': '8' } });
    assert.equal(rangeSize(r), 0);
  });

  it('starts at the log start with a warning when retention deleted unread records', () => {
    const r = trainingRange(T, offsets, { topic: T, offsets: { '0': '10', '1': '2' } });
    assert.equal(r.start.get(1), 5n);
    assert.equal(r.warnings.length, 1);
    assert.match(
      r.warnings[0] as string,
      /training-examples\[1\]: 3 record\(s\) from offset 2 were deleted by retention/,
    );
  });

  it('ignores a position of another topic and --from-beginning ignores any position', () => {
    assert.equal(
      trainingRange(T, offsets, { topic: 'x-training-examples', offsets: { '0': '9' } }).start.get(0),
      0n,
    );
    const r = trainingRange(T, offsets, { topic: T, offsets: { '0': '9', '1': '8' } }, true);
    assert.equal(r.reason, 'from-beginning');
    assert.equal(rangeSize(r), 13);
  });

  it('refuses a position past the end (a recreated topic) naming the partition', () => {
    assert.throws(
      () => trainingRange(T, offsets, { topic: T, offsets: { '0': '11' } }),
      (e: unknown) =>
        e instanceof CliError &&
        e.code === 'CTR_CLI_FAILED' &&
        /training-examples\[0\] offset 11, past the partition's end 10.*--from-beginning/.test(e.message),
    );
  });
});

function event(itemId: string, impressionTimestamp: number, label = 0): TrainingExampleEvent {
  return {
    impressionId: `imp-${impressionTimestamp}`,
    itemId,
    contextId: 'ctx',
    features: { contextId: 'ctx', position: 1 },
    label,
    impressionTimestamp,
    clickTimestamp: null,
  };
}

function item(itemId: string, createdAt: number): ItemCreatedEvent {
  return {
    itemId,
    publisher: 'p',
    title: 't',
    description: 'd',
    category: 'cat-1',
    language: 'en',
    image: null,
    createdAt,
  };
}

describe('toTrainingExamples', () => {
  it('fills category and item age as the list builder does, skips unknown items, and orders by impression time', () => {
    const events: TopicTrainingEvent[] = [
      { partition: 1, offset: 0n, event: event('a', 3 * 3_600_000, 1) },
      { partition: 0, offset: 0n, event: event('missing', 1) },
      { partition: 0, offset: 1n, event: event('a', 0) },
    ];
    const items = new Map([['a', item('a', 3_600_000)]]);
    const { examples, unknownItems } = toTrainingExamples(events, items);
    assert.equal(unknownItems, 1);
    assert.deepEqual(
      examples.map((e) => [
        e.example.itemId,
        e.example.label,
        e.example.features.itemAgeHours,
        e.example.features.category,
      ]),
      [
        ['a', 0, 0, 'cat-1'], // an impression before the item's creation time counts as age 0
        ['a', 1, 2, 'cat-1'],
      ],
    );
  });
});

describe('holdOutLatest', () => {
  it('holds out the latest floor(n * share) examples', () => {
    assert.deepEqual(holdOutLatest([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.2), {
      train: [1, 2, 3, 4, 5, 6, 7, 8, 9],
      validation: [10, 11],
    });
    assert.deepEqual(holdOutLatest([1, 2, 3], 0), { train: [1, 2, 3], validation: [] });
  });
});

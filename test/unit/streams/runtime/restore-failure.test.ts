import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaError } from '../../../../src/kafka/index.ts';
import { StoreCorruptedError } from '../../../../src/streams/state/index.ts';
import {
  causeChain,
  classifyRestoreFailure,
  failureReason,
} from '../../../../src/streams/runtime/restore-failure.ts';

/**
 * An error shaped like kafkajs' (src/errors.js): `name` is the class name, protocol errors carry
 * the broker's error `type`, `retriable` says whether kafkajs would retry. Only src/kafka may
 * import kafkajs, so the tests build the same shapes.
 */
function kafkajsError(
  name: string,
  message: string,
  fields: { type?: string; retriable?: boolean; cause?: unknown } = {},
): Error {
  const error = new Error(message, fields.cause === undefined ? undefined : { cause: fields.cause });
  return Object.assign(error, { name, retriable: fields.retriable ?? false, type: fields.type });
}

const notLeader = () =>
  kafkajsError('KafkaJSProtocolError', 'This server is not the leader for that topic-partition', {
    type: 'NOT_LEADER_FOR_PARTITION',
    retriable: true,
  });

describe('classifyRestoreFailure', () => {
  it('retries a broker error kafkajs marks retriable (a leader change)', () => {
    assert.equal(classifyRestoreFailure(notLeader()), 'retriable');
  });

  it('retries a retriable error wrapped by kafkajs once its own retries are spent, and by our reader', () => {
    const spent = kafkajsError('KafkaJSNumberOfRetriesExceeded', 'retries exceeded', { cause: notLeader() });
    const wrapped = new KafkaError('CTR_KAFKA_CONSUME', 'cannot read "x"', { cause: spent });
    assert.equal(wrapped.retriable, false, 'the wrapper itself does not say retriable');
    assert.equal(classifyRestoreFailure(wrapped), 'retriable');
  });

  it('retries a lost connection, a refused one and a request timeout', () => {
    assert.equal(
      classifyRestoreFailure(kafkajsError('KafkaJSConnectionError', 'Connection error: read ECONNRESET')),
      'retriable',
    );
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), { code: 'ECONNREFUSED' });
    assert.equal(
      classifyRestoreFailure(new KafkaError('CTR_KAFKA_CONNECT', 'cannot connect', { cause: refused })),
      'retriable',
    );
    assert.equal(
      classifyRestoreFailure(
        kafkajsError('KafkaJSRequestTimeoutError', 'Request Metadata(key: 3) timed out'),
      ),
      'retriable',
    );
  });

  it('retries a KafkaError marked retriable (the reader found nothing to fetch in time)', () => {
    const idle = new KafkaError('CTR_KAFKA_CONSUME', 'timed out: nothing fetched', { retriable: true });
    assert.equal(classifyRestoreFailure(idle), 'retriable');
  });

  it('wipes on an out-of-range offset, even when the error also says retriable', () => {
    const outOfRange = kafkajsError('KafkaJSOffsetOutOfRange', 'offset out of range', {
      type: 'OFFSET_OUT_OF_RANGE',
      cause: notLeader(),
    });
    assert.equal(
      classifyRestoreFailure(new KafkaError('CTR_KAFKA_CONSUME', 'x', { cause: outOfRange })),
      'corrupted',
    );
    assert.equal(
      classifyRestoreFailure(
        new StoreCorruptedError('position unreadable', '/tmp/x/0_0/counts', { store: 'counts' }),
      ),
      'corrupted',
    );
  });

  it('is fatal for anything else: a non-retriable KafkaError, a disk error, a bug', () => {
    assert.equal(
      classifyRestoreFailure(new KafkaError('CTR_KAFKA_CONSUME', 'not authorized', { retriable: false })),
      'fatal',
    );
    const disk = Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' });
    assert.equal(classifyRestoreFailure(disk), 'fatal');
    assert.equal(classifyRestoreFailure(new TypeError('x is undefined')), 'fatal');
    assert.equal(classifyRestoreFailure('a string'), 'fatal');
    assert.equal(classifyRestoreFailure(undefined), 'fatal');
  });
});

describe('causeChain', () => {
  it('follows cause and stops at a cycle', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    assert.deepEqual(causeChain(b), [b, a]);
  });
});

describe('failureReason', () => {
  it('names the innermost code: the broker error inside the wrappers', () => {
    const spent = kafkajsError('KafkaJSNumberOfRetriesExceeded', 'spent', { cause: notLeader() });
    assert.equal(
      failureReason(new KafkaError('CTR_KAFKA_CONSUME', 'x', { cause: spent })),
      'NOT_LEADER_FOR_PARTITION',
    );
    assert.equal(failureReason(new KafkaError('CTR_KAFKA_CONSUME', 'x')), 'CTR_KAFKA_CONSUME');
    assert.equal(failureReason(new Error('plain')), 'UNKNOWN');
  });
});

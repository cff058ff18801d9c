import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppStateMachine, type KafkaStreamsState } from '../../../../src/streams/runtime/app-state.ts';
import { InvalidStateTransitionError } from '../../../../src/streams/runtime/errors.ts';

describe('AppStateMachine', () => {
  it('walks the normal lifecycle and tells the listener (new, old)', () => {
    const m = new AppStateMachine();
    const seen: Array<[KafkaStreamsState, KafkaStreamsState]> = [];
    m.onChange((n, o) => seen.push([n, o]));
    for (const s of [
      'REBALANCING',
      'RUNNING',
      'REBALANCING',
      'RUNNING',
      'PENDING_SHUTDOWN',
      'NOT_RUNNING',
    ] as const)
      m.moveTo(s);
    assert.equal(m.state, 'NOT_RUNNING');
    assert.deepEqual(seen[0], ['REBALANCING', 'CREATED']);
    assert.deepEqual(seen.at(-1), ['NOT_RUNNING', 'PENDING_SHUTDOWN']);
    assert.equal(seen.length, 6);
  });

  it('rejects transitions the lifecycle does not allow, naming both states', () => {
    const m = new AppStateMachine();
    assert.throws(
      () => m.moveTo('RUNNING'),
      (e: Error) => e instanceof InvalidStateTransitionError && /from CREATED to RUNNING/.test(e.message),
    );
    m.moveTo('PENDING_SHUTDOWN');
    m.moveTo('NOT_RUNNING');
    assert.throws(() => m.moveTo('REBALANCING'), InvalidStateTransitionError);
  });

  it('lets a failed instance close: ERROR -> PENDING_SHUTDOWN -> NOT_RUNNING', () => {
    const m = new AppStateMachine();
    m.moveTo('REBALANCING');
    m.moveTo('ERROR');
    assert.equal(m.canMoveTo('RUNNING'), false);
    m.moveTo('PENDING_SHUTDOWN');
    m.moveTo('NOT_RUNNING');
  });

  it('keeps going when a listener throws', () => {
    const m = new AppStateMachine();
    let second = 0;
    m.onChange(() => {
      throw new Error('listener bug');
    });
    m.onChange(() => second++);
    m.moveTo('REBALANCING');
    assert.equal(second, 1);
    assert.equal(m.state, 'REBALANCING');
  });
});

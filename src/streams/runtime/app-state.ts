/**
 * The lifecycle of a KafkaStreams instance, as in Kafka Streams
 * (KafkaStreams.State), with the transitions checked:
 *
 *   CREATED -> REBALANCING -> RUNNING <-> REBALANCING
 *   CREATED | REBALANCING | RUNNING -> PENDING_SHUTDOWN -> NOT_RUNNING   (close())
 *   CREATED | REBALANCING | RUNNING -> ERROR                            (a fatal error)
 *   ERROR -> PENDING_SHUTDOWN -> NOT_RUNNING                            (close() after an error)
 */
import { InvalidStateTransitionError } from './errors.ts';

export type KafkaStreamsState =
  'CREATED' | 'REBALANCING' | 'RUNNING' | 'PENDING_SHUTDOWN' | 'NOT_RUNNING' | 'ERROR';

const ALLOWED: Record<KafkaStreamsState, readonly KafkaStreamsState[]> = {
  CREATED: ['REBALANCING', 'PENDING_SHUTDOWN', 'ERROR'],
  REBALANCING: ['RUNNING', 'REBALANCING', 'PENDING_SHUTDOWN', 'ERROR'],
  RUNNING: ['REBALANCING', 'PENDING_SHUTDOWN', 'ERROR'],
  PENDING_SHUTDOWN: ['NOT_RUNNING'],
  NOT_RUNNING: [],
  // Kafka Streams lets close() move an ERROR instance to PENDING_SHUTDOWN -> NOT_RUNNING
  ERROR: ['PENDING_SHUTDOWN'],
};

/** `(newState, oldState)`, as Kafka Streams' StateListener. */
export type StateListener = (newState: KafkaStreamsState, oldState: KafkaStreamsState) => void;

/** Holds the state and checks every transition against the table above. */
export class AppStateMachine {
  private current: KafkaStreamsState = 'CREATED';
  private readonly listeners: StateListener[] = [];

  get state(): KafkaStreamsState {
    return this.current;
  }

  onChange(listener: StateListener): void {
    this.listeners.push(listener);
  }

  /** True when `to` is allowed from the current state. */
  canMoveTo(to: KafkaStreamsState): boolean {
    return ALLOWED[this.current].includes(to);
  }

  /**
   * Moves to `to` and tells the listeners.
   * @throws InvalidStateTransitionError when the table does not allow it
   */
  moveTo(to: KafkaStreamsState): void {
    if (!this.canMoveTo(to)) throw new InvalidStateTransitionError(this.current, to);
    const from = this.current;
    this.current = to;
    if (from === to) return;
    for (const listener of this.listeners) {
      try {
        listener(to, from);
      } catch {
        // a listener's bug must not break the lifecycle
      }
    }
  }

  /** True while the instance may process records (RUNNING or REBALANCING). */
  isRunningOrRebalancing(): boolean {
    return this.current === 'RUNNING' || this.current === 'REBALANCING';
  }
}

/**
 * Suppressed: how `WindowedKTable.suppress` holds back updates. Only
 * `untilWindowCloses` is offered: each window's final result, emitted once
 * when stream time passes the window's end + grace (Kafka Streams'
 * `Suppressed.untilWindowCloses(BufferConfig.unbounded())`). The buffer is a
 * change-logged LevelDB store, so it is bounded by disk, not memory.
 */
import { checkName } from './named.ts';

export class Suppressed {
  private constructor(readonly name: string | undefined) {}

  /** Final results only: one record per window, when it closes. */
  static untilWindowCloses(): Suppressed {
    return new Suppressed(undefined);
  }

  /** Names the suppression node (its buffer store is `<name>-store`). */
  withName(name: string): Suppressed {
    checkName(name, 'suppression');
    return new Suppressed(name);
  }
}

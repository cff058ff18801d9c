/**
 * Branched: one branch of `KStream.split()`: its name suffix and what to do
 * with the branch stream (nothing: it is returned in the map; a function:
 * its result is returned; a consumer: nothing is returned).
 */
import type { KStream } from './kstream.ts';
import { checkName } from './named.ts';

export class Branched<K, V> {
  private constructor(
    readonly name: string | undefined,
    readonly fn: ((stream: KStream<K, V>) => KStream<any, any> | void) | undefined,
    readonly returnsStream: boolean,
  ) {}

  /** Names the branch: its map key and node are `<split name><name>`. */
  static as<K, V>(name: string): Branched<K, V> {
    checkName(name, 'branch');
    return new Branched<K, V>(name, undefined, true);
  }

  /** Applies `fn` to the branch; its result is the branch's map entry. */
  static withFunction<K, V>(fn: (stream: KStream<K, V>) => KStream<any, any>, name?: string): Branched<K, V> {
    if (name !== undefined) checkName(name, 'branch');
    return new Branched<K, V>(name, fn, true);
  }

  /** Hands the branch to `consumer`; the branch is not in the returned map. */
  static withConsumer<K, V>(consumer: (stream: KStream<K, V>) => void, name?: string): Branched<K, V> {
    if (name !== undefined) checkName(name, 'branch');
    return new Branched<K, V>(name, consumer, false);
  }
}

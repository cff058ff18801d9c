/** Consumed: how `StreamsBuilder.stream/table` read a topic (serdes, source name, timestamps). */
import type { TimestampExtractor } from '../../processor/processor-topology.ts';
import type { Serde } from '../../serde/serde.ts';
import { checkName } from './named.ts';

export class Consumed<K, V> {
  private constructor(
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    readonly name: string | undefined,
    readonly timestampExtractor: TimestampExtractor | undefined,
  ) {}

  /** Serdes to deserialize keys and values; undefined keeps raw bytes. */
  static with<K, V>(keySerde: Serde<K> | undefined, valueSerde: Serde<V> | undefined): Consumed<K, V> {
    return new Consumed(keySerde, valueSerde, undefined, undefined);
  }

  /** The source node's name. */
  static as<K = Buffer | null, V = Buffer | null>(name: string): Consumed<K, V> {
    checkName(name, 'source');
    return new Consumed<K, V>(undefined, undefined, name, undefined);
  }

  withName(name: string): Consumed<K, V> {
    checkName(name, 'source');
    return new Consumed(this.keySerde, this.valueSerde, name, this.timestampExtractor);
  }

  withTimestampExtractor(extractor: TimestampExtractor): Consumed<K, V> {
    return new Consumed(this.keySerde, this.valueSerde, this.name, extractor);
  }
}

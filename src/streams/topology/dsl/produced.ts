/** Produced: how `KStream.to` writes a topic (serdes, sink name, partitioner). */
import type { StreamPartitioner } from '../../processor/partitioner.ts';
import type { Serde } from '../../serde/serde.ts';
import { checkName } from './named.ts';

export class Produced<K, V> {
  private constructor(
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    readonly name: string | undefined,
    readonly partitioner: StreamPartitioner<K, V> | undefined,
  ) {}

  /** Serdes to serialize keys and values; undefined: the stream's serdes (or raw bytes/strings). */
  static with<K, V>(keySerde: Serde<K> | undefined, valueSerde: Serde<V> | undefined): Produced<K, V> {
    return new Produced(keySerde, valueSerde, undefined, undefined);
  }

  /** The sink node's name. */
  static as<K, V>(name: string): Produced<K, V> {
    checkName(name, 'sink');
    return new Produced<K, V>(undefined, undefined, name, undefined);
  }

  withName(name: string): Produced<K, V> {
    checkName(name, 'sink');
    return new Produced(this.keySerde, this.valueSerde, name, this.partitioner);
  }

  /** Picks each record's partition (default: Kafka's murmur2 of the key bytes). */
  withStreamPartitioner(partitioner: StreamPartitioner<K, V>): Produced<K, V> {
    return new Produced(this.keySerde, this.valueSerde, this.name, partitioner);
  }
}

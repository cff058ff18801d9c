/**
 * Grouped: serdes and name of a grouping (`groupByKey`). The name also names
 * the repartition topic (`<application.id>-<name>-repartition`) when the key
 * was changed upstream and the records must be regrouped by partition.
 */
import type { Serde } from '../../serde/serde.ts';
import { checkName } from './named.ts';

export class Grouped<K, V> {
  private constructor(
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    readonly name: string | undefined,
  ) {}

  static with<K, V>(keySerde: Serde<K> | undefined, valueSerde: Serde<V> | undefined): Grouped<K, V> {
    return new Grouped(keySerde, valueSerde, undefined);
  }

  static as<K, V>(name: string): Grouped<K, V> {
    checkName(name, 'grouping');
    return new Grouped<K, V>(undefined, undefined, name);
  }

  withName(name: string): Grouped<K, V> {
    checkName(name, 'grouping');
    return new Grouped(this.keySerde, this.valueSerde, name);
  }
}

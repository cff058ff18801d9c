/**
 * StreamJoined: serdes and names of a stream-stream join (Kafka Streams'
 * StreamJoined). The join buffers both sides in window stores, so it needs
 * the key serde and both value serdes (taken from the streams when not given).
 */
import type { Serde } from '../../serde/serde.ts';
import { checkName } from './named.ts';

export class StreamJoined<K, V, VO> {
  private constructor(
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    readonly otherValueSerde: Serde<VO> | undefined,
    readonly name: string | undefined,
    readonly storeName: string | undefined,
    readonly loggingEnabled: boolean,
  ) {}

  static with<K, V, VO>(
    keySerde: Serde<K> | undefined,
    valueSerde: Serde<V> | undefined,
    otherValueSerde: Serde<VO> | undefined,
  ): StreamJoined<K, V, VO> {
    return new StreamJoined(keySerde, valueSerde, otherValueSerde, undefined, undefined, true);
  }

  /** Names the join's processors (`<name>-this-join`, `<name>-other-join`, `<name>-merge`) and repartition topics. */
  static as<K, V, VO>(name: string): StreamJoined<K, V, VO> {
    checkName(name, 'join');
    return new StreamJoined<K, V, VO>(undefined, undefined, undefined, name, undefined, true);
  }

  withName(name: string): StreamJoined<K, V, VO> {
    checkName(name, 'join');
    return new StreamJoined(
      this.keySerde,
      this.valueSerde,
      this.otherValueSerde,
      name,
      this.storeName,
      this.loggingEnabled,
    );
  }

  /** Base name of the join's stores: `<storeName>-this-join-store`, `-other-join-store`, `-outer-shared-join-store`. */
  withStoreName(storeName: string): StreamJoined<K, V, VO> {
    checkName(storeName, 'store');
    return new StreamJoined(
      this.keySerde,
      this.valueSerde,
      this.otherValueSerde,
      this.name,
      storeName,
      this.loggingEnabled,
    );
  }

  /** No changelogs for the join buffers (they are then lost with the machine). */
  withLoggingDisabled(): StreamJoined<K, V, VO> {
    return new StreamJoined(
      this.keySerde,
      this.valueSerde,
      this.otherValueSerde,
      this.name,
      this.storeName,
      false,
    );
  }
}

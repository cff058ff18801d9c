/**
 * The base of the typed faces of stores (Kafka Streams' Metered*Store): the
 * only layers that know serdes. It names the serdes' topic after the store's
 * changelog (even when logging is off, so a schema-registry serde registers a
 * stable subject per store), prepares the serdes at init and turns keys into
 * bytes; each face builds its own store keys and decodes its own results.
 */
import { StreamsError } from '../errors.ts';
import type { Serde } from '../serde/serde.ts';
import { changelogTopicFor } from './change-logging-store.ts';
import type { StateStore, StateStoreContext } from './state-store.ts';
import { WrappedStateStore } from './wrapped-store.ts';

export abstract class TypedStoreLayer<S extends StateStore, K, V> extends WrappedStateStore<S> {
  /** The topic serdes are called with: the store's changelog topic once initialised. */
  protected topic: string;

  /**
   * @param kind how errors name the store (`store`, `window store`, `session store`)
   */
  constructor(
    inner: S,
    readonly keySerde: Serde<K>,
    readonly valueSerde: Serde<V>,
    private readonly kind: string,
  ) {
    super(inner);
    this.topic = inner.name;
  }

  override async init(context: StateStoreContext): Promise<void> {
    this.topic = changelogTopicFor(context.applicationId, this.name);
    await this.inner.init(context);
    await this.keySerde.prepare?.(this.topic, true);
    await this.valueSerde.prepare?.(this.topic, false);
  }

  /**
   * The serialized key.
   * @throws StreamsError (CTR_STREAMS) when the key serde turns the key into null: a store key cannot be null
   */
  protected keyBytes(key: K): Buffer {
    const bytes = this.keySerde.serialize(this.topic, key);
    if (bytes === null)
      throw new StreamsError(
        'CTR_STREAMS',
        `${this.kind} "${this.name}": key serde "${this.keySerde.name}" turned a key into null`,
        { store: this.name },
      );
    return bytes;
  }

  /** `null` (a delete) stays null. */
  protected valueBytes(value: V | null): Buffer | null {
    return value === null ? null : this.valueSerde.serialize(this.topic, value);
  }

  /** One value, after the serde resolves what it refers to (e.g. a schema id). */
  protected async decode(bytes: Buffer): Promise<V> {
    if (this.valueSerde.resolve !== undefined) await this.valueSerde.resolve(this.topic, [bytes]);
    return this.valueSerde.deserialize(this.topic, bytes) as V;
  }
}

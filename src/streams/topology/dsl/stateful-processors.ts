/**
 * The DSL's store-backed operators: aggregations (count/aggregate/reduce)
 * and table sources. Each reads the batch's keys with ONE getMany, applies
 * the records in order, and writes with ONE putAll, so a batch costs one
 * store round trip instead of one per record.
 */
import { DroppedRecords } from '../../processor/dropped-records.ts';
import type { Processor, ProcessorContext } from '../../processor/processor.ts';
import type { StreamRecord } from '../../processor/record.ts';
import type { Serde } from '../../serde/serde.ts';
import type { KeyValueStore } from '../../state/state-store.ts';

/**
 * A Map key for a record key: primitives as themselves, anything else by its
 * serialized bytes (two equal objects are the same key, as in the store).
 */
function keyIdentity<K>(key: K, keySerde: Serde<K>, storeName: string): unknown {
  if (
    typeof key === 'string' ||
    typeof key === 'number' ||
    typeof key === 'bigint' ||
    typeof key === 'boolean'
  )
    return key;
  if (Buffer.isBuffer(key)) return 'b:' + key.toString('latin1');
  const bytes = keySerde.serialize(storeName, key);
  return 'x:' + (bytes === null ? '' : bytes.toString('latin1'));
}

interface Update<K, V> {
  key: K;
  value: V | null;
  timestamp: number;
  record: StreamRecord<K, unknown>;
}

/**
 * Applies `step` per record to the current value of its key, writes the
 * results to the store, then forwards either every update or (coalesce)
 * the last update per key in the order of each key's last update.
 */
export function storeUpdateProcessor<K, VIn, VAgg>(options: {
  storeName: string;
  keySerde: Serde<K>;
  /** `undefined` = skip the record. `current` is undefined when the key is absent. */
  step: (key: K, value: VIn, current: VAgg | undefined) => VAgg | null | undefined;
  /** Records with a null value are skipped (aggregations) rather than applied (tables). */
  skipNullValues: boolean;
  coalesce: boolean;
  operator: string;
}): () => Processor<K, VIn, K, VAgg | null> {
  return () => {
    let context: ProcessorContext<K, VAgg | null>;
    let store: KeyValueStore<K, VAgg>;
    return {
      init(ctx) {
        context = ctx;
        store = ctx.getStateStore<KeyValueStore<K, VAgg>>(options.storeName);
      },
      async process(records) {
        // one read for every distinct key of the batch; `slots[i]` is the key index of usable[i]
        const ids = new Map<unknown, number>();
        const keys: K[] = [];
        const usable: Array<StreamRecord<K, VIn>> = [];
        const slots: number[] = [];
        const dropped = new DroppedRecords(context.taskId, context.processorName);
        for (const r of records) {
          if (
            r.key === null ||
            r.key === undefined ||
            (options.skipNullValues && (r.value === null || r.value === undefined))
          ) {
            // Kafka Streams skips these too (no key to aggregate under); counted and logged once per batch
            dropped.add(r.key === null || r.key === undefined ? 'null-key' : 'null-value', r.origin);
            continue;
          }
          const id = keyIdentity(r.key, options.keySerde, options.storeName);
          let slot = ids.get(id);
          if (slot === undefined) {
            slot = keys.length;
            ids.set(id, slot);
            keys.push(r.key);
          }
          usable.push(r);
          slots.push(slot);
        }
        dropped.report();
        if (usable.length === 0) return;
        const current: Array<VAgg | null | undefined> = await store.getMany(keys);
        const updates: Array<Update<K, VAgg>> = [];
        // per key slot, its latest update (Map keeps the order of each key's LAST update after delete+set)
        const lastUpdate = new Map<number, Update<K, VAgg>>();
        for (let i = 0; i < usable.length; i++) {
          const r = usable[i]!;
          const slot = slots[i]!;
          const before = current[slot];
          const after = options.step(r.key, r.value, before === null ? undefined : before);
          if (after === undefined) continue;
          current[slot] = after;
          const update: Update<K, VAgg> = { key: r.key, value: after, timestamp: r.timestamp, record: r };
          const previous = lastUpdate.get(slot);
          if (previous !== undefined) {
            lastUpdate.delete(slot);
            // a coalesced update carries the latest timestamp of the key's records
            if (options.coalesce) update.timestamp = Math.max(update.timestamp, previous.timestamp);
          }
          lastUpdate.set(slot, update);
          if (!options.coalesce) updates.push(update);
        }
        if (lastUpdate.size === 0) return;
        const finals = [...lastUpdate.values()];
        // one write for the batch: the last value per key
        await store.putAll(finals.map((u) => [u.key, u.value] as const));
        const changed = options.coalesce ? finals : updates;
        context.forward(
          changed.map((u) => ({
            key: u.key,
            value: u.value,
            timestamp: u.timestamp,
            headers: u.record.headers,
            origin: u.record.origin,
          })),
        );
      },
    };
  };
}

/**
 * The processor of a table read from a stream (`StreamsBuilder.table`,
 * `KStream.toTable`): the latest value per key; a null value deletes the key.
 * @param coalesce forward only the last update per key of a batch (when the store caches)
 */
export function tableUpsertProcessor<K, V>(options: {
  storeName: string;
  keySerde: Serde<K>;
  coalesce: boolean;
  operator: string;
}): () => Processor<K, V, K, V | null> {
  return storeUpdateProcessor<K, V, V>({ ...options, step: (_key, value) => value, skipNullValues: false });
}

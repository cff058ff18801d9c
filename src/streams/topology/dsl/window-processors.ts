/**
 * The processors of windowed aggregations and suppression. Like the
 * key-value aggregations they work per batch: one read of every window the
 * batch touches, the records applied in order, one write.
 *
 * Late records: a processor tracks the stream time it has observed (the
 * largest record timestamp, per record as it goes through the batch) and
 * drops a record for a window whose end + grace is at or before that time
 * (Kafka Streams: `windowEnd <= observedStreamTime - grace`). Dropped records
 * are logged, counted on the processor and in
 * `ctr.streams.window.late.records.dropped`.
 */
import { counter } from '../../../telemetry/instruments.ts';
import { createLogger } from '../../../telemetry/logger.ts';
import { METRICS } from '../../../telemetry/metric-names.ts';
import type { Processor, ProcessorContext } from '../../processor/processor.ts';
import type { StreamRecord } from '../../processor/record.ts';
import type { Serde } from '../../serde/serde.ts';
import type { KeyValueStore } from '../../state/state-store.ts';
import type { SessionStore, TimeWindow, WindowStore, Windowed } from '../../state/window-store.ts';
import { readTime, TIME_BYTES, writeTime } from '../../state/window-key-schema.ts';
import type { SessionWindows, TimeWindows } from './windows.ts';

const log = createLogger('dsl');
const lateDropped = counter(METRICS.lateRecordsDropped);
const droppedRecords = counter(METRICS.droppedRecords);

/** Counts and logs (rate-limited) dropped records of one processor. */
export class DropCounter {
  lateRecords = 0;
  invalidRecords = 0;

  constructor(
    private readonly storeName: string,
    private readonly operator: string,
  ) {}

  late(context: ProcessorContext<any, any>, record: StreamRecord<unknown, unknown>, detail: string): void {
    this.lateRecords++;
    lateDropped.add(1, { store: this.storeName });
    if (this.lateRecords === 1 || this.lateRecords % 10_000 === 0) {
      log.warn(
        {
          taskId: context.taskId,
          processor: context.processorName,
          dropped: this.lateRecords,
          origin: record.origin,
          timestamp: record.timestamp,
        },
        `${this.operator} dropped a late record: ${detail}`,
      );
    }
  }

  invalid(context: ProcessorContext<any, any>, record: StreamRecord<unknown, unknown>): void {
    this.invalidRecords++;
    droppedRecords.add(1, {
      reason: record.key === null || record.key === undefined ? 'null-key' : 'null-value',
      topic: record.origin?.topic ?? 'unknown',
    });
    if (this.invalidRecords === 1 || this.invalidRecords % 10_000 === 0) {
      log.warn(
        {
          taskId: context.taskId,
          processor: context.processorName,
          skipped: this.invalidRecords,
          origin: record.origin,
        },
        `${this.operator} skips records with a null key or value`,
      );
    }
  }
}

/** A Map key for (record key, time): primitives as themselves, other keys by their bytes. */
export function windowIdentity<K>(key: K, time: number, keySerde: Serde<K>, topic: string): string {
  let k: string;
  if (typeof key === 'string') k = 's:' + key;
  else if (typeof key === 'number' || typeof key === 'bigint' || typeof key === 'boolean')
    k = 'p:' + String(key);
  else if (Buffer.isBuffer(key)) k = 'b:' + key.toString('latin1');
  else k = 'x:' + (keySerde.serialize(topic, key)?.toString('latin1') ?? '');
  return k + '@' + time;
}

interface WindowUpdate<K, VA> {
  key: K;
  window: TimeWindow;
  value: VA;
  record: StreamRecord<K, unknown>;
}

/** Applies records to the time windows (tumbling/hopping) that contain them. */
export function timeWindowAggregateProcessor<K, V, VA>(options: {
  storeName: string;
  windows: TimeWindows;
  keySerde: Serde<K>;
  step: (key: K, value: V, current: VA | undefined) => VA;
  coalesce: boolean;
  operator: string;
}): () => Processor<K, V, Windowed<K>, VA> & { readonly drops: DropCounter } {
  return () => {
    let context: ProcessorContext<Windowed<K>, VA>;
    let store: WindowStore<K, VA>;
    let observed = -1;
    const drops = new DropCounter(options.storeName, options.operator);
    const { windows } = options;
    return {
      drops,
      init(ctx) {
        context = ctx;
        store = ctx.getStateStore<WindowStore<K, VA>>(options.storeName);
        observed = Math.max(ctx.currentStreamTimeMs, store.observedStreamTimeMs);
      },
      async process(records) {
        // pass 1: which windows does the batch touch (late ones dropped here)
        const slots = new Map<string, number>();
        const wanted: Array<readonly [K, number]> = [];
        const plan: Array<{ record: StreamRecord<K, V>; slots: number[]; windows: TimeWindow[] }> = [];
        for (const r of records) {
          if (r.key === null || r.key === undefined || r.value === null || r.value === undefined) {
            drops.invalid(context, r);
            continue;
          }
          if (r.timestamp > observed) observed = r.timestamp;
          const closeTime = observed - windows.graceMs;
          const live: TimeWindow[] = [];
          const ids: number[] = [];
          for (const w of windows.windowsFor(r.timestamp)) {
            if (w.endMs <= closeTime) {
              drops.late(
                context,
                r,
                `window [${w.startMs}, ${w.endMs}) closed at stream time ${observed} (grace ${windows.graceMs} ms)`,
              );
              continue;
            }
            const id = windowIdentity(r.key, w.startMs, options.keySerde, options.storeName);
            let slot = slots.get(id);
            if (slot === undefined) {
              slot = wanted.length;
              slots.set(id, slot);
              wanted.push([r.key, w.startMs]);
            }
            live.push(w);
            ids.push(slot);
          }
          if (live.length > 0) plan.push({ record: r, slots: ids, windows: live });
        }
        if (wanted.length === 0) return;
        // pass 2: one read, the records in order, one write
        const current: Array<VA | undefined> = await store.fetchMany(wanted);
        const updates: Array<WindowUpdate<K, VA>> = [];
        const last = new Map<number, WindowUpdate<K, VA>>();
        for (const p of plan) {
          for (let i = 0; i < p.windows.length; i++) {
            const slot = p.slots[i]!;
            const value = options.step(p.record.key, p.record.value, current[slot]);
            current[slot] = value;
            const update = { key: p.record.key, window: p.windows[i]!, value, record: p.record };
            if (options.coalesce) {
              const previous = last.get(slot);
              if (previous !== undefined) last.delete(slot);
              last.set(
                slot,
                previous && previous.record.timestamp > update.record.timestamp
                  ? { ...update, record: { ...update.record, timestamp: previous.record.timestamp } }
                  : update,
              );
            } else {
              updates.push(update);
              last.set(slot, update);
            }
          }
        }
        await store.putAll(
          [...last].map(([slot, u]) => [wanted[slot]![0], u.value, u.window.startMs] as const),
        );
        const out = options.coalesce ? [...last.values()] : updates;
        context.forward(
          out.map((u) => ({
            key: { key: u.key, window: u.window },
            value: u.value,
            timestamp: u.record.timestamp,
            headers: u.record.headers,
            ...(u.record.origin ? { origin: u.record.origin } : {}),
          })),
        );
      },
    };
  };
}

/**
 * Session aggregation (Kafka Streams' KStreamSessionWindowAggregate): a
 * record at t merges every session of its key that ends at or after t - gap
 * and starts at or before t + gap into one; the merged sessions are removed
 * (a null update is forwarded for each, so downstream tables delete them)
 * and the new session [min start, max end] is written and forwarded.
 * Records are applied one at a time (a batch's records may merge sessions
 * created by earlier records of the same batch).
 */
export function sessionAggregateProcessor<K, V, VA>(options: {
  storeName: string;
  windows: SessionWindows;
  initializer: () => VA;
  aggregator: (key: K, value: V, aggregate: VA) => VA;
  merger: (key: K, left: VA, right: VA) => VA;
  operator: string;
}): () => Processor<K, V, Windowed<K>, VA | null> {
  return () => {
    let context: ProcessorContext<Windowed<K>, VA | null>;
    let store: SessionStore<K, VA>;
    let observed = -1;
    const drops = new DropCounter(options.storeName, options.operator);
    const gap = options.windows.inactivityGapMs;
    return {
      init(ctx) {
        context = ctx;
        store = ctx.getStateStore<SessionStore<K, VA>>(options.storeName);
        observed = ctx.currentStreamTimeMs;
      },
      async process(records) {
        const out: Array<StreamRecord<Windowed<K>, VA | null>> = [];
        for (const r of records) {
          if (r.key === null || r.key === undefined || r.value === null || r.value === undefined) {
            drops.invalid(context, r);
            continue;
          }
          if (r.timestamp > observed) observed = r.timestamp;
          const closeTime = observed - options.windows.graceMs;
          const overlapping = await store.findSessions(r.key, r.timestamp - gap, r.timestamp + gap);
          let start = r.timestamp;
          let end = r.timestamp;
          let aggregate = options.initializer();
          for (const [session, value] of overlapping) {
            start = Math.min(start, session.window.startMs);
            end = Math.max(end, session.window.endMs);
            aggregate = options.merger(r.key, aggregate, value);
          }
          if (end < closeTime) {
            drops.late(
              context,
              r,
              `session [${start}, ${end}] closed at stream time ${observed} (grace ${options.windows.graceMs} ms)`,
            );
            continue;
          }
          aggregate = options.aggregator(r.key, r.value, aggregate);
          const merged: Windowed<K> = { key: r.key, window: { startMs: start, endMs: end } };
          const writes: Array<readonly [Windowed<K>, VA | null]> = [];
          for (const [session] of overlapping) {
            if (session.window.startMs === start && session.window.endMs === end) continue;
            writes.push([session, null]);
            out.push({
              key: session,
              value: null,
              timestamp: r.timestamp,
              headers: r.headers,
              ...(r.origin ? { origin: r.origin } : {}),
            });
          }
          writes.push([merged, aggregate]);
          await store.putAll(writes);
          out.push({
            key: merged,
            value: aggregate,
            timestamp: r.timestamp,
            headers: r.headers,
            ...(r.origin ? { origin: r.origin } : {}),
          });
        }
        if (out.length > 0) context.forward(out);
      },
    };
  };
}

/**
 * suppress(untilWindowCloses): holds each window's latest result in a
 * buffer store and forwards it ONCE, when the task's stream time reaches the
 * window's end + grace (no later record can change it then). The buffer is
 * keyed `end (8 bytes) | windowed key bytes`, so the closed windows are one
 * ordered scan from the start of the buffer; it is change-logged, so buffered
 * results survive a restart. Null results (a session merged away) are removed
 * from the buffer and never emitted, as Kafka Streams does.
 */
export function suppressProcessor<K, V>(options: {
  bufferStoreName: string;
  windowedKeySerde: Serde<Windowed<K>>;
  valueSerde: Serde<V>;
  graceMs: number;
}): () => Processor<Windowed<K>, V | null, Windowed<K>, V> {
  return () => {
    let context: ProcessorContext<Windowed<K>, V>;
    let buffer: KeyValueStore<Buffer, Buffer>;
    const topic = options.bufferStoreName;
    return {
      init(ctx) {
        context = ctx;
        buffer = ctx.getStateStore<KeyValueStore<Buffer, Buffer>>(options.bufferStoreName);
      },
      async process(records) {
        const writes: Array<readonly [Buffer, Buffer | null]> = [];
        for (const r of records) {
          const keyBytes = options.windowedKeySerde.serialize(topic, r.key);
          if (keyBytes === null) continue;
          const bufferKey = Buffer.allocUnsafe(TIME_BYTES + keyBytes.length);
          writeTime(bufferKey, 0, r.key.window.endMs);
          keyBytes.copy(bufferKey, TIME_BYTES);
          if (r.value === null || r.value === undefined) {
            writes.push([bufferKey, null]);
            continue;
          }
          // the entry remembers the record timestamp: the emitted record carries it
          const valueBytes = options.valueSerde.serialize(topic, r.value) ?? Buffer.alloc(0);
          const entry = Buffer.allocUnsafe(TIME_BYTES + valueBytes.length);
          writeTime(entry, 0, r.timestamp);
          valueBytes.copy(entry, TIME_BYTES);
          writes.push([bufferKey, entry]);
        }
        if (writes.length > 0) await buffer.putAll(writes);
        await emitClosed();
      },
    };

    async function emitClosed(): Promise<void> {
      const closeBefore = context.currentStreamTimeMs - options.graceMs;
      if (closeBefore < 0) return;
      // windows with end + grace <= stream time are closed
      // every buffer key is longer than 8 bytes, so this inclusive bound stops right before end = closeBefore + 1
      const upperBound = Buffer.allocUnsafe(TIME_BYTES);
      writeTime(upperBound, 0, closeBefore + 1);
      const emitted: Array<StreamRecord<Windowed<K>, V>> = [];
      const deletes: Array<readonly [Buffer, null]> = [];
      for await (const [bufferKey, entry] of buffer.range(undefined, upperBound)) {
        if (readTime(bufferKey, 0) > closeBefore) break;
        const key = options.windowedKeySerde.deserialize(topic, bufferKey.subarray(TIME_BYTES))!;
        const value = options.valueSerde.deserialize(topic, entry.subarray(TIME_BYTES)) as V;
        emitted.push({ key, value, timestamp: readTime(entry, 0), headers: {} });
        deletes.push([bufferKey, null]);
      }
      if (deletes.length === 0) return;
      await buffer.putAll(deletes);
      context.forward(emitted);
    }
  };
}

/**
 * Sliding-window aggregation (Kafka Streams' SlidingWindows, KIP-450): the
 * windows are defined by the records, [t - diff, t] ending at each record
 * ("left" windows) and [t + 1, t + 1 + diff] starting right after one
 * ("right" windows, only when a record falls in them); both ends inclusive.
 * Every distinct set of records that lie within `diff` of each other is one
 * window, and a new record updates exactly the windows that contain it.
 *
 * The records themselves are kept per key in a buffer (a window store that
 * keeps duplicates, retention 2 x diff + grace): each affected window's
 * aggregate is folded from the buffered records it contains, so the result
 * never depends on the order records arrived in (within grace).
 */
export function slidingWindowAggregateProcessor<K, V, VA>(options: {
  storeName: string;
  bufferStoreName: string;
  timeDifferenceMs: number;
  graceMs: number;
  initializer: () => VA;
  aggregator: (key: K, value: V, aggregate: VA) => VA;
  operator: string;
}): () => Processor<K, V, Windowed<K>, VA> {
  return () => {
    let context: ProcessorContext<Windowed<K>, VA>;
    let store: WindowStore<K, VA>;
    let buffer: WindowStore<K, V>;
    let observed = -1;
    const drops = new DropCounter(options.storeName, options.operator);
    const diff = options.timeDifferenceMs;
    return {
      init(ctx) {
        context = ctx;
        store = ctx.getStateStore<WindowStore<K, VA>>(options.storeName);
        buffer = ctx.getStateStore<WindowStore<K, V>>(options.bufferStoreName);
        observed = Math.max(ctx.currentStreamTimeMs, buffer.observedStreamTimeMs);
      },
      async process(records) {
        const out: Array<StreamRecord<Windowed<K>, VA>> = [];
        for (const r of records) {
          if (r.key === null || r.key === undefined || r.value === null || r.value === undefined) {
            drops.invalid(context, r);
            continue;
          }
          const t = r.timestamp;
          if (t > observed) observed = t;
          const closeTime = observed - options.graceMs;
          // sliding windows include their end: one closes when stream time passes end + grace,
          // and the latest window that can contain t ends at t + diff
          if (t + diff < closeTime) {
            drops.late(
              context,
              r,
              `every sliding window containing ${t} closed at stream time ${observed} (grace ${options.graceMs} ms)`,
            );
            continue;
          }
          const before = await collectRecords(buffer, r.key, t - 2 * diff - 1, t + 2 * diff + 1);
          const hadSameTime = before.some(([ts]) => ts === t);
          await buffer.put(r.key, r.value, t);
          const all = [...before, [t, r.value] as const].sort((x, y) => x[0] - y[0]);
          const starts = new Set<number>();
          starts.add(Math.max(0, t - diff));
          for (const [tr] of before) {
            if (tr > t && tr <= t + diff) starts.add(Math.max(0, tr - diff));
            if (tr >= t - diff - 1 && tr < t) starts.add(tr + 1);
          }
          if (!hadSameTime && all.some(([tr]) => tr > t && tr <= t + 1 + diff)) starts.add(t + 1);
          const writes: Array<readonly [K, VA, number]> = [];
          for (const start of [...starts].sort((a, b) => a - b)) {
            const end = start + diff;
            if (end < closeTime) continue;
            let aggregate = options.initializer();
            let maxTs = -1;
            for (const [tr, v] of all) {
              if (tr < start || tr > end) continue;
              aggregate = options.aggregator(r.key, v, aggregate);
              if (tr > maxTs) maxTs = tr;
            }
            if (maxTs < 0) continue;
            writes.push([r.key, aggregate, start]);
            out.push({
              key: { key: r.key, window: { startMs: start, endMs: end } },
              value: aggregate,
              timestamp: maxTs,
              headers: r.headers,
              ...(r.origin ? { origin: r.origin } : {}),
            });
          }
          if (writes.length > 0) await store.putAll(writes);
        }
        if (out.length > 0) context.forward(out);
      },
    };
  };
}

async function collectRecords<K, V>(
  store: WindowStore<K, V>,
  key: K,
  from: number,
  to: number,
): Promise<Array<readonly [number, V]>> {
  const out: Array<readonly [number, V]> = [];
  for await (const entry of store.fetchRange(key, Math.max(0, from), to)) out.push(entry);
  return out;
}

/**
 * The processors of the DSL's joins, with Kafka Streams' semantics
 * (https://kafka.apache.org/documentation/streams/developer-guide/dsl-api.html#joining).
 *
 * Stream-stream (windowed): each side keeps its records in a window store
 * (duplicates kept) for before + after + grace. A record is joined with every
 * record of the other side of the same key whose timestamp is within the
 * join window; each pair is emitted once, by whichever record arrives second,
 * stamped with the larger timestamp. For left/outer joins a record that found
 * no partner is NOT emitted at once (a partner may still come): it waits in a
 * shared "outer" store and is emitted with a null partner when stream time
 * passes its window end + grace, unless a partner arrived meanwhile (KIP-633).
 *
 * Stream-table: a stream record is joined with the table's CURRENT value of
 * its key (one getMany per batch); table updates trigger nothing.
 *
 * Table-table: an update on either side is joined with the other side's
 * current value; the result is the join's new value for the key (null when
 * the join no longer has a value).
 */
import type { Processor, ProcessorContext } from '../../processor/processor.ts';
import type { StreamRecord } from '../../processor/record.ts';
import type { Serde } from '../../serde/serde.ts';
import type { KeyValueStore, StateStore } from '../../state/state-store.ts';
import { readTime, TIME_BYTES, writeTime } from '../../state/window-key-schema.ts';
import type { WindowStore } from '../../state/window-store.ts';
import { DropCounter } from './window-processors.ts';

export type JoinType = 'inner' | 'left' | 'outer';

/** The stream time shared by both sides of one join in one task (Kafka Streams' TimeTracker). */
interface TimeTracker {
  streamTime: number;
}
/** Keyed by the task's own store object, so two tasks (or two apps in one process) never share one. */
const trackers = new WeakMap<StateStore, TimeTracker>();

function trackerFor(store: StateStore, initial: number): TimeTracker {
  let t = trackers.get(store);
  if (t === undefined) trackers.set(store, (t = { streamTime: initial }));
  return t;
}

const LEFT = 0;
const RIGHT = 1;

/** `ts (8) | side (1) | key length (4) | key | seq (4)`: in time order, a matched record's entries are one prefix. */
function outerKey(ts: number, side: number, key: Buffer, seq: number): Buffer {
  const out = Buffer.allocUnsafe(TIME_BYTES + 1 + 4 + key.length + 4);
  writeTime(out, 0, ts);
  out[TIME_BYTES] = side;
  out.writeUInt32BE(key.length, TIME_BYTES + 1);
  key.copy(out, TIME_BYTES + 5);
  out.writeUInt32BE(seq >>> 0, TIME_BYTES + 5 + key.length);
  return out;
}

function outerPrefix(ts: number, side: number, key: Buffer): Buffer {
  return outerKey(ts, side, key, 0).subarray(0, TIME_BYTES + 5 + key.length);
}

export interface StreamStreamJoinSide<K, VThis, VOther, VR> {
  /** This side's buffer. */
  thisStoreName: string;
  otherStoreName: string;
  /** The shared store of not-yet-joined records (left/outer joins only). */
  outerStoreName: string | undefined;
  /** Which side this processor reads: the left (this) stream or the right (other). */
  side: 'left' | 'right';
  /** Other-side records with timestamp in [t - beforeMs, t + afterMs] match, from this side's view. */
  beforeMs: number;
  afterMs: number;
  graceMs: number;
  /** Whether an unmatched record of THIS side is emitted with a null partner. */
  emitUnmatched: boolean;
  /** Whether the other side's unmatched records are emitted too (outer join): they share the outer store. */
  joiner: (thisValue: VThis, otherValue: VOther | null, key: K) => VR;
  /** Emits an unmatched record of the OTHER side (found in the outer store), or undefined when the other side's are not emitted. */
  otherUnmatched: ((otherValue: VOther, key: K) => VR) | undefined;
  keySerde: Serde<K>;
  thisValueSerde: Serde<VThis>;
  otherValueSerde: Serde<VOther>;
  operator: string;
}

export function streamStreamJoinProcessor<K, VThis, VOther, VR>(
  o: StreamStreamJoinSide<K, VThis, VOther, VR>,
): () => Processor<K, VThis, K, VR> {
  return () => {
    let context: ProcessorContext<K, VR>;
    let own: WindowStore<K, VThis>;
    let other: WindowStore<K, VOther>;
    let outer: KeyValueStore<Buffer, Buffer> | undefined;
    let time: TimeTracker;
    let seq = 0;
    const drops = new DropCounter(o.thisStoreName, o.operator);
    const thisSide = o.side === 'left' ? LEFT : RIGHT;
    const otherSide = 1 - thisSide;
    const topic = o.outerStoreName ?? o.thisStoreName;
    return {
      init(ctx) {
        context = ctx;
        own = ctx.getStateStore<WindowStore<K, VThis>>(o.thisStoreName);
        other = ctx.getStateStore<WindowStore<K, VOther>>(o.otherStoreName);
        if (o.outerStoreName !== undefined)
          outer = ctx.getStateStore<KeyValueStore<Buffer, Buffer>>(o.outerStoreName);
        // both sides of the task find the tracker through the left side's buffer
        time = trackerFor(o.side === 'left' ? own : other, Math.max(ctx.currentStreamTimeMs, -1));
        seq = Math.floor(Math.random() * 2 ** 31);
      },
      async process(records) {
        const out: Array<StreamRecord<K, VR>> = [];
        for (const r of records) {
          if (r.key === null || r.key === undefined || r.value === null || r.value === undefined) {
            drops.invalid(context, r);
            continue;
          }
          const t = r.timestamp;
          if (t > time.streamTime) time.streamTime = t;
          // the record's own window (from this side) closed: nothing it could join is kept any more
          if (t + Math.max(o.afterMs, o.beforeMs) + o.graceMs < time.streamTime) {
            drops.late(
              context,
              r,
              `join window of a record at ${t} closed at stream time ${time.streamTime}`,
            );
            continue;
          }
          if (outer !== undefined && t === time.streamTime) await emitExpired(out);
          await own.put(r.key, r.value, t);
          const from = Math.max(0, t - o.beforeMs);
          const to = t + o.afterMs;
          let matched = false;
          const keyBytes = outer !== undefined ? o.keySerde.serialize(topic, r.key)! : undefined;
          for await (const [otherTs, otherValue] of other.fetchRange(r.key, from, to)) {
            matched = true;
            if (outer !== undefined) {
              // the partner was waiting for a match: it has one now
              const prefix = outerPrefix(otherTs, otherSide, keyBytes!);
              const found: Array<readonly [Buffer, null]> = [];
              for await (const [k] of outer.prefixScan(prefix)) found.push([k, null]);
              if (found.length > 0) await outer.putAll(found);
            }
            out.push({
              key: r.key,
              value: o.joiner(r.value, otherValue, r.key),
              timestamp: Math.max(t, otherTs),
              headers: r.headers,
              ...(r.origin ? { origin: r.origin } : {}),
            });
          }
          if (matched || !o.emitUnmatched) continue;
          if (outer === undefined || to < time.streamTime) {
            // an out-of-order record whose window already closed: nothing can join it later (Kafka Streams' rule)
            out.push({
              key: r.key,
              value: o.joiner(r.value, null, r.key),
              timestamp: t,
              headers: r.headers,
              ...(r.origin ? { origin: r.origin } : {}),
            });
          } else {
            const valueBytes = o.thisValueSerde.serialize(topic, r.value) ?? Buffer.alloc(0);
            seq = (seq + 1) >>> 0;
            await outer.put(outerKey(t, thisSide, keyBytes!, seq), valueBytes);
          }
        }
        if (out.length > 0) context.forward(out);
      },
    };

    /** Emits waiting records whose window closed (ts + window end + grace < stream time), in time order. */
    async function emitExpired(out: Array<StreamRecord<K, VR>>): Promise<void> {
      const deletes: Array<readonly [Buffer, null]> = [];
      for await (const [k, v] of outer!.all()) {
        const ts = readTime(k, 0);
        const side = k[TIME_BYTES]!;
        // a left record's window ends `after` later; a right record's window ends `before` later (left's view)
        const leftAfter = o.side === 'left' ? o.afterMs : o.beforeMs;
        const leftBefore = o.side === 'left' ? o.beforeMs : o.afterMs;
        const lookBack = side === LEFT ? leftAfter : leftBefore;
        if (ts + lookBack + o.graceMs >= time.streamTime) break;
        const keyLength = k.readUInt32BE(TIME_BYTES + 1);
        const key = o.keySerde.deserialize(
          topic,
          k.subarray(TIME_BYTES + 5, TIME_BYTES + 5 + keyLength),
        ) as K;
        deletes.push([k, null]);
        if (side === thisSide) {
          const value = o.thisValueSerde.deserialize(topic, v) as VThis;
          out.push({ key, value: o.joiner(value, null, key), timestamp: ts, headers: {} });
        } else if (o.otherUnmatched !== undefined) {
          const value = o.otherValueSerde.deserialize(topic, v) as VOther;
          out.push({ key, value: o.otherUnmatched(value, key), timestamp: ts, headers: {} });
        }
      }
      if (deletes.length > 0) await outer!.putAll(deletes);
    }
  };
}

/** Stream-table join: each stream record with the table's current value of its key. */
export function streamTableJoinProcessor<K, V, VT, VR>(o: {
  tableStoreName: string;
  type: 'inner' | 'left';
  joiner: (value: V, tableValue: VT | null, key: K) => VR;
  /** For a GlobalKTable: the table key of a stream record (default: the record key). */
  keySelector?: (key: K, value: V) => unknown;
  operator: string;
}): () => Processor<K, V, K, VR> {
  return () => {
    let context: ProcessorContext<K, VR>;
    let table: KeyValueStore<unknown, VT>;
    const drops = new DropCounter(o.tableStoreName, o.operator);
    return {
      init(ctx) {
        context = ctx;
        table = ctx.getStateStore<KeyValueStore<unknown, VT>>(o.tableStoreName);
      },
      async process(records) {
        const usable: Array<StreamRecord<K, V>> = [];
        const lookups: unknown[] = [];
        const out: Array<StreamRecord<K, VR>> = [];
        for (const r of records) {
          const tableKey = o.keySelector
            ? r.value === null || r.value === undefined
              ? null
              : o.keySelector(r.key, r.value)
            : r.key;
          if (tableKey === null || tableKey === undefined || r.value === null || r.value === undefined) {
            // no key to look up: a left join still emits the record, an inner join drops it
            if (o.type === 'left' && r.value !== null && r.value !== undefined)
              out.push({ ...r, value: o.joiner(r.value, null, r.key) });
            else drops.invalid(context, r);
            continue;
          }
          usable.push(r);
          lookups.push(tableKey);
        }
        const values = lookups.length > 0 ? await table.getMany(lookups) : [];
        for (let i = 0; i < usable.length; i++) {
          const r = usable[i]!;
          const tableValue = values[i];
          if (tableValue === undefined && o.type === 'inner') continue;
          out.push({ ...r, value: o.joiner(r.value, tableValue ?? null, r.key) });
        }
        if (out.length > 0) context.forward(out);
      },
    };
  };
}

/** One side of a table-table join: its updates joined with the other table's current values. */
export function tableTableJoinProcessor<K, VThis, VOther, VR>(o: {
  otherStoreName: string;
  type: JoinType;
  side: 'left' | 'right';
  /** Always called as (leftValue, rightValue, key). */
  joiner: (left: any, right: any, key: K) => VR;
  operator: string;
}): () => Processor<K, VThis | null, K, VR | null> {
  return () => {
    let context: ProcessorContext<K, VR | null>;
    let other: KeyValueStore<K, VOther>;
    const drops = new DropCounter(o.otherStoreName, o.operator);
    return {
      init(ctx) {
        context = ctx;
        other = ctx.getStateStore<KeyValueStore<K, VOther>>(o.otherStoreName);
      },
      async process(records) {
        const usable = records.filter((r) => {
          if (r.key === null || r.key === undefined) {
            drops.invalid(context, r);
            return false;
          }
          return true;
        });
        if (usable.length === 0) return;
        const others = await other.getMany(usable.map((r) => r.key));
        const out: Array<StreamRecord<K, VR | null>> = [];
        for (let i = 0; i < usable.length; i++) {
          const r = usable[i]!;
          const mine = r.value ?? null;
          const theirs = others[i] ?? null;
          const [left, right] = o.side === 'left' ? [mine, theirs] : [theirs, mine];
          let value: VR | null | undefined;
          if (o.type === 'inner')
            value = left !== null && right !== null ? o.joiner(left, right, r.key) : undefined;
          else if (o.type === 'left') value = left !== null ? o.joiner(left, right, r.key) : undefined;
          else value = left !== null || right !== null ? o.joiner(left, right, r.key) : undefined;
          if (value === undefined) {
            // the join has no value for the key now: emit a delete when the update removed one
            // (this side's update to null while the other side exists, or a left-join left deletion)
            const hadValue =
              mine === null &&
              (o.type === 'inner' ? theirs !== null : o.type === 'left' ? o.side === 'left' : true);
            if (!hadValue) continue;
            value = null;
          }
          out.push({ ...r, value });
        }
        if (out.length > 0) context.forward(out);
      },
    };
  };
}

/**
 * Byte layouts of window and session stores.
 *
 * A windowed entry is identified by `(key, time, suffix)`: for a window store
 * `time` is the window start and the suffix a 4-byte sequence number (0, or a
 * counter when duplicates are kept, as the stream-stream join's stores do);
 * for a session store `time` is the session END and the suffix the 8-byte
 * session start (Kafka Streams' SessionKeySchema segments sessions by end).
 *
 * The changelog key and the "store key" handed between layers are
 * `key | time (8 bytes, big-endian) | suffix` (Kafka Streams'
 * WindowKeySchema.toStoreKeyBinary). Inside a segment every entry is written
 * twice, so that both questions a window store answers are ONE ordered scan:
 *
 *   0x00 | key | time | suffix  -> value    key-first: one key, a time range
 *   0x01 | time | key | suffix  -> (empty)  time-first: one window (or time range), a key range
 *
 * Keys are variable-length and not length-prefixed (so key-range scans keep
 * the key's byte order), which means a key-first scan for key "a" can meet
 * an entry of a longer key that starts with "a"; scans decode and drop those.
 * Times are non-negative ms below 2^53.
 */

export const PRIMARY_TAG = 0x00;
export const INDEX_TAG = 0x01;
export const TIME_BYTES = 8;
export const SEQ_BYTES = 4;
/** Suffix of a window store entry: the 4-byte sequence number. */
export const WINDOW_SUFFIX_BYTES = SEQ_BYTES;
/** Suffix of a session store entry: the 8-byte session start. */
export const SESSION_SUFFIX_BYTES = TIME_BYTES;

const TWO_32 = 2 ** 32;

export function writeTime(out: Buffer, offset: number, time: number): void {
  const t = time < 0 ? 0 : time;
  out.writeUInt32BE(Math.floor(t / TWO_32), offset);
  out.writeUInt32BE(t >>> 0, offset + 4);
}

export function readTime(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

export function timeBytes(time: number): Buffer {
  const out = Buffer.allocUnsafe(TIME_BYTES);
  writeTime(out, 0, time);
  return out;
}

/** `key | time | seq`: the store key (and changelog key) of a window store entry. */
export function windowStoreKey(key: Buffer, windowStart: number, seq: number): Buffer {
  const out = Buffer.allocUnsafe(key.length + TIME_BYTES + SEQ_BYTES);
  key.copy(out, 0);
  writeTime(out, key.length, windowStart);
  out.writeUInt32BE(seq >>> 0, key.length + TIME_BYTES);
  return out;
}

/** `key | end | start`: the store key (and changelog key) of a session. */
export function sessionStoreKey(key: Buffer, startMs: number, endMs: number): Buffer {
  const out = Buffer.allocUnsafe(key.length + 2 * TIME_BYTES);
  key.copy(out, 0);
  writeTime(out, key.length, endMs);
  writeTime(out, key.length + TIME_BYTES, startMs);
  return out;
}

/** The parts of a store key whose suffix is `suffixBytes` long. */
export interface StoreKeyParts {
  key: Buffer;
  time: number;
  suffix: Buffer;
}

export function splitStoreKey(storeKey: Buffer, suffixBytes: number): StoreKeyParts {
  const keyEnd = storeKey.length - TIME_BYTES - suffixBytes;
  if (keyEnd < 0)
    throw new RangeError(
      `a windowed store key must be at least ${TIME_BYTES + suffixBytes} bytes, got ${storeKey.length}`,
    );
  return {
    key: storeKey.subarray(0, keyEnd),
    time: readTime(storeKey, keyEnd),
    suffix: storeKey.subarray(keyEnd + TIME_BYTES),
  };
}

/** `0x00 | key | time | suffix` from a store key (which is `key | time | suffix`). */
export function primaryKeyOf(storeKey: Buffer): Buffer {
  const out = Buffer.allocUnsafe(storeKey.length + 1);
  out[0] = PRIMARY_TAG;
  storeKey.copy(out, 1);
  return out;
}

/** `0x01 | time | key | suffix` from a store key. */
export function indexKeyOf(storeKey: Buffer, suffixBytes: number): Buffer {
  const keyEnd = storeKey.length - TIME_BYTES - suffixBytes;
  const out = Buffer.allocUnsafe(storeKey.length + 1);
  out[0] = INDEX_TAG;
  storeKey.copy(out, 1, keyEnd, keyEnd + TIME_BYTES);
  storeKey.copy(out, 1 + TIME_BYTES, 0, keyEnd);
  storeKey.copy(out, 1 + TIME_BYTES + keyEnd, keyEnd + TIME_BYTES);
  return out;
}

/** The store key (`key | time | suffix`) of an index entry. */
export function storeKeyOfIndex(indexKey: Buffer, suffixBytes: number): Buffer {
  const keyLen = indexKey.length - 1 - TIME_BYTES - suffixBytes;
  const out = Buffer.allocUnsafe(indexKey.length - 1);
  indexKey.copy(out, 0, 1 + TIME_BYTES, 1 + TIME_BYTES + keyLen);
  indexKey.copy(out, keyLen, 1, 1 + TIME_BYTES);
  indexKey.copy(out, keyLen + TIME_BYTES, 1 + TIME_BYTES + keyLen);
  return out;
}

/** Bounds of the key-first entries of `key` with time in [from, to]. */
export function primaryBounds(
  key: Buffer,
  from: number,
  to: number,
  suffixBytes: number,
): { gte: Buffer; lte: Buffer } {
  const gte = Buffer.alloc(1 + key.length + TIME_BYTES + suffixBytes, 0x00);
  gte[0] = PRIMARY_TAG;
  key.copy(gte, 1);
  writeTime(gte, 1 + key.length, from);
  const lte = Buffer.alloc(1 + key.length + TIME_BYTES + suffixBytes, 0xff);
  lte[0] = PRIMARY_TAG;
  key.copy(lte, 1);
  writeTime(lte, 1 + key.length, to);
  return { gte, lte };
}

/** Bounds of the time-first entries with time in [from, to] (and, when from === to, key in [keyFrom, keyTo]). */
export function indexBounds(
  from: number,
  to: number,
  keyFrom: Buffer | undefined,
  keyTo: Buffer | undefined,
): { gte: Buffer; lt?: Buffer; lte?: Buffer } {
  const gte = Buffer.alloc(1 + TIME_BYTES + (from === to && keyFrom ? keyFrom.length : 0));
  gte[0] = INDEX_TAG;
  writeTime(gte, 1, from);
  if (from === to && keyFrom) keyFrom.copy(gte, 1 + TIME_BYTES);
  if (from === to && keyTo) {
    // every suffix of keyTo, and longer keys that start with keyTo (dropped by the key filter)
    const lte = Buffer.alloc(1 + TIME_BYTES + keyTo.length + 1, 0xff);
    lte[0] = INDEX_TAG;
    writeTime(lte, 1, to);
    keyTo.copy(lte, 1 + TIME_BYTES);
    return { gte, lte };
  }
  const lt = Buffer.alloc(1 + TIME_BYTES);
  lt[0] = INDEX_TAG;
  if (to >= Number.MAX_SAFE_INTEGER) return { gte, lt: Buffer.from([INDEX_TAG + 1]) };
  writeTime(lt, 1, to + 1);
  return { gte, lt };
}

/**
 * Key ranges over byte keys, in LevelDB's vocabulary (gte/gt/lte/lt), and the
 * helpers every store layer uses to turn range/prefix queries into them.
 * Keys compare as unsigned bytes (Buffer.compare), the order LevelDB uses.
 */

/** A range of byte keys; absent bounds are open. */
export interface KeyBounds {
  gte?: Buffer;
  gt?: Buffer;
  lte?: Buffer;
  lt?: Buffer;
}

/** The bounds of `range(from, to)`: both inclusive, undefined = open. */
export function rangeBounds(from: Buffer | undefined, to: Buffer | undefined): KeyBounds {
  const bounds: KeyBounds = {};
  if (from !== undefined) bounds.gte = from;
  if (to !== undefined) bounds.lte = to;
  return bounds;
}

/**
 * The smallest key greater than every key starting with `prefix`, or undefined
 * when there is none (the prefix is empty or all 0xff bytes).
 */
export function prefixUpperBound(prefix: Buffer): Buffer | undefined {
  let end = prefix.length;
  // trailing 0xff bytes cannot be incremented: drop them and carry into the byte before
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const upper = Buffer.from(prefix.subarray(0, end));
  upper[end - 1] = upper[end - 1]! + 1;
  return upper;
}

/** The bounds of `prefixScan(prefix)`. */
export function prefixBounds(prefix: Buffer): KeyBounds {
  const bounds: KeyBounds = { gte: prefix };
  const upper = prefixUpperBound(prefix);
  if (upper !== undefined) bounds.lt = upper;
  return bounds;
}

/** True when `key` is at or below the upper bound of `bounds`. */
export function belowUpper(key: Buffer, bounds: KeyBounds): boolean {
  if (bounds.lt !== undefined && compareBytes(key, bounds.lt) >= 0) return false;
  if (bounds.lte !== undefined && compareBytes(key, bounds.lte) > 0) return false;
  return true;
}

/** True when `key` is at or above the lower bound of `bounds`. */
export function aboveLower(key: Buffer, bounds: KeyBounds): boolean {
  if (bounds.gt !== undefined && compareBytes(key, bounds.gt) <= 0) return false;
  if (bounds.gte !== undefined && compareBytes(key, bounds.gte) < 0) return false;
  return true;
}

/** True when the bounds can contain no key at all (lower above upper). */
export function isEmptyRange(bounds: KeyBounds): boolean {
  const lower = bounds.gt ?? bounds.gte;
  const upper = bounds.lt ?? bounds.lte;
  if (lower === undefined || upper === undefined) return false;
  const cmp = compareBytes(lower, upper);
  if (cmp > 0) return true;
  return cmp === 0 && (bounds.gt !== undefined || bounds.lt !== undefined);
}

/** `bounds` narrowed to keys strictly after `after` (used to resume a scan). */
export function boundsAfter(bounds: KeyBounds, after: Buffer | undefined): KeyBounds {
  if (after === undefined) return bounds;
  const { gte: _gte, gt: _gt, ...upper } = bounds;
  return { ...upper, gt: after };
}

/** Below this length a JS loop beats Buffer.compare, whose native call costs ~100 ns. */
const SHORT_KEY_BYTES = 48;

/**
 * Unsigned byte order (LevelDB's): negative when a < b, 0 when equal, positive when a > b.
 * Store keys are short (ids, composite keys), so the common case stays in JS.
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length > SHORT_KEY_BYTES && b.length > SHORT_KEY_BYTES) return Buffer.compare(a, b);
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

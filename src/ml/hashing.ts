/**
 * Feature hashing: categorical values and text tokens are mapped to rows of
 * fixed-size embedding tables with 32-bit FNV-1a, so the model needs no
 * vocabulary file and never meets an "unknown" value (the hashing trick).
 */

/** FNV-1a over the UTF-16 code units of `text`, as an unsigned 32-bit integer. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // final avalanche: FNV's low bits are weak, and we take the hash modulo a power of two
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

/**
 * Row of a categorical value in a table of `rows` rows. The field name salts
 * the hash so that equal values of different fields ("3" as position and "3" as
 * hour) land on different rows.
 */
export function hashField(field: string, value: string | number, rows: number): number {
  return fnv1a(`${field}\u0001${value}`) % rows;
}

/**
 * The hashing tokenizer of the text tower: lower-cases, splits on anything
 * that is not a letter or digit, and maps each token to a row in [1, rows);
 * row 0 is padding. Returns exactly `length` ids (truncated or zero-padded).
 */
export function tokenize(
  text: string,
  rows: number,
  length: number,
  out = new Int32Array(length),
): Int32Array {
  out.fill(0);
  let n = 0;
  for (const token of text.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (token.length === 0) continue;
    if (n >= length) break;
    out[n++] = 1 + (fnv1a(token) % (rows - 1));
  }
  return out;
}

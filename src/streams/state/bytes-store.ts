/**
 * The byte-level store every inner layer implements: the public
 * `KeyValueStore<Buffer, Buffer>` plus `scan` over arbitrary key bounds,
 * which lets a layer resume a scan strictly after a key (range, prefixScan and
 * all are scans with particular bounds).
 */
import type { KeyBounds } from './key-bounds.ts';
import type { BytesKeyValueStore } from './state-store.ts';

export interface BytesStore extends BytesKeyValueStore {
  /** Entries inside `bounds`, in key byte order, including uncommitted writes. */
  scan(bounds: KeyBounds): AsyncIterable<readonly [Buffer, Buffer]>;
}

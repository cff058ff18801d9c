/**
 * Shared helpers of the state store unit tests: temp dirs, a recording
 * changelog collector, a store context, and the two innermost byte stores
 * every layer is tested over (in-memory and LevelDB).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BytesStore } from '../../../../src/streams/state/bytes-store.ts';
import { InMemoryKeyValueStore } from '../../../../src/streams/state/in-memory-store.ts';
import { LevelDbKeyValueStore } from '../../../../src/streams/state/leveldb-store.ts';
import { SharedCacheBudget } from '../../../../src/streams/state/shared-cache-budget.ts';
import type { ChangelogCollector, StateStoreContext } from '../../../../src/streams/state/state-store.ts';

export const b = (text: string): Buffer => Buffer.from(text, 'utf8');

/** A changelog record as the collector saw it; values as strings (null = tombstone). */
export interface SentRecord {
  topic: string;
  partition: number;
  key: string;
  value: string | null;
  timestamp: number;
}

export class RecordingCollector implements ChangelogCollector {
  readonly sent: SentRecord[] = [];
  /** The raw records, for restoring another store from them. */
  readonly raw: Array<{ key: Buffer; value: Buffer | null }> = [];

  send(topic: string, partition: number, key: Buffer, value: Buffer | null, timestamp: number): void {
    this.sent.push({
      topic,
      partition,
      key: key.toString(),
      value: value === null ? null : value.toString(),
      timestamp,
    });
    this.raw.push({ key, value });
  }
}

/** A fresh temp dir; remove it with `rm(dir, { recursive: true, force: true })`. */
export function tempDir(prefix = 'ctr-state-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export function makeContext(overrides: Partial<StateStoreContext> & { taskDir: string }): StateStoreContext {
  return {
    applicationId: 'app',
    taskId: '0_1',
    partition: 1,
    collector: new RecordingCollector(),
    cacheBudget: new SharedCacheBudget(10 * 1024 * 1024),
    ...overrides,
  };
}

/** Collects a scan into [key, value] strings. */
export async function entries(
  iterable: AsyncIterable<readonly [Buffer, Buffer]>,
): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const [k, v] of iterable) out.push([k.toString(), v.toString()]);
  return out;
}

export interface InnerStoreKind {
  kind: 'in-memory' | 'leveldb';
  make(name: string): BytesStore;
}

/** The innermost byte stores; each layer's tests run over both. */
export const INNER_STORES: InnerStoreKind[] = [
  { kind: 'in-memory', make: (name) => new InMemoryKeyValueStore(name) },
  { kind: 'leveldb', make: (name) => new LevelDbKeyValueStore(name) },
];

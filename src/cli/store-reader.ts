/**
 * Reads a key-value store of a STOPPED application from its state directory:
 * `<state.dir>/<application.id>/<task>/<store>`, one LevelDB per task. It
 * opens each task's database through the engine's own LevelDB store (so the
 * on-disk key layout and metadata stay the store's business) and decodes
 * keys and values with the serdes the topology declares for the store, when
 * a topology is given; otherwise keys print as text and values as text or
 * hex.
 *
 * A running application holds LevelDB's lock on its stores: opening then
 * fails with a message that says so (query a running app through its
 * lookup API instead).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  KeyValueStoreBuilder,
  LevelDbKeyValueStore,
  rangeBounds,
  prefixBounds,
  type StateStoreContext,
} from '../streams/state/index.ts';
import type { Serde } from '../streams/serde/index.ts';
import type { Topology } from '../streams/topology/index.ts';
import { CliError } from './errors.ts';

export interface StoreLocation {
  stateDir: string;
  applicationId: string;
  store: string;
  /** Only this task (e.g. `0_3`); default every task that has the store. */
  task?: string;
  /** For serdes; undefined = raw keys and values. */
  topology?: Topology;
}

export interface StoreEntry {
  task: string;
  key: unknown;
  value: unknown;
}

/** The task directories that hold `store`, sorted by task id. @throws CliError CTR_CLI_STORE_NOT_FOUND */
export function taskDirsOf(loc: StoreLocation): Array<{ task: string; dir: string }> {
  const appDir = join(loc.stateDir, loc.applicationId);
  if (!existsSync(appDir))
    throw new CliError(
      'CTR_CLI_STORE_NOT_FOUND',
      `no local state for application "${loc.applicationId}" under ${loc.stateDir} (wrong --state-dir or --application-id?)`,
    );
  const tasks = readdirSync(appDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d+_\d+$/.test(d.name))
    .map((d) => d.name)
    .filter((t) => loc.task === undefined || t === loc.task)
    .filter((t) => existsSync(join(appDir, t, loc.store, 'CURRENT')))
    .sort((a, b) => {
      const [as, ap] = a.split('_').map(Number);
      const [bs, bp] = b.split('_').map(Number);
      return as! - bs! || ap! - bp!;
    });
  if (tasks.length === 0) {
    const known = new Set<string>();
    for (const d of readdirSync(appDir, { withFileTypes: true }))
      if (d.isDirectory())
        for (const s of readdirSync(join(appDir, d.name), { withFileTypes: true }))
          if (s.isDirectory()) known.add(s.name);
    throw new CliError(
      'CTR_CLI_STORE_NOT_FOUND',
      `no key-value store "${loc.store}"${loc.task ? ` in task ${loc.task}` : ''} under ${appDir} (stores found: ${[...known].sort().join(', ') || 'none'})`,
      { store: loc.store },
    );
  }
  return tasks.map((task) => ({ task, dir: join(appDir, task) }));
}

function serdesOf(loc: StoreLocation): { key?: Serde<unknown>; value?: Serde<unknown> } {
  const builder = loc.topology?.storeBuilder(loc.store);
  if (builder instanceof KeyValueStoreBuilder)
    return { key: builder.keySerde as Serde<unknown>, value: builder.valueSerde as Serde<unknown> };
  return {};
}

async function openTask(loc: StoreLocation, task: string, dir: string): Promise<LevelDbKeyValueStore> {
  const store = new LevelDbKeyValueStore(loc.store);
  // the persistent layer reads only the task id and directory from its context; the
  // collector and cache budget belong to the layers above, which a reader does not stack
  const context = {
    applicationId: loc.applicationId,
    taskId: task,
    partition: Number(task.split('_')[1]),
    taskDir: dir,
  } as StateStoreContext;
  try {
    await store.init(context);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'CTR_STORE_LOCKED')
      throw new CliError(
        'CTR_CLI_FAILED',
        `store "${loc.store}" of task ${task} is open in a running application (stop it, or query it through its lookup API)`,
        { cause: error, store: loc.store, taskId: task },
      );
    throw error;
  }
  return store;
}

export class StoreReader {
  private readonly key: Serde<unknown> | undefined;
  private readonly value: Serde<unknown> | undefined;
  /** The topic name handed to serdes: the store's changelog, as the engine's metered layer does. */
  private readonly serdeTopic: string;

  constructor(private readonly loc: StoreLocation) {
    const s = serdesOf(loc);
    this.key = s.key;
    this.value = s.value;
    this.serdeTopic = `${loc.applicationId}-${loc.store}-changelog`;
  }

  private encodeKey(key: string): Buffer {
    if (!this.key) return Buffer.from(key, 'utf8');
    let typed: unknown = key;
    if (this.key.name !== 'string') {
      try {
        typed = JSON.parse(key);
      } catch {
        typed = key;
      }
    }
    const bytes = this.key.serialize(this.serdeTopic, typed);
    if (bytes === null)
      throw new CliError('CTR_CLI_USAGE', `key "${key}" serializes to null with serde ${this.key.name}`);
    return bytes;
  }

  private decode(which: 'key' | 'value', bytes: Buffer): unknown {
    const serde = which === 'key' ? this.key : this.value;
    if (serde) return serde.deserialize(this.serdeTopic, bytes);
    const text = bytes.toString('utf8');
    // printable UTF-8 prints as text; anything else as hex, which round-trips
    return /^[\x20-\x7e\u00a0-\uffff\t\n\r]*$/.test(text) && !text.includes('\ufffd')
      ? text
      : `0x${bytes.toString('hex')}`;
  }

  private async *entries(bounds: ReturnType<typeof rangeBounds>): AsyncGenerator<StoreEntry> {
    for (const { task, dir } of taskDirsOf(this.loc)) {
      const store = await openTask(this.loc, task, dir);
      try {
        for await (const [k, v] of store.scan(bounds))
          yield { task, key: this.decode('key', k), value: this.decode('value', v) };
      } finally {
        await store.close();
      }
    }
  }

  /** The value of `key` in every task that has it (keys are partitioned, so normally one). */
  async get(key: string): Promise<StoreEntry[]> {
    const bytes = this.encodeKey(key);
    const out: StoreEntry[] = [];
    for (const { task, dir } of taskDirsOf(this.loc)) {
      const store = await openTask(this.loc, task, dir);
      try {
        const v = await store.get(bytes);
        if (v !== undefined)
          out.push({ task, key: this.decode('key', bytes), value: this.decode('value', v) });
      } finally {
        await store.close();
      }
    }
    return out;
  }

  /** Entries in key byte order per task; `from`/`to` inclusive, or a key prefix (raw bytes of the key's text). */
  scan(o: { from?: string; to?: string; prefix?: string } = {}): AsyncGenerator<StoreEntry> {
    const bounds =
      o.prefix !== undefined
        ? prefixBounds(Buffer.from(o.prefix, 'utf8'))
        : rangeBounds(
            o.from === undefined ? undefined : this.encodeKey(o.from),
            o.to === undefined ? undefined : this.encodeKey(o.to),
          );
    return this.entries(bounds);
  }

  /** Exact count of entries per task (a full scan: LevelDB has no exact count). */
  async count(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const { task, dir } of taskDirsOf(this.loc)) {
      const store = await openTask(this.loc, task, dir);
      let n = 0;
      try {
        for await (const _ of store.scan({})) n++;
      } finally {
        await store.close();
      }
      out.set(task, n);
    }
    return out;
  }
}

/** JSON for any decoded value: Buffers as base64, typed arrays as arrays, bigints as strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (
      v &&
      typeof v === 'object' &&
      (v as { type?: string }).type === 'Buffer' &&
      Array.isArray((v as { data?: unknown }).data)
    )
      return Buffer.from((v as { data: number[] }).data).toString('base64');
    if (ArrayBuffer.isView(v) && !(v instanceof DataView))
      return Array.from(v as unknown as ArrayLike<number>);
    return v;
  });
}

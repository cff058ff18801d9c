/**
 * An undo journal of the store writes one processor makes while it runs one
 * attempt at a batch, so that a failed attempt can be taken back before the
 * batch is re-run record by record (poison-record isolation, see
 * ProcessorNode). Each write through a journaled store first reads the value
 * it replaces; `rollback()` writes those values back, newest first.
 *
 * Why undo rather than a write buffer: reads (get, range scans, window
 * fetches) go straight to the store and see the attempt's own writes with no
 * merging, and a successful batch (the common case) costs only the reads of
 * the replaced values, which the store's cache usually answers.
 *
 * The undo writes go through the whole store stack: with a cache they simply
 * overwrite the dirty entries; without one the changelog receives the
 * attempt's values followed by the restored ones, so it still ends at the
 * right value. What is not undone: a window store's observed stream time,
 * and anything outside the task's stores.
 */
import { MeteredKeyValueStore } from '../state/metered-store.ts';
import { MeteredSessionStore } from '../state/session-store.ts';
import type { StateStore } from '../state/state-store.ts';
import type { Windowed } from '../state/window-store.ts';
import { MeteredWindowStore } from '../state/window-metered-store.ts';

type Undo = () => Promise<void>;

export class StoreJournal {
  private undos: Undo[] = [];
  private active = false;

  /** True between `begin()` and `discard()`/`rollback()`: writes are journaled. */
  get recording(): boolean {
    return this.active;
  }

  /** Starts journaling an attempt (forgets any previous one). */
  begin(): void {
    this.undos = [];
    this.active = true;
  }

  /** The attempt succeeded: keep its writes. */
  discard(): void {
    this.undos = [];
    this.active = false;
  }

  /**
   * The attempt failed: restores every value it replaced, newest first.
   * @throws whatever a store throws; the task must then fail (its stores are in an unknown state).
   */
  async rollback(): Promise<void> {
    this.active = false;
    const undos = this.undos;
    this.undos = [];
    for (let i = undos.length - 1; i >= 0; i--) await undos[i]!();
  }

  /** @internal called by the journaled store views, only while recording. */
  push(undo: Undo): void {
    this.undos.push(undo);
  }
}

/**
 * A view of `store` whose writes are journaled in `journal` while it
 * records (and pass straight through otherwise); every other member is the
 * store's own. Undefined when the store's writes cannot be undone: a store
 * type this module does not know (a custom StateStore), or a window store
 * that retains duplicates (a put adds an entry that no write can single out).
 */
export function journaledStore(store: StateStore, journal: StoreJournal): StateStore | undefined {
  let writes: Record<string, (...args: any[]) => Promise<unknown>>;
  if (store instanceof MeteredKeyValueStore) writes = keyValueWrites(store, journal);
  else if (store instanceof MeteredWindowStore) {
    if (store.retainDuplicates) return undefined;
    writes = windowWrites(store, journal);
  } else if (store instanceof MeteredSessionStore) writes = sessionWrites(store, journal);
  else return undefined;
  return new Proxy(store, {
    get(target, property) {
      if (typeof property === 'string' && Object.hasOwn(writes, property)) return writes[property];
      const member: unknown = Reflect.get(target, property, target);
      // bound to the store itself: its own internal calls (put -> putAll) must not be journaled twice
      return typeof member === 'function' ? (member as (...a: unknown[]) => unknown).bind(target) : member;
    },
  });
}

function keyValueWrites<K, V>(store: MeteredKeyValueStore<K, V>, journal: StoreJournal) {
  const restore = (keys: readonly K[], priors: ReadonlyArray<V | undefined>): Undo => {
    return () => store.putAll(keys.map((k, i) => [k, priors[i] ?? null] as const));
  };
  return {
    async put(key: K, value: V | null): Promise<void> {
      if (journal.recording) journal.push(restore([key], [await store.get(key)]));
      await store.put(key, value);
    },
    async putAll(entries: ReadonlyArray<readonly [K, V | null]>): Promise<void> {
      if (journal.recording && entries.length > 0) {
        const keys = entries.map(([k]) => k);
        // priors read before any write: a key written twice restores its value from before the call
        journal.push(restore(keys, await store.getMany(keys)));
      }
      await store.putAll(entries);
    },
    async delete(key: K): Promise<V | undefined> {
      const prior = await store.delete(key);
      if (journal.recording && prior !== undefined) journal.push(restore([key], [prior]));
      return prior;
    },
  };
}

function windowWrites<K, V>(store: MeteredWindowStore<K, V>, journal: StoreJournal) {
  const journalWindows = async (windows: ReadonlyArray<readonly [K, number]>): Promise<void> => {
    const priors = await store.fetchMany(windows);
    journal.push(() => store.putAll(windows.map(([k, start], i) => [k, priors[i] ?? null, start] as const)));
  };
  return {
    async put(key: K, value: V | null, windowStartMs: number): Promise<void> {
      if (journal.recording) await journalWindows([[key, windowStartMs]]);
      await store.put(key, value, windowStartMs);
    },
    async putAll(entries: ReadonlyArray<readonly [K, V | null, number]>): Promise<void> {
      if (journal.recording && entries.length > 0)
        await journalWindows(entries.map(([k, , start]) => [k, start] as const));
      await store.putAll(entries);
    },
  };
}

function sessionWrites<K, V>(store: MeteredSessionStore<K, V>, journal: StoreJournal) {
  const journalSessions = async (sessions: ReadonlyArray<Windowed<K>>): Promise<void> => {
    const priors: Array<V | undefined> = [];
    for (const s of sessions) priors.push(await store.fetchSession(s.key, s.window.startMs, s.window.endMs));
    journal.push(() => store.putAll(sessions.map((s, i) => [s, priors[i] ?? null] as const)));
  };
  return {
    async put(session: Windowed<K>, value: V | null): Promise<void> {
      if (journal.recording) await journalSessions([session]);
      await store.put(session, value);
    },
    async putAll(entries: ReadonlyArray<readonly [Windowed<K>, V | null]>): Promise<void> {
      if (journal.recording && entries.length > 0) await journalSessions(entries.map(([s]) => s));
      await store.putAll(entries);
    },
    async remove(session: Windowed<K>): Promise<void> {
      if (journal.recording) await journalSessions([session]);
      await store.remove(session);
    },
  };
}

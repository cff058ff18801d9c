/**
 * Window store benchmark: a LevelDB window store (segmented, key-first +
 * time-first layouts) holding BENCH_ENTRIES windows (default 1,000,000:
 * 1,000 keys x 1,000 one-second windows), then
 *
 *  - fetchRange: one key, a time range of RANGE_WINDOWS windows (default 10),
 *    random key and start: the stream-stream join's and the engagement
 *    counters' question. Average and p50/p99 latency per call.
 *  - fetchKeyRange: one window, a key range of 20 keys (the time-first index).
 *  - fetch: one (key, window) by point lookup.
 *  - put: putAll of 1,000 windows + commit per batch (while loading).
 *
 *   node --import tsx bench/window-store.ts
 *   BENCH_ENTRIES=200000 node --import tsx bench/window-store.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringSerde } from '../src/streams/serde/string-serde.ts';
import { SharedCacheBudget } from '../src/streams/state/shared-cache-budget.ts';
import type { StateStoreContext } from '../src/streams/state/state-store.ts';
import { WindowStores } from '../src/streams/state/window-store-builder.ts';

const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 1_000_000);
const KEYS = 1_000;
const WINDOWS = Math.ceil(ENTRIES / KEYS);
const SIZE_MS = 1_000;
const RANGE_WINDOWS = Number(process.env.RANGE_WINDOWS ?? 10);
const CALLS = 10_000;
const BATCH = 1_000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ctr-window-bench-'));
  const store = WindowStores.windowStoreBuilder('bench-windows', stringSerde, stringSerde, {
    retentionMs: WINDOWS * SIZE_MS * 2,
    windowSizeMs: SIZE_MS,
  })
    .withLoggingDisabled()
    .build();
  const context: StateStoreContext = {
    applicationId: 'bench',
    taskId: '0_0',
    partition: 0,
    taskDir: dir,
    collector: { send() {} },
    cacheBudget: new SharedCacheBudget(10 * 1024 * 1024),
  };
  await store.init(context);
  const rows: Array<[string, string, string]> = [];
  try {
    // load: window-major, as a stream would write them (time goes forward)
    const loadStart = performance.now();
    let written = 0;
    let offset = 0;
    for (let w = 0; w < WINDOWS && written < ENTRIES; w++) {
      for (let k0 = 0; k0 < KEYS && written < ENTRIES; k0 += BATCH) {
        const batch: Array<readonly [string, string, number]> = [];
        for (let k = k0; k < Math.min(KEYS, k0 + BATCH) && written < ENTRIES; k++, written++)
          batch.push([`item-${String(k).padStart(6, '0')}`, `count=${w}:${k}`, w * SIZE_MS]);
        await store.putAll(batch);
        await store.commit(String((offset += batch.length)));
      }
    }
    const loadS = (performance.now() - loadStart) / 1000;
    rows.push([
      'put (putAll 1,000 + commit)',
      `${Math.round(written / loadS).toLocaleString('en-US')} windows/s`,
      `${written.toLocaleString('en-US')} windows in ${loadS.toFixed(1)} s`,
    ]);

    const measure = async (name: string, call: () => Promise<number>): Promise<void> => {
      const times: number[] = [];
      let results = 0;
      for (let i = 0; i < CALLS; i++) {
        const t0 = performance.now();
        results += await call();
        times.push(performance.now() - t0);
      }
      const avg = times.reduce((a, b) => a + b, 0) / times.length;
      times.sort((a, b) => a - b);
      rows.push([
        name,
        `avg ${(avg * 1000).toFixed(0)} us`,
        `p50 ${(percentile(times, 50) * 1000).toFixed(0)} us, p99 ${(percentile(times, 99) * 1000).toFixed(0)} us, ${(results / CALLS).toFixed(1)} windows/call`,
      ]);
    };
    const randomKey = (): string => `item-${String(Math.floor(Math.random() * KEYS)).padStart(6, '0')}`;

    await measure(`fetchRange (1 key, ${RANGE_WINDOWS} windows)`, async () => {
      const from = Math.floor(Math.random() * (WINDOWS - RANGE_WINDOWS)) * SIZE_MS;
      let n = 0;
      for await (const _ of store.fetchRange(randomKey(), from, from + (RANGE_WINDOWS - 1) * SIZE_MS)) n++;
      return n;
    });
    await measure('fetch (1 key, 1 window)', async () => {
      const v = await store.fetch(randomKey(), Math.floor(Math.random() * WINDOWS) * SIZE_MS);
      return v === undefined ? 0 : 1;
    });
    await measure('fetchKeyRange (20 keys, 1 window)', async () => {
      const k = Math.floor(Math.random() * (KEYS - 20));
      const w = Math.floor(Math.random() * WINDOWS) * SIZE_MS;
      let n = 0;
      for await (const _ of store.fetchKeyRange(
        `item-${String(k).padStart(6, '0')}`,
        `item-${String(k + 19).padStart(6, '0')}`,
        w,
        w,
      ))
        n++;
      return n;
    });
    console.log(
      `\nwindow store benchmark: ${written.toLocaleString('en-US')} windows (${KEYS} keys x ${WINDOWS} windows of ${SIZE_MS} ms), LevelDB (classic-level), ${CALLS.toLocaleString('en-US')} calls per query`,
    );
    console.log(
      `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}, node ${process.version}\n`,
    );
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

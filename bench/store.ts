/**
 * State store benchmark: throughput of the LevelDB store (the persistent
 * layer, bytes in and out) for put / get / range, and the restore rate
 * (records/s through restoreBatch) that issue [engine-core] asks for.
 *
 *   node --import tsx bench/store.ts              # 1,000,000 entries of ~200 bytes, batches of 500
 *   BENCH_ENTRIES=200000 node --import tsx bench/store.ts
 *   BENCH_WRITE_BUFFER_MB=16 node --import tsx bench/store.ts   # LevelDB memtable size (default 4 MiB)
 *
 * Each phase runs on the same data set in a temp dir (removed at the end):
 *  - put:          putAll(500 entries) + commit(position) per batch: one LevelDB batch per 500 records
 *  - put (stack):  the same through metered -> caching -> change-logging -> LevelDB (changelog to a no-op collector)
 *  - get:          getMany of 500 random keys per call (one LevelDB getMany)
 *  - get (single): one random key per call
 *  - range:        all() over every entry; range(from, to) of 500 keys from a random start
 *  - restore:      restoreBatch(500 records, next offset) into an empty store
 *  - hot keys:     1,000,000 writes over 10,000 keys with and without the cache, a commit every
 *                  50,000 writes: throughput and how many changelog records reach the collector
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, readdir, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { LevelDbKeyValueStore } from '../src/streams/state/leveldb-store.ts';
import { SharedCacheBudget } from '../src/streams/state/shared-cache-budget.ts';
import { Stores } from '../src/streams/state/stores.ts';
import { bytesSerde } from '../src/streams/serde/bytes-serde.ts';
import type { StateStoreContext } from '../src/streams/state/state-store.ts';

const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 1_000_000);
const BATCH = 500;
const VALUE_BYTES = 200;
const GET_SINGLE = Math.min(ENTRIES, 100_000);
const RANGE_CALLS = 2_000;
const WRITE_BUFFER_MB = Number(process.env.BENCH_WRITE_BUFFER_MB ?? 4);
const levelOptions = { writeBufferSize: WRITE_BUFFER_MB * 1024 * 1024 };

interface Row {
  phase: string;
  records: number;
  seconds: number;
  bytes: number;
}
const rows: Row[] = [];

function record(phase: string, records: number, startNs: bigint, bytesPerRecord: number): void {
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  rows.push({ phase, records, seconds, bytes: records * bytesPerRecord });
  process.stderr.write(`  ${phase}: ${Math.round(records / seconds).toLocaleString('en-US')} records/s\n`);
}

function key(i: number): Buffer {
  return Buffer.from(`item-${i.toString().padStart(9, '0')}`);
}

/** Deterministic shuffle (xorshift), so runs compare. */
function shuffled(n: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let s = 0x9e3779b9;
  for (let i = n - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

async function dirBytes(path: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(path)) total += (await stat(join(path, name))).size;
  return total;
}

function context(taskDir: string): StateStoreContext {
  return {
    applicationId: 'bench',
    taskId: '0_0',
    partition: 0,
    taskDir,
    collector: { send() {} },
    cacheBudget: new SharedCacheBudget(64 * 1024 * 1024),
  };
}

const root = await mkdtemp(join(tmpdir(), 'ctr-bench-store-'));
try {
  // ~200-byte values: slices of a random pool (incompressible, like embeddings), all distinct
  const pool = randomBytes(1 << 20);
  const value = (i: number): Buffer =>
    pool.subarray(
      (i * 7919) % (pool.length - VALUE_BYTES),
      ((i * 7919) % (pool.length - VALUE_BYTES)) + VALUE_BYTES,
    );
  const keyBytes = key(0).length;
  const recordBytes = keyBytes + VALUE_BYTES;
  const order = shuffled(ENTRIES);
  process.stderr.write(
    `store bench: ${ENTRIES.toLocaleString('en-US')} entries of ${recordBytes} bytes, batches of ${BATCH}, in ${root}\n`,
  );

  // ---- put --------------------------------------------------------------------------------
  const store = new LevelDbKeyValueStore('bench', levelOptions);
  await store.init(context(join(root, 'a')));
  let start = process.hrtime.bigint();
  for (let offset = 0; offset < ENTRIES; offset += BATCH) {
    const batch: Array<readonly [Buffer, Buffer]> = [];
    for (let i = offset; i < Math.min(offset + BATCH, ENTRIES); i++)
      batch.push([key(order[i]!), value(order[i]!)]);
    await store.putAll(batch);
    await store.commit(String(offset + batch.length));
  }
  record('put: putAll(500) + commit', ENTRIES, start, recordBytes);

  // ---- get --------------------------------------------------------------------------------
  start = process.hrtime.bigint();
  for (let offset = 0; offset < ENTRIES; offset += BATCH) {
    const keys: Buffer[] = [];
    for (let i = offset; i < Math.min(offset + BATCH, ENTRIES); i++)
      keys.push(key(order[(i * 31) % ENTRIES]!));
    const values = await store.getMany(keys);
    if (values[0] === undefined) throw new Error('bench: a key written above is missing');
  }
  record('get: getMany(500 random keys)', ENTRIES, start, recordBytes);

  start = process.hrtime.bigint();
  for (let i = 0; i < GET_SINGLE; i++) {
    if ((await store.get(key(order[(i * 17) % ENTRIES]!))) === undefined)
      throw new Error('bench: missing key');
  }
  record('get: get(1 random key)', GET_SINGLE, start, recordBytes);

  // ---- range ------------------------------------------------------------------------------
  start = process.hrtime.bigint();
  let scanned = 0;
  for await (const _ of store.all()) scanned++;
  if (scanned !== ENTRIES) throw new Error(`bench: all() returned ${scanned} of ${ENTRIES}`);
  record('range: all() over every entry', scanned, start, recordBytes);

  start = process.hrtime.bigint();
  let ranged = 0;
  for (let c = 0; c < RANGE_CALLS; c++) {
    const from = (c * 7919) % Math.max(1, ENTRIES - BATCH);
    for await (const _ of store.range(key(from), key(from + BATCH - 1))) ranged++;
  }
  record(`range: range() of 500 keys x ${RANGE_CALLS}`, ranged, start, recordBytes);
  const diskBytes = await dirBytes(join(root, 'a', 'bench'));

  // ---- restore ----------------------------------------------------------------------------
  // the records a changelog would hold, grouped as the restorer hands them over
  const restored = new LevelDbKeyValueStore('bench', levelOptions);
  await restored.init(context(join(root, 'b')));
  start = process.hrtime.bigint();
  for (let offset = 0; offset < ENTRIES; offset += BATCH) {
    const batch: Array<{ key: Buffer; value: Buffer | null }> = [];
    for (let i = offset; i < Math.min(offset + BATCH, ENTRIES); i++)
      batch.push({ key: key(order[i]!), value: value(order[i]!) });
    await restored.restoreBatch(batch, String(offset + batch.length));
  }
  record('restore: restoreBatch(500)', ENTRIES, start, recordBytes);
  if ((await restored.committedPosition()) !== String(ENTRIES))
    throw new Error('bench: restore position wrong');
  await restored.close();
  await store.close();

  // ---- put through the whole stack ----------------------------------------------------------
  const stackEntries = Math.min(ENTRIES, 200_000);
  const stacked = Stores.keyValueStoreBuilder(
    Stores.persistentKeyValueStore('stacked', levelOptions),
    bytesSerde,
    bytesSerde,
  )
    .withCachingEnabled()
    .build();
  await stacked.init(context(join(root, 'c')));
  start = process.hrtime.bigint();
  let logged = 0;
  for (let offset = 0; offset < stackEntries; offset += BATCH) {
    const batch: Array<readonly [Buffer, Buffer]> = [];
    for (let i = offset; i < Math.min(offset + BATCH, stackEntries); i++)
      batch.push([key(order[i]!), value(order[i]!)]);
    await stacked.putAll(batch);
    await stacked.flush();
    logged += batch.length;
    await stacked.commit(String(logged));
  }
  record('put (metered+cache+changelog): putAll(500)+flush+commit', stackEntries, start, recordBytes);
  await stacked.close();

  // ---- hot keys: what the cache's coalescing saves ----------------------------------------------
  // 1,000,000 writes over 10,000 keys, a commit every 50,000 writes (a commit interval's worth)
  const hotWrites = Math.min(ENTRIES, 1_000_000);
  const hotKeys = Math.min(10_000, ENTRIES);
  const commitEvery = 50_000;
  for (const caching of [true, false]) {
    let changelogRecords = 0;
    const builder = Stores.keyValueStoreBuilder(
      Stores.persistentKeyValueStore(caching ? 'hot-cached' : 'hot-uncached', levelOptions),
      bytesSerde,
      bytesSerde,
    );
    const hot = (caching ? builder.withCachingEnabled() : builder).build();
    await hot.init({ ...context(join(root, 'd')), collector: { send: () => void changelogRecords++ } });
    start = process.hrtime.bigint();
    for (let offset = 0; offset < hotWrites; offset += BATCH) {
      const batch: Array<readonly [Buffer, Buffer]> = [];
      for (let i = offset; i < offset + BATCH; i++) batch.push([key(order[i % hotKeys]!), value(i)]);
      await hot.putAll(batch);
      if ((offset + BATCH) % commitEvery === 0) {
        await hot.flush();
        await hot.commit(String(changelogRecords));
      }
    }
    await hot.flush();
    await hot.commit(String(changelogRecords));
    record(
      `hot keys ${caching ? 'cached' : 'uncached'}: ${hotWrites.toLocaleString('en-US')} writes / ${hotKeys.toLocaleString('en-US')} keys -> ${changelogRecords.toLocaleString('en-US')} changelog records`,
      hotWrites,
      start,
      recordBytes,
    );
    await hot.close();
  }

  // ---- table --------------------------------------------------------------------------------
  const require = createRequire(import.meta.url);
  const levelVersion = (require('classic-level/package.json') as { version: string }).version;
  const cpu = cpus();
  console.log('');
  console.log(
    `LevelDB store benchmark: classic-level ${levelVersion} (LevelDB), Node ${process.version}, ${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
  );
  console.log(
    `${ENTRIES.toLocaleString('en-US')} entries, key ${keyBytes} B + value ${VALUE_BYTES} B, batches of ${BATCH}, LevelDB write buffer ${WRITE_BUFFER_MB} MiB; on-disk size ${(diskBytes / 2 ** 20).toFixed(0)} MiB; load average at end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log('');
  const header = ['phase', 'records', 'seconds', 'records/s', 'MB/s'];
  const lines = rows.map((r) => [
    r.phase,
    r.records.toLocaleString('en-US'),
    r.seconds.toFixed(2),
    Math.round(r.records / r.seconds).toLocaleString('en-US'),
    (r.bytes / r.seconds / 1e6).toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) =>
    '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  console.log(fmt(header));
  console.log(
    '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|',
  );
  for (const l of lines) console.log(fmt(l));
} finally {
  await rm(root, { recursive: true, force: true });
}

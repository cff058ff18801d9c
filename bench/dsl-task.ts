/**
 * StreamTask throughput of DSL topologies, in-process (no broker): what the
 * engine itself costs per record, and what micro-batching buys.
 *
 *   node --import tsx bench/dsl-task.ts [--records 200000] [--keys 1000]
 *
 * Topologies: (a) stateless: filter -> mapValues -> selectKey -> sink;
 * (b) count: groupByKey().count() into an in-memory store (caching on, logged);
 * (c) the same count into a LevelDB store. Each runs with fetch batches of
 * 1, 10, 100 and 1000 records through the same StreamTask the runtime uses,
 * with a collector that only counts (no Kafka). Commits every 10,000 records.
 * Prints records/s per topology and batch size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RawRecord } from '../src/streams/processor/index.ts';
import { StreamTask } from '../src/streams/processor/index.ts';
import { stringSerde } from '../src/streams/serde/index.ts';
import { SharedCacheBudget } from '../src/streams/state/index.ts';
import {
  Consumed,
  countSerde,
  Materialized,
  Produced,
  StreamsBuilder,
  type Topology,
} from '../src/streams/topology/index.ts';
import { arg } from './support/args.ts';
import { CountingCollector } from './support/counting-collector.ts';

const RECORDS = Number(arg('records', '200000'));
const KEYS = Number(arg('keys', '1000'));
const BATCHES = [1, 10, 100, 1000];

function stateless(): Topology {
  const b = new StreamsBuilder();
  b.stream('in', Consumed.with(stringSerde, stringSerde))
    .filter((_k, v) => v.length > 3)
    .mapValues((v) => v.toUpperCase())
    .selectKey((k) => k + '!')
    .to('out', Produced.with(stringSerde, stringSerde));
  return b.build();
}

function count(storeType: 'in-memory' | 'persistent'): Topology {
  const b = new StreamsBuilder();
  b.stream('in', Consumed.with(stringSerde, stringSerde))
    .groupByKey()
    .count(Materialized.as<string, number>('counts').withStoreType(storeType))
    .toStream()
    .to('out', Produced.with(stringSerde, countSerde));
  return b.build();
}

const input: RawRecord[] = Array.from({ length: RECORDS }, (_, i) => ({
  key: Buffer.from(`item-${i % KEYS}`),
  value: Buffer.from(`value-${i}`),
  timestamp: 1_700_000_000_000 + i,
  headers: {},
  topic: 'in',
  partition: 0,
  offset: String(i),
}));

async function run(topology: Topology, batch: number): Promise<{ rps: number; sent: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-dsl-'));
  const collector = new CountingCollector();
  const task = new StreamTask({
    applicationId: 'bench',
    topology: topology.subtopology(0, 'bench'),
    partition: 0,
    collector,
    appStateDir: dir,
    cacheBudget: new SharedCacheBudget(64 * 1024 * 1024),
  });
  await task.initialize();
  await task.completeRestoration();
  const start = performance.now();
  let sinceCommit = 0;
  for (let i = 0; i < input.length; i += batch) {
    const chunk = input.slice(i, i + batch);
    await task.process(chunk);
    sinceCommit += chunk.length;
    if (sinceCommit >= 10_000) {
      await task.commit();
      sinceCommit = 0;
    }
  }
  await task.commit();
  const seconds = (performance.now() - start) / 1000;
  await task.closeClean();
  rmSync(dir, { recursive: true, force: true });
  return { rps: RECORDS / seconds, sent: collector.sent };
}

async function main(): Promise<void> {
  console.log(
    `StreamTask DSL throughput: ${RECORDS} records, ${KEYS} keys, node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
  );
  const rows: Array<Record<string, string>> = [];
  const cases: Array<[string, () => Topology]> = [
    ['stateless (filter/mapValues/selectKey)', stateless],
    ['count, in-memory store', () => count('in-memory')],
    ['count, LevelDB store', () => count('persistent')],
  ];
  for (const [name, make] of cases) {
    const row: Record<string, string> = { topology: name };
    for (const batch of BATCHES) {
      const { rps, sent } = await run(make(), batch);
      row[`batch ${batch}`] = `${Math.round(rps).toLocaleString('en-US')} rec/s`;
      row[`sent@${batch}`] = String(sent);
    }
    rows.push(row);
  }
  console.table(
    rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith('sent@')))),
  );
  console.table(
    rows.map((r) =>
      Object.fromEntries(Object.entries(r).filter(([k]) => k === 'topology' || k.startsWith('sent@'))),
    ),
  );
}

await main();

/**
 * What poison-record isolation costs a StreamTask, in-process (no broker):
 * the undo journal on every batch (one extra store read per write), and the
 * record-by-record replay of a batch that holds a poison record.
 *
 *   node --import tsx bench/poison-isolation.ts [--records 200000] [--keys 1000] [--batch 1000]
 *
 * Topology: groupByKey().aggregate() (a count whose aggregator throws on a
 * poison value) into an in-memory store or a LevelDB store, caching on,
 * logged, through the StreamTask the runtime uses, with a collector that only
 * counts. Modes: `off` (no processing handler: no journal), `journal` (a
 * log-and-continue handler: every batch journaled, no poison), `1 poison per
 * batch` (journal + one poison record in every batch: each batch is replayed
 * record by record). Commits every 10,000 records. Prints records/s.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { exceptionHandlersFromConfig } from '../src/streams/errors-handling/index.ts';
import type { RawRecord, TaskExceptionHandlers } from '../src/streams/processor/index.ts';
import { StreamTask } from '../src/streams/processor/index.ts';
import { stringSerde } from '../src/streams/serde/index.ts';
import { SharedCacheBudget } from '../src/streams/state/index.ts';
import { Consumed, countSerde, Materialized, StreamsBuilder } from '../src/streams/topology/index.ts';
import { arg } from './support/args.ts';
import { CountingCollector } from './support/counting-collector.ts';

const RECORDS = Number(arg('records', '200000'));
const KEYS = Number(arg('keys', '1000'));
const BATCH = Number(arg('batch', '1000'));

async function run(
  persistent: boolean,
  handlers: TaskExceptionHandlers | undefined,
  poisonPerBatch: boolean,
) {
  const builder = new StreamsBuilder();
  builder
    .stream('in', Consumed.with(stringSerde, stringSerde))
    .groupByKey()
    .aggregate(
      () => 0,
      (_k, v: string, total: number) => {
        if (v === 'poison') throw new Error('poison');
        return total + 1;
      },
      Materialized.as<string, number>('totals')
        .withValueSerde(countSerde)
        .withStoreType(persistent ? 'persistent' : 'in-memory'),
    );
  const dir = mkdtempSync(join(tmpdir(), 'bench-poison-'));
  const task = new StreamTask({
    applicationId: 'bench',
    topology: builder.build().subtopology(0, 'bench'),
    partition: 0,
    collector: new CountingCollector(),
    appStateDir: dir,
    cacheBudget: new SharedCacheBudget(10 * 1024 * 1024),
    ...(handlers ? { handlers } : {}),
  });
  await task.initialize();
  await task.completeRestoration();
  const records: RawRecord[] = [];
  for (let i = 0; i < RECORDS; i++) {
    const poison = poisonPerBatch && i % BATCH === BATCH / 2;
    records.push({
      key: Buffer.from(`user-${i % KEYS}`),
      value: Buffer.from(poison ? 'poison' : 'v'),
      timestamp: i,
      headers: {},
      topic: 'in',
      partition: 0,
      offset: String(i),
    });
  }
  const started = performance.now();
  let sinceCommit = 0;
  for (let i = 0; i < records.length; i += BATCH) {
    await task.process(records.slice(i, i + BATCH));
    sinceCommit += BATCH;
    if (sinceCommit >= 10_000) {
      await task.commit();
      sinceCommit = 0;
    }
  }
  await task.commit();
  const seconds = (performance.now() - started) / 1000;
  await task.closeClean();
  rmSync(dir, { recursive: true, force: true });
  return RECORDS / seconds;
}

const continuing = exceptionHandlersFromConfig({
  'default.deserialization.exception.handler': 'fail',
  'processing.exception.handler': 'log-and-continue',
  'default.production.exception.handler': 'fail',
  'errors.dead.letter.queue.topic.name': 'bench-dlq',
}).handlers;

console.log(
  `poison isolation: ${RECORDS} records, ${KEYS} keys, batches of ${BATCH}; ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, node ${process.version}`,
);
console.log('| store | mode | records/s |');
console.log('| --- | --- | ---: |');
for (const persistent of [false, true]) {
  const store = persistent ? 'LevelDB, cached' : 'in-memory, cached';
  const modes: Array<[string, TaskExceptionHandlers | undefined, boolean]> = [
    ['off (no handler)', undefined, false],
    ['journal', continuing, false],
    ['journal + 1 poison per batch', continuing, true],
  ];
  for (const [mode, handlers, poison] of modes) {
    await run(persistent, handlers, poison); // warm-up
    const rate = await run(persistent, handlers, poison);
    console.log(`| ${store} | ${mode} | ${Math.round(rate).toLocaleString('en-US')} |`);
  }
}

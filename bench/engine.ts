/**
 * Engine throughput against a plain kafkajs loop, on a real broker.
 *
 *   node --import tsx bench/engine.ts [--records 1000000] [--partitions 8] [--value-bytes 200] [--bootstrap 127.0.0.1:9092]
 *
 * (a) raw kafkajs consume -> produce (src/kafka/raw-pipe.ts), (b) the engine
 * with a stateless topology (source -> sink), (c) the engine with
 * source -> changelogged LevelDB store (putAll per batch) -> sink; then the
 * restore rate of the store (c) built (one entry per record: unique keys),
 * after its state directory is deleted. Prints records/s, b/a and c/a.
 * Every run reads the same input topic with its own group and output topic.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createKafka,
  KafkaAdmin,
  KafkaProducer,
  rawPipe,
  type Kafka,
  type OutgoingRecord,
} from '../src/kafka/index.ts';
import type { Processor, ProcessorContext, StreamRecord } from '../src/streams/processor/index.ts';
import { KafkaStreams } from '../src/streams/runtime/index.ts';
import { bytesSerde } from '../src/streams/serde/index.ts';
import { Stores, type KeyValueStore } from '../src/streams/state/index.ts';
import { Topology } from '../src/streams/topology/index.ts';
import { arg } from './support/args.ts';

const RECORDS = Number(arg('records', '1000000'));
const PARTITIONS = Number(arg('partitions', '8'));
const VALUE_BYTES = Number(arg('value-bytes', '200'));
const BOOTSTRAP = arg('bootstrap', process.env.CTR_KAFKA_BOOTSTRAP ?? '127.0.0.1:9092');
const RUN = `bench-${Date.now().toString(36)}`;

const kafka = createKafka({ bootstrapServers: BOOTSTRAP, clientId: 'ctr-bench' });

async function withAdmin<T>(fn: (admin: KafkaAdmin) => Promise<T>): Promise<T> {
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

async function topicSize(topic: string): Promise<number> {
  return withAdmin(async (admin) =>
    (await admin.topicOffsets(topic)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0),
  );
}

async function waitForSize(topic: string, n: number, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await topicSize(topic)) < n) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} records in ${topic}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function produceInput(k: Kafka, topic: string): Promise<number> {
  const producer = new KafkaProducer(k);
  await producer.connect();
  const value = Buffer.alloc(VALUE_BYTES - 24, 'x');
  const started = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < RECORDS;) {
    const chunk: OutgoingRecord[] = [];
    for (let j = 0; j < 10_000 && i < RECORDS; j++, i++)
      chunk.push({ topic, key: `key-${String(i).padStart(12, '0')}`, value });
    inFlight.push(producer.send(chunk));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  await producer.disconnect();
  return RECORDS / ((performance.now() - started) / 1000);
}

class PutAllProcessor implements Processor<Buffer, Buffer, Buffer, Buffer> {
  private store!: KeyValueStore<Buffer, Buffer>;
  private context!: ProcessorContext<Buffer, Buffer>;
  init(context: ProcessorContext<Buffer, Buffer>): void {
    this.context = context;
    this.store = context.getStateStore<KeyValueStore<Buffer, Buffer>>('bench-store');
  }
  async process(records: ReadonlyArray<StreamRecord<Buffer, Buffer>>): Promise<void> {
    await this.store.putAll(records.map((r) => [r.key, r.value] as const));
    this.context.forward(records);
  }
}

function engineConfig(applicationId: string, stateDir: string) {
  return {
    'application.id': applicationId,
    'bootstrap.servers': BOOTSTRAP,
    'state.dir': stateDir,
    'commit.interval.ms': 1000,
    'session.timeout.ms': 30_000,
  };
}

async function runEngine(
  topology: Topology,
  applicationId: string,
  output: string,
  stateDir: string,
): Promise<{ seconds: number; app: KafkaStreams }> {
  const app = new KafkaStreams(topology, engineConfig(applicationId, stateDir), { kafka });
  await app.start();
  const started = performance.now();
  await waitForSize(output, RECORDS);
  return { seconds: (performance.now() - started) / 1000, app };
}

async function main(): Promise<void> {
  const input = `${RUN}-in`;
  const outs = { a: `${RUN}-out-a`, b: `${RUN}-out-b`, c: `${RUN}-out-c` };
  await withAdmin((admin) =>
    admin.createTopics([input, ...Object.values(outs)].map((name) => ({ name, partitions: PARTITIONS }))),
  );
  process.stderr.write(
    `producing ${RECORDS} records of ~${VALUE_BYTES} bytes over ${PARTITIONS} partitions...\n`,
  );
  const produceRate = await produceInput(kafka, input);
  const stateDir = mkdtempSync(join(tmpdir(), 'ctr-bench-engine-'));
  const rows: Array<[string, number, number]> = [];
  try {
    process.stderr.write('(a) raw kafkajs consume -> produce...\n');
    const a = await rawPipe(kafka, {
      from: input,
      to: outs.a,
      groupId: `${RUN}-raw`,
      records: RECORDS,
      timeoutMs: 600_000,
    });
    await waitForSize(outs.a, RECORDS);
    rows.push(['(a) raw kafkajs consume -> produce', RECORDS / a.seconds, a.seconds]);

    process.stderr.write('(b) engine, stateless source -> sink...\n');
    const stateless = new Topology()
      .addSource('in', input)
      .addSink('out', outs.b, undefined, undefined, 'in');
    const b = await runEngine(stateless, `${RUN}-stateless`, outs.b, stateDir);
    await b.app.close();
    rows.push(['(b) engine stateless (source -> sink)', RECORDS / b.seconds, b.seconds]);

    process.stderr.write('(c) engine, source -> changelogged LevelDB store -> sink...\n');
    const stateful = () =>
      new Topology()
        .addSource('in', input, bytesSerde, bytesSerde)
        .addProcessor('put', () => new PutAllProcessor(), 'in')
        .addStateStore(
          Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore('bench-store'), bytesSerde, bytesSerde),
          'put',
        )
        .addSink('out', outs.c, bytesSerde, bytesSerde, 'put');
    const c = await runEngine(stateful(), `${RUN}-stateful`, outs.c, stateDir);
    await c.app.close();
    rows.push(['(c) engine source -> LevelDB store + changelog -> sink', RECORDS / c.seconds, c.seconds]);

    process.stderr.write('restore: delete the state dir, restart, time until RUNNING...\n');
    rmSync(join(stateDir, `${RUN}-stateful`), { recursive: true, force: true });
    const restoreApp = new KafkaStreams(stateful(), engineConfig(`${RUN}-stateful`, stateDir), { kafka });
    const restoreStart = performance.now();
    await restoreApp.start();
    while (restoreApp.state !== 'RUNNING') await new Promise((r) => setTimeout(r, 20));
    const restoreSeconds = (performance.now() - restoreStart) / 1000;
    const restored = restoreApp.restores().reduce((n, r) => n + r.restored, 0);
    await restoreApp.close();

    const cpu = cpus()[0]?.model ?? 'unknown cpu';
    const lines = [
      `engine bench: ${RECORDS} records x ~${VALUE_BYTES} B, ${PARTITIONS} partitions, broker ${BOOTSTRAP} (local KRaft, same host)`,
      `machine: ${cpus().length} x ${cpu}, node ${process.version}; input produced at ${Math.round(produceRate)} records/s`,
      '',
      '| run | records/s | seconds |',
      '|---|---:|---:|',
      ...rows.map(
        ([name, rate, s]) => `| ${name} | ${Math.round(rate).toLocaleString('en-US')} | ${s.toFixed(1)} |`,
      ),
      '',
      `b/a = ${(rows[1]![1] / rows[0]![1]).toFixed(2)} (target 0.8), c/a = ${(rows[2]![1] / rows[0]![1]).toFixed(2)} (target 0.5)`,
      `restore: ${restored.toLocaleString('en-US')} changelog records into ${PARTITIONS} LevelDB stores in ${restoreSeconds.toFixed(1)} s ` +
        `(start to RUNNING, incl. group join) = ${Math.round(restored / restoreSeconds).toLocaleString('en-US')} records/s`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
    await withAdmin((admin) =>
      admin.deleteTopics([input, ...Object.values(outs), `${RUN}-stateful-bench-store-changelog`]),
    ).catch(() => undefined);
  }
}

await main();

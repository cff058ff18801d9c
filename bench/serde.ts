/**
 * bench/serde: Avro (Confluent-framed, through AvroSerde) against JSON
 * (jsonSerde) for the impression record, encode and decode, records/s.
 *
 *   node --import tsx bench/serde.ts [records=100000] [rounds=5]
 *
 * Each figure is the median of `rounds` timed passes over the same
 * pre-generated, varied records, after one untimed warm-up round; the
 * operations take turns within each round. Single thread; the machine may
 * be shared, so compare the ratios more than the absolute numbers.
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  AvroSerde,
  LocalSchemaRegistry,
  jsonSerde,
  loadAvroSchemaFile,
  type AvroSchemaJson,
} from '../src/streams/serde/index.ts';

const N = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 5);

const schema = loadAvroSchemaFile(new URL('../schemas/impression.avsc', import.meta.url)) as unknown as {
  fields: unknown[];
} & Record<string, unknown>;
const schemaV2 = {
  ...schema,
  fields: [...schema.fields, { name: 'experiment', type: 'string', default: 'control', doc: 'A/B arm.' }],
} as AvroSchemaJson;

function impressions(n: number) {
  const devices = ['desktop', 'mobile', 'tablet'];
  const countries = ['SI', 'DE', 'US', 'GB', 'FR', 'IT'];
  return Array.from({ length: n }, (_, i) => ({
    impressionId: `imp-${(1e9 + i * 7919).toString(36)}`,
    context: {
      contextId: `pub-${i % 16}/placement-${i % 3}`,
      publisher: `pub-${i % 16}`,
      placement: `placement-${i % 3}`,
    },
    userSegment: `seg-${i % 8}`,
    device: devices[i % 3]!,
    country: countries[i % 6]!,
    pageDepth: i % 5 === 0 ? null : i % 11,
    items: Array.from({ length: 6 }, (_, p) => ({ itemId: `item-${(i * 31 + p * 17) % 1500}`, position: p })),
    timestamp: 1767225600000 + i * 37,
  }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Times every pass once per round, rounds interleaved (a, b, c, a, b, c...),
 * so that load from other processes on a shared machine hits all of them
 * alike; one untimed warm-up round first. Returns records/s (median) per pass.
 */
function measureAll(passes: ReadonlyArray<() => void>): number[] {
  for (const pass of passes) pass();
  const rates: number[][] = passes.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    passes.forEach((pass, i) => {
      const t0 = performance.now();
      pass();
      rates[i]!.push(N / ((performance.now() - t0) / 1000));
    });
  }
  return rates.map(median);
}

const registry = new LocalSchemaRegistry();
const avro = new AvroSerde(schema as AvroSchemaJson, { registry });
const avroV2 = new AvroSerde(schemaV2, { registry });
const json = jsonSerde();
const topic = 'impressions';
const values = impressions(N);

const avroBytes = values.map((v) => avro.serialize(topic, v)!);
const jsonBytes = values.map((v) => json.serialize(topic, v)!);
await avroV2.resolve(topic, avroBytes.slice(0, 1));
let sink = 0;

const avroBytesPer = avroBytes.reduce((n, b) => n + b.length, 0) / N;
const jsonBytesPer = jsonBytes.reduce((n, b) => n + b.length, 0) / N;
const passes: Array<[string, () => void, number]> = [
  [
    'avro encode (serialize + frame)',
    () => {
      for (const v of values) sink += avro.serialize(topic, v)!.length;
    },
    avroBytesPer,
  ],
  [
    'json encode (JSON.stringify + utf8)',
    () => {
      for (const v of values) sink += json.serialize(topic, v)!.length;
    },
    jsonBytesPer,
  ],
  [
    'avro decode (same schema)',
    () => {
      for (const b of avroBytes) sink += (avro.deserialize(topic, b) as { items: unknown[] }).items.length;
    },
    avroBytesPer,
  ],
  [
    'avro decode (v1 writer -> v2 reader)',
    () => {
      for (const b of avroBytes) sink += (avroV2.deserialize(topic, b) as { items: unknown[] }).items.length;
    },
    avroBytesPer,
  ],
  [
    'json decode (utf8 + JSON.parse)',
    () => {
      for (const b of jsonBytes) sink += (json.deserialize(topic, b) as { items: unknown[] }).items.length;
    },
    jsonBytesPer,
  ],
];
const rates = measureAll(passes.map(([, pass]) => pass));
const rows: Array<[string, number, number]> = passes.map(([name, , bytes], i) => [name, rates[i]!, bytes]);

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `bench/serde: impression record (6 shown items), ${fmt(N)} records x ${ROUNDS} rounds (median), Node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}`,
);
console.log('');
console.log(`| ${'operation'.padEnd(38)} | ${'records/s'.padStart(12)} | ${'bytes/record'.padStart(12)} |`);
console.log(`|${'-'.repeat(40)}|${'-'.repeat(14)}|${'-'.repeat(14)}|`);
for (const [name, rate, bytes] of rows)
  console.log(`| ${name.padEnd(38)} | ${fmt(rate).padStart(12)} | ${bytes.toFixed(1).padStart(12)} |`);
const [avroEnc, jsonEnc, avroDec, , jsonDec] = rows.map((r) => r[1]);
console.log('');
console.log(
  `avro/json: encode ${(avroEnc! / jsonEnc!).toFixed(2)}x, decode ${(avroDec! / jsonDec!).toFixed(2)}x, size ${(avroBytesPer / jsonBytesPer).toFixed(2)}x`,
);
console.log('(the Zemanta seed found binary input 25% faster than CSV, i.e. 1.25x)');
if (sink === -1) console.log(sink);

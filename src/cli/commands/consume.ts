/**
 * `ctr-streams consume <topic>`: prints a topic's records as JSON lines
 * (`{"partition","offset","timestamp","key","value","headers"}`), values
 * decoded from the Avro wire format with their writer schema (see
 * ../avro-io.ts), or as text / JSON / hex.
 */
import { Option, type Command } from 'commander';
import { createKafka, KafkaAdmin, readTopicToEnd } from '../../kafka/index.ts';
import { loadAvroSchemaFile } from '../../streams/serde/index.ts';
import { cliSchemaRegistry, decodeAvro, toJsonLine } from '../avro-io.ts';
import { commandAction, withCommonOptions } from '../command-action.ts';
import { CliError } from '../errors.ts';
import { parseTime } from '../time-spec.ts';
import { defaultBootstrap, positiveInt } from './options.ts';

interface ConsumeFlags {
  bootstrap: string;
  format: 'avro' | 'json' | 'string' | 'hex';
  schemaRegistry?: string;
  schema?: string[];
  from?: string;
  max?: number;
  timeout: number;
}

export function registerConsume(program: Command): void {
  withCommonOptions(
    program
      .command('consume')
      .argument('<topic>', 'the topic to read')
      .description(
        "print a topic's records as JSON lines (Avro values decoded with their writer schema), from the start or a time, up to its current end",
      )
      .option('--bootstrap <servers>', 'bootstrap.servers', defaultBootstrap())
      .addOption(
        new Option('-f, --format <format>', 'how values are decoded')
          .choices(['avro', 'json', 'string', 'hex'])
          .default('avro'),
      )
      .option(
        '--schema-registry <url>',
        'Confluent-compatible schema registry (default env CTR_SCHEMA_REGISTRY_URL, else local ids of schemas/*.avsc)',
      )
      .option('--schema <file.avsc...>', 'more writer schemas for the local registry')
      .option(
        '--from <time>',
        'start at the first record at or after this time (ISO, ms, -15m); default the earliest',
      )
      .addOption(new Option('-n, --max <n>', 'stop after n records').argParser(positiveInt('--max')))
      .addOption(
        new Option('--timeout <s>', 'give up when nothing is fetched for this many seconds')
          .argParser(Number)
          .default(60),
      ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  ctr-streams consume recommendations --max 5 | jq .value.items[0]\n  ctr-streams consume impressions --from -10m --format avro',
    )
    .action(
      commandAction('consume', async (topic: string, o: ConsumeFlags) => {
        const kafka = createKafka({ bootstrapServers: o.bootstrap, clientId: 'ctr-streams-consume' });
        const admin = new KafkaAdmin(kafka);
        await admin.connect();
        let from: Map<number, string> | undefined;
        try {
          if (!(await admin.listTopics()).includes(topic))
            throw new CliError('CTR_CLI_USAGE', `topic "${topic}" does not exist`);
          if (o.from !== undefined)
            from = new Map(
              (await admin.offsetsForTime(topic, parseTime('--from', o.from))).map((p) => [
                p.partition,
                p.offset,
              ]),
            );
        } finally {
          await admin.disconnect();
        }
        const registry = cliSchemaRegistry(
          o.schemaRegistry,
          (o.schema ?? []).map((f) => loadAvroSchemaFile(f)),
        );
        const records = await readTopicToEnd(kafka, topic, {
          ...(from ? { from } : {}),
          timeoutMs: o.timeout * 1000,
        });
        records.sort(
          (a, b) =>
            a.timestamp - b.timestamp ||
            a.partition - b.partition ||
            Number(BigInt(a.offset) - BigInt(b.offset)),
        );
        let n = 0;
        for (const r of records) {
          if (o.max !== undefined && n >= o.max) break;
          const where = `${topic}[${r.partition}] offset ${r.offset}`;
          let value: unknown = null;
          if (r.value !== null) {
            if (o.format === 'avro') value = await decodeAvro(registry, r.value, where);
            else if (o.format === 'json') value = JSON.parse(r.value.toString('utf8')) as unknown;
            else if (o.format === 'string') value = r.value.toString('utf8');
            else value = r.value.toString('hex');
          }
          const headers = Object.fromEntries(
            Object.entries(r.headers).map(([k, v]) => [k, v?.toString('utf8')]),
          );
          process.stdout.write(
            `${toJsonLine({ partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: r.key?.toString('utf8') ?? null, value, headers })}\n`,
          );
          n++;
        }
        process.stderr.write(`${n} record(s) from ${topic}\n`);
      }),
    );
}

/**
 * `ctr-streams produce <topic> --schema <file.avsc>`: reads JSON lines from
 * stdin (or --file) and sends them in the Avro wire format. A line is the
 * value, or with --with-keys `{"key": ..., "value": ..., "headers": {...}}`
 * (the shape `consume` prints, so its output can be re-published).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { createKafka, KafkaProducer, type OutgoingRecord } from '../../kafka/index.ts';
import { loadAvroSchemaFile } from '../../streams/serde/index.ts';
import { avroJsonSerializer, cliSchemaRegistry } from '../avro-io.ts';
import { commandAction, withCommonOptions } from '../command-action.ts';
import { CliError } from '../errors.ts';
import { defaultBootstrap } from './options.ts';

interface ProduceFlags {
  bootstrap: string;
  schema: string;
  schemaRegistry?: string;
  file?: string;
  withKeys?: boolean;
  keyField?: string;
}

export function registerProduce(program: Command): void {
  withCommonOptions(
    program
      .command('produce')
      .argument('<topic>', 'the topic to write')
      .description('send JSON lines from stdin (or --file) as Avro records in the Confluent wire format')
      .requiredOption('--schema <file.avsc>', 'the value schema (e.g. schemas/impression.avsc)')
      .option('--bootstrap <servers>', 'bootstrap.servers', defaultBootstrap())
      .option(
        '--schema-registry <url>',
        'Confluent-compatible schema registry (default env CTR_SCHEMA_REGISTRY_URL, else local ids)',
      )
      .option('--file <path>', 'read this file instead of stdin')
      .option('--with-keys', 'each line is {"key", "value", "headers"?} (what `consume` prints)')
      .option('--key-field <name>', 'use this field of the value as the record key (string)'),
  )
    .addHelpText(
      'after',
      '\nBytes fields are written as {"$base64": "..."} (as `consume` prints them).\n\nExample:\n  ctr-streams consume impressions --max 10 | ctr-streams produce impressions-copy --schema schemas/impression.avsc --with-keys',
    )
    .action(
      commandAction('produce', async (topic: string, o: ProduceFlags) => {
        const schema = loadAvroSchemaFile(o.schema);
        const registry = cliSchemaRegistry(o.schemaRegistry, [schema]);
        const serializer = avroJsonSerializer(schema, registry, topic);
        await serializer.prepare();
        const kafka = createKafka({ bootstrapServers: o.bootstrap, clientId: 'ctr-streams-produce' });
        const producer = new KafkaProducer(kafka);
        await producer.connect();
        let sent = 0;
        let line = 0;
        let batch: OutgoingRecord[] = [];
        const flush = async (): Promise<void> => {
          if (batch.length === 0) return;
          await producer.send(batch);
          sent += batch.length;
          batch = [];
        };
        try {
          const input = o.file ? createReadStream(o.file) : process.stdin;
          for await (const text of createInterface({ input, crlfDelay: Infinity })) {
            line++;
            if (text.trim() === '') continue;
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch (error) {
              throw new CliError('CTR_CLI_USAGE', `line ${line}: not JSON: ${(error as Error).message}`);
            }
            const env = o.withKeys
              ? (json as { key?: unknown; value?: unknown; headers?: Record<string, string> })
              : { value: json };
            const key =
              env.key ??
              (o.keyField ? (env.value as Record<string, unknown> | null)?.[o.keyField] : undefined);
            batch.push({
              topic,
              key: key === undefined || key === null ? null : String(key),
              value: env.value === null ? null : serializer.serialize(env.value, line),
              ...(env.headers ? { headers: env.headers } : {}),
            });
            if (batch.length >= 500) await flush();
          }
          await flush();
        } finally {
          await producer.disconnect();
        }
        process.stderr.write(`${sent} record(s) sent to ${topic}\n`);
      }),
    );
}

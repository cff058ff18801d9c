/**
 * The baseline the engine is measured against (bench/engine.ts): a plain
 * kafkajs consume -> produce loop with no engine in between. Each fetched
 * batch is written, unchanged, to the same partition of the output topic
 * with the same settings the engine's producer uses (idempotent, acks=all),
 * and offsets are committed every `commitIntervalMs`, as the engine does.
 */
import { Partitioners, type Kafka } from 'kafkajs';
import { describeError, KafkaError } from './errors.ts';

export interface RawPipeOptions {
  from: string;
  to: string;
  groupId: string;
  /** Stop after this many records were produced and acked. */
  records: number;
  /** Default 1000 ms. */
  commitIntervalMs?: number;
  /** Default 120000 ms. */
  timeoutMs?: number;
}

export interface RawPipeResult {
  records: number;
  /** From the first fetched batch to the last ack. */
  seconds: number;
}

/**
 * Pipes `records` records from `from` to `to`.
 * @throws KafkaError CTR_KAFKA_CONSUME when the records do not arrive within timeoutMs
 */
export async function rawPipe(kafka: Kafka, options: RawPipeOptions): Promise<RawPipeResult> {
  const consumer = kafka.consumer({
    groupId: options.groupId,
    maxBytesPerPartition: 1024 * 1024,
    maxWaitTimeInMs: 100,
  });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await Promise.all([consumer.connect(), producer.connect()]);
  let piped = 0;
  let first = 0;
  let lastCommit = Date.now();
  const interval = options.commitIntervalMs ?? 1000;
  try {
    await consumer.subscribe({ topics: [options.from], fromBeginning: true });
    const done = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new KafkaError(
              'CTR_KAFKA_CONSUME',
              `raw pipe ${options.from} -> ${options.to}: ${piped}/${options.records} records after ${options.timeoutMs ?? 120_000} ms`,
            ),
          ),
        options.timeoutMs ?? 120_000,
      );
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary }) => {
            if (first === 0) first = performance.now();
            const messages = batch.messages.map((m) => ({
              key: m.key,
              value: m.value,
              partition: batch.partition,
              timestamp: m.timestamp,
            }));
            await producer.send({ topic: options.to, messages, acks: -1 });
            resolveOffset(batch.lastOffset());
            piped += messages.length;
            if (Date.now() - lastCommit >= interval) {
              lastCommit = Date.now();
              await commitOffsetsIfNecessary({
                topics: [
                  {
                    topic: batch.topic,
                    partitions: [
                      { partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() },
                    ],
                  },
                ],
              });
            }
            if (piped >= options.records) {
              clearTimeout(timer);
              resolve(performance.now());
            }
          },
        })
        .catch(reject);
    });
    const end = await done;
    return { records: piped, seconds: (end - first) / 1000 };
  } catch (error) {
    if (error instanceof KafkaError) throw error;
    throw new KafkaError(
      'CTR_KAFKA_CONSUME',
      `raw pipe ${options.from} -> ${options.to} failed: ${describeError(error)}`,
      { cause: error },
    );
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
  }
}

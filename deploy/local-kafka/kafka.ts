/**
 * `npm run kafka:start|stop|status`: the local single-node broker for the
 * demo and for development. Errors print as one line, exit code 1.
 */
import { Command } from 'commander';
import {
  findLocalBroker,
  startLocalBroker,
  stopLocalBroker,
  type LocalBrokerOptions,
} from '../../src/kafka/local-broker/index.ts';

function optionsOf(flags: {
  port?: string;
  dataDir?: string;
  heap?: string;
  kafkaVersion?: string;
  fresh?: boolean;
}): LocalBrokerOptions {
  return {
    ...(flags.port ? { port: Number(flags.port) } : {}),
    ...(flags.dataDir ? { dataDir: flags.dataDir } : {}),
    ...(flags.heap ? { heap: flags.heap } : {}),
    ...(flags.kafkaVersion ? { kafkaVersion: flags.kafkaVersion } : {}),
    fresh: flags.fresh ?? false,
    onProgress: (line) => console.error(line),
  };
}

const program = new Command('kafka')
  .description('Run a local single-node Apache Kafka broker (KRaft) from Maven Central jars')
  .option(
    '--port <port>',
    'client port on 127.0.0.1 (controller uses port+1)',
    process.env.CTR_KAFKA_PORT ?? '9092',
  )
  .option('--data-dir <dir>', 'data directory (default: ~/.cache/ctr-streams/broker-<port>)')
  .option('--heap <size>', 'max JVM heap', process.env.CTR_KAFKA_HEAP ?? '512m')
  .option('--kafka-version <v>', 'Apache Kafka version', process.env.CTR_KAFKA_VERSION);

program
  .command('start')
  .option('--fresh', 'wipe the data directory first')
  .description('start (or reuse) the broker')
  .action(async (flags) => {
    const broker = await startLocalBroker(optionsOf({ ...program.opts(), ...flags }));
    console.log(
      broker.reused
        ? `already running on ${broker.bootstrap} (pid ${broker.pid})`
        : `started on ${broker.bootstrap} (pid ${broker.pid}) in ${broker.startMs} ms`,
    );
  });
program
  .command('fetch')
  .description('resolve the broker jars from Maven Central into the cache, without starting')
  .action(async () => {
    const { ensureBrokerJars, DEFAULT_KAFKA_VERSION } = await import('../../src/kafka/local-broker/index.ts');
    const dir = await ensureBrokerJars(program.opts().kafkaVersion ?? DEFAULT_KAFKA_VERSION, (line) =>
      console.error(line),
    );
    console.log(`broker jars in ${dir}`);
  });
program
  .command('stop')
  .description('stop the broker by its pid')
  .action(async () => {
    console.log((await stopLocalBroker(optionsOf(program.opts()))) ? 'stopped' : 'not running');
  });
program
  .command('status')
  .description('say whether the broker runs')
  .action(async () => {
    const broker = await findLocalBroker(optionsOf(program.opts()));
    console.log(
      broker ? `running on ${broker.bootstrap} (pid ${broker.pid}, data ${broker.dataDir})` : 'not running',
    );
    process.exitCode = broker ? 0 : 3;
  });

program.parseAsync().catch((error: unknown) => {
  console.error(`kafka: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

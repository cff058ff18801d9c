/** `ctr-streams demo` (`npm run demo`): the whole pipeline on a local broker with generated traffic. */
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import type { BackendChoice } from '../../ml/index.ts';
import { setLogLevel } from '../../telemetry/index.ts';
import { DEFAULT_WORK_DIR, runDemo } from '../demo-run.ts';
import { defaultBootstrap, nonNegativeNumber, positiveInt } from './options.ts';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'run the whole CTR pipeline on a local broker with generated traffic and a live status line (Ctrl-C stops)',
    )
    .option(
      '--bootstrap <servers>',
      'bootstrap.servers (a local broker is started when nothing listens on a loopback address)',
      defaultBootstrap(),
    )
    .option(
      '--duration <s>',
      'stop after this many seconds (default: until Ctrl-C)',
      nonNegativeNumber('--duration'),
    )
    .option('--cycle-interval <ms>', 'list-building cycle interval', positiveInt('--cycle-interval'), 5000)
    .option('-k, --top <k>', 'items per list', positiveInt('--top'), 10)
    .option('--rate <lists/s>', 'impressions (shown lists) per second', positiveInt('--rate'), 150)
    .option('--new-items <items/s>', 'new items per second', nonNegativeNumber('--new-items'), 1)
    .option(
      '--item-delay <ms>',
      'a new item is shown this long before its item-created record',
      nonNegativeNumber('--item-delay'),
      3000,
    )
    .option('--work-dir <dir>', 'model registry and state', DEFAULT_WORK_DIR)
    .option('--port <port>', 'lookup API port (0 = any free port)', nonNegativeNumber('--port'), 0)
    .option(
      '--metrics-port <port>',
      'Prometheus port (0 = any free port)',
      nonNegativeNumber('--metrics-port'),
      0,
    )
    .option(
      '--train-examples <n>',
      'training impressions of the first model',
      positiveInt('--train-examples'),
      12_000,
    )
    .option(
      '--backend <name>',
      'tensor backend: auto, tensorflow, wasm, cpu',
      process.env.CTR_ML_BACKEND ?? 'auto',
    )
    .option(
      '--log-level <level>',
      'log level of the JSON logs on stderr (info shows every component)',
      'warn',
    )
    .option(
      '--workers <n>',
      'scoring worker threads',
      positiveInt('--workers'),
      Math.max(1, Math.min(2, availableParallelism())),
    )
    .action(async (o: Record<string, unknown>) => {
      setLogLevel(o.logLevel as Parameters<typeof setLogLevel>[0]);
      const r = await runDemo({
        bootstrap: o.bootstrap as string,
        ...(o.duration !== undefined ? { duration: o.duration as number } : {}),
        cycleIntervalMs: o.cycleInterval as number,
        k: o.top as number,
        rate: o.rate as number,
        newItemsPerSecond: o.newItems as number,
        itemDelayMs: o.itemDelay as number,
        workDir: o.workDir as string,
        port: o.port as number,
        metricsPort: o.metricsPort as number,
        trainExamples: o.trainExamples as number,
        backend: o.backend as BackendChoice,
        workers: o.workers as number,
        statusIntervalMs: 1000,
      });
      process.exitCode = r.lists > 0 ? 0 : 1;
      // worker threads and sockets are closed; exit without waiting for stray timers of libraries
      setTimeout(() => process.exit(), 200).unref();
    });
}

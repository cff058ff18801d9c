/**
 * `ctr-streams run <topology|all>`: runs an application until SIGTERM/SIGINT
 * (a clean stop: final commit, leave the group), with the telemetry of
 * src/telemetry: Prometheus `/metrics`, `/health` (live) and `/health/ready`
 * (RUNNING with every task restored) on CTR_TELEMETRY_PORT (default 9464),
 * JSON logs on stderr, W3C trace context carried in record headers, spans
 * exported over OTLP when OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT is set (and
 * flushed on the way out, SIGTERM included).
 *
 * Exit codes: 0 after a clean stop, 1 when an application failed (ERROR) or
 * could not start, 2 for bad settings.
 */
import { Option, type Command } from 'commander';
import { createLogger } from '../../telemetry/logger.ts';
import { commandConfig, withConfigOptions, type ConfigFlags } from '../cli-config.ts';
import { commandAction, withCommonOptions } from '../command-action.ts';
import { CliError } from '../errors.ts';
import {
  addAppRunOptions,
  fallbackApplicationId,
  startApps,
  type AppRunFlags,
  type RunningApps,
} from '../start-apps.ts';
import { nonNegativeNumber } from './options.ts';

const log = createLogger('cli');

interface RunFlags extends ConfigFlags, AppRunFlags {
  metricsPort?: number;
  duration?: number;
}

export function registerRun(program: Command): void {
  const command = program
    .command('run')
    .argument(
      '<topology>',
      'embeddings | engagement | recommendations | all (the three in one process) | a module path exporting a Topology',
    )
    .description('run an application until SIGTERM/SIGINT, serving /metrics, /health and /health/ready')
    .addOption(
      new Option(
        '--metrics-port <port>',
        'port of /metrics and /health (0 = any free port; default env CTR_TELEMETRY_PORT, else 9464)',
      ).argParser(nonNegativeNumber('--metrics-port')),
    )
    .addOption(
      new Option(
        '--duration <s>',
        'stop cleanly after this many seconds (default: until a signal)',
      ).argParser(nonNegativeNumber('--duration')),
    );
  withCommonOptions(withConfigOptions(addAppRunOptions(command)))
    .addHelpText(
      'after',
      '\nExamples:\n  ctr-streams run recommendations --config /etc/ctr-streams/ctr-streams.properties\n  CTR_APPLICATION_ID=my-app ctr-streams run ./my-app.ts --bootstrap 127.0.0.1:9092\n  OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318 ctr-streams run all   # spans over OTLP (docs/operations.md, Traces)\n\nExit codes: 0 clean stop, 1 an application failed, 2 bad settings.',
    )
    .action(
      commandAction('run', async (spec: string, o: RunFlags) => {
        if (o.lookupPort !== undefined && spec !== 'all')
          throw new CliError(
            'CTR_CLI_USAGE',
            `--lookup-port serves the pipeline's lookup API: it needs \`run all\`, not "${spec}"`,
          );
        const fallbackId = await fallbackApplicationId(spec, o.topicPrefix);
        const config = commandConfig(o, { applicationId: fallbackId });
        const { startTelemetry, telemetryOptionsFromEnv } = await import('../../telemetry/index.ts');
        const telemetryOptions = telemetryOptionsFromEnv({ serviceName: config['application.id'] });
        if (o.metricsPort !== undefined) telemetryOptions.prometheusPort = o.metricsPort;
        const telemetry = await startTelemetry(telemetryOptions);
        // listen from here, not from RUNNING: a stop during a long start (model load, global tables)
        // must still close what started and flush telemetry, not kill the process mid-way
        const stop = stopSignal();
        let running: RunningApps | undefined;
        try {
          telemetry.health.register('live', 'streams', () => {
            const failed = running?.error();
            return failed ? { status: 'DOWN', detail: { error: failed.message } } : { status: 'UP' };
          });
          telemetry.health.register('ready', 'streams', () => {
            const states = running?.apps.map((a) => a.state) ?? ['STARTING'];
            return { status: states.every((s) => s === 'RUNNING') ? 'UP' : 'DOWN', detail: { states } };
          });
          running = await startApps(
            spec,
            config,
            o,
            telemetry.metricsUrl ? { metricsUrl: telemetry.metricsUrl } : {},
          );
          if (stop.requested) log.info({ signal: stop.requested }, 'stop requested while starting: closing');
          else
            await runUntilStopped(
              running,
              spec,
              config['application.id'],
              telemetry,
              o.duration,
              stop.promise,
            );
        } finally {
          try {
            await running?.close();
            await telemetry.shutdown();
          } finally {
            // only now: a second signal during the close above must still exit at once (130/143),
            // not kill the process by the signal's default action
            stop.dispose();
          }
        }
        process.stderr.write('ctr-streams run: stopped cleanly\n');
      }),
    );
}

/** Announces the running apps, then waits for a stop; an app's failure is thrown as CTR_CLI_FAILED. */
async function runUntilStopped(
  running: RunningApps,
  spec: string,
  applicationId: string,
  telemetry: {
    metricsUrl?: string | undefined;
    tracesUrl?: string | undefined;
    otlpMetricsUrl?: string | undefined;
  },
  durationS: number | undefined,
  stop: Promise<void>,
): Promise<void> {
  log.info(
    {
      topology: spec,
      applicationId,
      metrics: telemetry.metricsUrl,
      traces: telemetry.tracesUrl,
      otlpMetrics: telemetry.otlpMetricsUrl,
    },
    'running',
  );
  process.stderr.write(
    `ctr-streams run: ${spec} running as "${applicationId}"${telemetry.metricsUrl ? `, metrics at ${telemetry.metricsUrl}` : ''}${telemetry.tracesUrl ? `, spans to ${telemetry.tracesUrl}` : ''}${telemetry.otlpMetricsUrl ? `, metrics pushed to ${telemetry.otlpMetricsUrl}` : ''}\n${running.lookupUrl ? `ctr-streams run: lookup API at ${running.lookupUrl}\n` : ''}`,
  );
  const failure = await untilStopped(running, durationS, stop);
  if (failure)
    throw new CliError('CTR_CLI_FAILED', `application "${applicationId}" failed: ${failure.message}`, {
      cause: failure,
    });
}

/**
 * SIGTERM/SIGINT from now on: `requested` names the first signal and `promise` resolves with it;
 * a second signal exits at once (130 / 143).
 */
function stopSignal(): { requested: string | undefined; promise: Promise<void>; dispose(): void } {
  let resolveStop!: () => void;
  const state = {
    requested: undefined as string | undefined,
    promise: new Promise<void>((r) => (resolveStop = r)),
    dispose: (): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (state.requested !== undefined) {
      // a second signal while closing (or while a long start finishes): the operator wants out now
      process.stderr.write(`ctr-streams run: second ${signal}: exiting without a clean close\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    state.requested = signal;
    resolveStop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return state;
}

/** Resolves when `stop` resolves (a signal), after `durationS`, or when an app fails (with its error). */
function untilStopped(
  running: RunningApps,
  durationS: number | undefined,
  stop: Promise<void>,
): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const done = (error?: Error): void => {
      clearInterval(poll);
      if (timer) clearTimeout(timer);
      resolve(error);
    };
    void stop.then(() => done());
    const poll = setInterval(() => {
      const error = running.error();
      if (error) done(error);
    }, 250);
    const timer = durationS === undefined ? undefined : setTimeout(() => done(), durationS * 1000);
  });
}

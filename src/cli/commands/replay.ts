/**
 * `ctr-streams replay <topology> --from <time|offset> [--to <time>]`:
 * reprocess an application's input history (see ../replay-run.ts), with a
 * progress bar, then stop.
 */
import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import { createKafka } from '../../kafka/index.ts';
import { commandConfig, withConfigOptions, type ConfigFlags } from '../cli-config.ts';
import { commandAction, withCommonOptions } from '../command-action.ts';
import { CliError } from '../errors.ts';
import { intermediateCaughtUp, prepareReplay, replayProgress, type ReplayStart } from '../replay-run.ts';
import { addAppRunOptions, fallbackApplicationId, startApps, type AppRunFlags } from '../start-apps.ts';
import { parseTime } from '../time-spec.ts';
import { resolveTopology } from '../topology-catalog.ts';

interface ReplayFlags extends ConfigFlags, AppRunFlags {
  from: string;
  to?: string;
  resetState?: boolean;
  keepState?: boolean;
  timeout?: number;
}

/** `earliest`, `@<offset>` (every partition), or a time (see time-spec.ts). */
export function parseStart(text: string): ReplayStart {
  if (text === 'earliest') return { earliest: true };
  if (/^@\d+$/.test(text)) return { offset: BigInt(text.slice(1)) };
  return { timestampMs: parseTime('--from', text) };
}

export function registerReplay(program: Command): void {
  const command = program
    .command('replay')
    .argument('<topology>', 'embeddings | engagement | recommendations | a module path exporting a Topology')
    .description('reprocess input history from a time or offset up to a bound, with progress, then stop')
    .requiredOption(
      '--from <time|@offset|earliest>',
      'start: ISO time (2026-11-23T12:00:00Z), ms since the epoch, -2h, @<offset> (every partition), or earliest',
    )
    .option('--to <time>', 'stop at this time (default: the end of each input partition now)')
    .option(
      '--reset-state',
      'delete internal topics and local state first, so stateful operators start empty (exact replay)',
    )
    .option('--keep-state', 'keep stores as they are (their contents already count the replayed records)')
    .addOption(
      new Option('--timeout <s>', 'give up when the replay is not done after this many seconds')
        .argParser(Number)
        .default(3600),
    );
  withCommonOptions(withConfigOptions(addAppRunOptions(command)))
    .addHelpText(
      'after',
      '\nA stateful topology under its own application id needs --reset-state or --keep-state; under a new --application-id it starts from empty state.\n\nExamples:\n  ctr-streams replay engagement --from 2026-11-23T10:00:00Z --to 2026-11-23T11:00:00Z --application-id ctr-engagement-replay-1\n  ctr-streams replay ./my-app.ts --from earliest --reset-state',
    )
    .action(
      commandAction('replay', async (spec: string, o: ReplayFlags) => {
        const from = parseStart(o.from);
        const toTimestampMs = o.to === undefined ? undefined : parseTime('--to', o.to);
        if (o.resetState && o.keepState)
          throw new CliError('CTR_CLI_USAGE', '--reset-state and --keep-state exclude each other');
        const { topology } = await resolveTopology(spec, o.topicPrefix);
        const config = commandConfig(
          {
            ...o,
            set: [
              ...(o.set ?? []),
              ...(o.set?.some((s) => s.startsWith('commit.interval.ms=')) ? [] : ['commit.interval.ms=1000']),
            ],
          },
          { applicationId: await fallbackApplicationId(spec, o.topicPrefix) },
        );
        const applicationId = config['application.id'];
        const kafka = createKafka({
          bootstrapServers: config['bootstrap.servers'],
          clientId: `ctr-streams-replay-${applicationId}`,
        });
        const stateful = topology.storeNames().length > 0;
        if (stateful && !o.resetState && !o.keepState) {
          const { KafkaAdmin } = await import('../../kafka/index.ts');
          const admin = new KafkaAdmin(kafka);
          await admin.connect();
          const known = await admin.listGroups().finally(() => admin.disconnect());
          if (known.includes(applicationId))
            throw new CliError(
              'CTR_CLI_USAGE',
              `"${spec}" has state stores (${topology.storeNames().join(', ')}) and "${applicationId}" has run before: pass --reset-state (exact replay from empty state) or --keep-state, or replay under a new --application-id`,
            );
        }
        const log = (line: string): void => void process.stderr.write(`${line}\n`);
        const ranges = await prepareReplay({
          kafka,
          applicationId,
          topology,
          from,
          ...(toTimestampMs !== undefined ? { toTimestampMs } : {}),
          state: o.resetState ? 'wipe' : 'keep',
          stateDir: config['state.dir'],
          onStep: log,
        });
        const total = ranges.reduce((n, r) => n + (r.stop - r.start), 0n);
        if (total === 0n) {
          process.stdout.write(`nothing to replay: the range holds no records\n`);
          return;
        }
        // the stop bound is enforced by the runtime: records at or after a partition's stop offset are not processed
        const stopOffsets = new Map(ranges.map((r) => [`${r.topic}:${r.partition}`, r.stop]));
        const running = await startApps(spec, config, o, { stopOffsets });
        const bar = new cliProgress.SingleBar(
          {
            format:
              'replay {bar} {percentage}% | {value}/{total} records | {rate} rec/s | ETA {eta_formatted}',
            stream: process.stderr,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        );
        const started = Date.now();
        bar.start(Number(total), 0, { rate: 0 });
        try {
          for (;;) {
            const failed = running.error();
            if (failed)
              throw new CliError(
                'CTR_CLI_FAILED',
                `replay of "${applicationId}" stopped: ${failed.message}`,
                { cause: failed },
              );
            const p = await replayProgress(kafka, applicationId, ranges);
            bar.update(Number(p.done), {
              rate: Math.round(Number(p.done) / Math.max(0.001, (Date.now() - started) / 1000)),
            });
            // inputs done: then what they wrote to intermediate topics must be processed too
            if (p.done >= p.total && (await intermediateCaughtUp(kafka, applicationId, topology))) break;
            if (Date.now() - started > (o.timeout ?? 3600) * 1000)
              throw new CliError(
                'CTR_CLI_FAILED',
                `replay of "${applicationId}" not done after ${o.timeout} s: ${p.done}/${p.total} records committed`,
              );
            await new Promise((r) => setTimeout(r, 500));
          }
        } finally {
          bar.stop();
          await running.close();
        }
        process.stdout.write(
          `replayed ${total} records of ${ranges.length} partition(s) as "${applicationId}" in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
        );
      }),
    );
}

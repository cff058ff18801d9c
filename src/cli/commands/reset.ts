/**
 * `ctr-streams reset <application-id>`: Kafka Streams' application reset tool
 * plus local state cleanup (see ../application-reset.ts for the steps).
 */
import type { Command } from 'commander';
import { createKafka } from '../../kafka/index.ts';
import { resetApplication } from '../application-reset.ts';
import { commandConfig, withConfigOptions, type ConfigFlags } from '../cli-config.ts';
import { commandAction, withCommonOptions } from '../command-action.ts';
import { parseTime } from '../time-spec.ts';
import { resolveTopology } from '../topology-catalog.ts';

interface ResetFlags extends ConfigFlags {
  topology?: string;
  topicPrefix: string;
  inputTopics?: string[];
  toDatetime?: string;
  deleteDlq?: boolean;
  dryRun?: boolean;
  keepState?: boolean;
}

export function registerReset(program: Command): void {
  const command = program
    .command('reset')
    .argument(
      '<application-id>',
      'the application (= consumer group, internal topic prefix, state sub-directory)',
    )
    .description(
      'reset an application to reprocess from the start: delete its internal topics, reset its input offsets, delete its local state; refuses while instances run',
    )
    .option(
      '-t, --topology <topology>',
      "the application's topology (its sources are the input topics; its internal topics are deleted)",
    )
    .option('--topic-prefix <prefix>', 'pipeline topic name prefix', '')
    .option('--input-topics <topics...>', "input topics to reset (added to the topology's)")
    .option(
      '--to-datetime <time>',
      'start the inputs at this time instead of the earliest offset (ISO, ms, or -2h)',
    )
    .option('--delete-dlq', 'also delete <application-id>-dlq (kept by default: it records bad input)')
    .option('--keep-state', 'do not delete <state.dir>/<application-id>')
    .option('--dry-run', 'print what would be done, change nothing');
  withCommonOptions(withConfigOptions(command, { applicationId: false }))
    .addHelpText(
      'after',
      '\nExamples:\n  ctr-streams reset ctr-engagement --topology engagement --dry-run\n  ctr-streams reset ctr-engagement --topology engagement --state-dir /var/lib/ctr-streams/state\n\nExit codes: 0 done, 1 failed, 2 bad usage, 3 refused (the group has live members).',
    )
    .action(
      commandAction('reset', async (applicationId: string, o: ResetFlags) => {
        const config = commandConfig({ ...o, applicationId });
        const topology = o.topology ? (await resolveTopology(o.topology, o.topicPrefix)).topology : undefined;
        const kafka = createKafka({
          bootstrapServers: config['bootstrap.servers'],
          clientId: `ctr-streams-reset-${applicationId}`,
        });
        const plan = await resetApplication({
          kafka,
          applicationId: config['application.id'],
          ...(topology ? { topology } : {}),
          ...(o.inputTopics
            ? { inputTopics: o.inputTopics.flatMap((t) => t.split(',')).filter((t) => t !== '') }
            : {}),
          ...(o.keepState ? {} : { stateDir: config['state.dir'] }),
          ...(o.toDatetime ? { toTimestampMs: parseTime('--to-datetime', o.toDatetime) } : {}),
          deleteDeadLetterTopic: o.deleteDlq ?? false,
          dryRun: o.dryRun ?? false,
          onStep: (line) => process.stdout.write(`${line}\n`),
        });
        process.stdout.write(
          `${plan.dryRun ? 'dry run: nothing changed' : 'reset done'}: ${plan.internalTopics.length} internal topic(s), ${plan.inputOffsets.length} input partition(s), local state ${plan.stateDirectory ? 'deleted' : 'none'}${plan.dryRun ? '' : `; "${plan.applicationId}" starts over at its next run`}\n`,
        );
      }),
    );
}

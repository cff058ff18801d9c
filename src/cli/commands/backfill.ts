/**
 * `ctr-streams backfill embeddings --model-version <v>`: roll the item
 * embeddings out to a model version, with progress and ETA (see
 * ../embedding-backfill.ts).
 */
import cliProgress from 'cli-progress';
import { Argument, Option, type Command } from 'commander';
import { createKafka } from '../../kafka/index.ts';
import { topicNames } from '../../../topologies/topics.ts';
import { commandAction, withCommonOptions } from '../command-action.ts';
import { backfillEmbeddings } from '../embedding-backfill.ts';
import { defaultBootstrap } from './options.ts';

interface BackfillFlags {
  modelVersion: string;
  registry: string;
  bootstrap: string;
  topicPrefix: string;
  promote: boolean;
  timeout: number;
}

export function registerBackfill(program: Command): void {
  withCommonOptions(
    program
      .command('backfill')
      .addArgument(new Argument('<what>', 'what to backfill').choices(['embeddings']))
      .description(
        're-embed every item with a model version: promote it in the registry (running embeddings instances pick it up) and follow item-embeddings until every item carries it',
      )
      .requiredOption('--model-version <v>', 'the registry version to roll out')
      .option(
        '--registry <dir>',
        'model registry directory',
        process.env.CTR_MODEL_REGISTRY ?? '/var/lib/ctr-streams/models',
      )
      .option('--bootstrap <servers>', 'bootstrap.servers', defaultBootstrap())
      .option('--topic-prefix <prefix>', 'pipeline topic name prefix', '')
      .option('--no-promote', 'only follow the progress (the version is already promoted)')
      .addOption(
        new Option('--timeout <s>', 'give up after this many seconds').argParser(Number).default(3600),
      ),
  )
    .addHelpText(
      'after',
      '\nNeeds a running embeddings application (`ctr-streams run embeddings`): it does the re-embedding, a chunk at a time, while live items keep flowing.\n\nExample:\n  ctr-streams backfill embeddings --model-version v000002 --registry /var/lib/ctr-streams/models',
    )
    .action(
      commandAction('backfill', async (_what: string, o: BackfillFlags) => {
        const kafka = createKafka({ bootstrapServers: o.bootstrap, clientId: 'ctr-streams-backfill' });
        const bar = new cliProgress.SingleBar(
          {
            format: 'backfill {bar} {percentage}% | {value}/{total} items on {version} | ETA {eta_formatted}',
            stream: process.stderr,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        );
        let started = false;
        const t0 = Date.now();
        try {
          const p = await backfillEmbeddings({
            kafka,
            registryDir: o.registry,
            version: o.modelVersion,
            topic: topicNames(o.topicPrefix).itemEmbeddings,
            promote: o.promote,
            timeoutMs: o.timeout * 1000,
            onProgress: (p) => {
              if (!started) {
                bar.start(p.total, p.done, { version: o.modelVersion });
                started = true;
              }
              bar.setTotal(p.total);
              bar.update(p.done, { version: o.modelVersion });
            },
          });
          bar.stop();
          process.stdout.write(
            `backfill done: ${p.done}/${p.total} items carry ${p.target === o.modelVersion ? o.modelVersion : `${p.target}, the embeddings of ${o.modelVersion} (its towers are ${p.target}'s)`} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`,
          );
        } finally {
          if (started) bar.stop();
        }
      }),
    );
}

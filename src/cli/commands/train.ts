/**
 * `ctr-streams train` and `ctr-streams eval`: the models' life cycle from
 * the command line (src/ml/train-eval.ts does the work).
 *
 * train: continues from the registry's latest version (weights and Adam
 * slots from its checkpoint) or starts a fresh model, trains on examples
 * from one source, validates on a held-out share, and publishes (and
 * promotes) a new version with its metrics; running instances pick it up.
 * Sources: `--examples <file.jsonl> --items <file.jsonl>` (JSON lines), or
 * `--world-seed <n>` (generated impressions of the synthetic world with a
 * known ground truth, as the demo uses).
 *
 * eval: quality of a version on fresh generated impressions next to the
 * Bayes-optimal figures, for warm items and for cold ones (tower embedding
 * vs OOV).
 */
import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import { commandAction, withCommonOptions } from '../command-action.ts';
import { CliError } from '../errors.ts';
import { positiveInt } from './options.ts';

interface TrainFlags {
  registry: string;
  examples?: string;
  items?: string;
  worldSeed?: number;
  worldExamples: number;
  validationShare: number;
  backend?: string;
}

interface EvalFlags {
  registry: string;
  modelVersion?: string;
  worldSeed: number;
  examples: number;
  backend?: string;
}

const registryOption = (): Option =>
  new Option('--registry <dir>', 'model registry directory').default(
    process.env.CTR_MODEL_REGISTRY ?? '/var/lib/ctr-streams/models',
  );

export function registerTrain(program: Command): void {
  withCommonOptions(
    program
      .command('train')
      .description(
        'train the next CTR model version from the latest one (or a fresh model) and publish it with its validation metrics',
      )
      .addOption(registryOption())
      .option(
        '--examples <file.jsonl>',
        'training examples, one JSON object per line: { features, itemId, label }',
      )
      .option(
        '--items <file.jsonl>',
        'item contents for --examples: { id, title, description, image (base64 RGB) }',
      )
      .addOption(
        new Option(
          '--world-seed <n>',
          'train on generated impressions of the synthetic world with this seed',
        ).argParser(positiveInt('--world-seed')),
      )
      .addOption(
        new Option('--world-examples <n>', 'generated examples with --world-seed')
          .argParser(positiveInt('--world-examples'))
          .default(20_000),
      )
      .addOption(
        new Option('--validation-share <x>', 'share of the examples held out for the metrics')
          .argParser(Number)
          .default(0.1),
      )
      .option('--backend <name>', 'tensor backend: auto, tensorflow, wasm, cpu', process.env.CTR_ML_BACKEND),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  ctr-streams train --registry ./models --world-seed 1\n  ctr-streams train --registry /var/lib/ctr-streams/models --examples examples.jsonl --items items.jsonl',
    )
    .action(
      commandAction('train', async (o: TrainFlags) => {
        if ((o.examples === undefined) === (o.worldSeed === undefined))
          throw new CliError(
            'CTR_CLI_USAGE',
            'give one source of examples: --examples <file> (with --items) or --world-seed <n>',
          );
        if (o.examples !== undefined && o.items === undefined)
          throw new CliError('CTR_CLI_USAGE', '--examples needs --items (the item contents the towers read)');
        if (!(o.validationShare >= 0 && o.validationShare < 1))
          throw new CliError(
            'CTR_CLI_USAGE',
            `--validation-share must be in [0, 1), got ${o.validationShare}`,
          );
        const ml = await import('../../ml/index.ts');
        await ml.initBackend((o.backend ?? 'auto') as never);
        const registry = new ml.ModelRegistry(o.registry);
        let examples: import('../../ml/index.ts').TrainingExample[] = [];
        let items: (id: string) => import('../../ml/index.ts').ItemContent | undefined;
        if (o.worldSeed !== undefined) {
          const world = new ml.World({ seed: o.worldSeed });
          examples = world
            .impressions(o.worldExamples)
            .map((imp) => ml.exampleFromImpression(imp, world.item(imp.itemId)!));
          items = (id) => world.item(id);
        } else {
          for await (const batch of ml.readExamplesFile(o.examples!)) examples.push(...batch);
          const contents = await ml.readItemsFile(o.items!);
          items = (id) => contents.get(id);
        }
        if (examples.length === 0) throw new CliError('CTR_CLI_USAGE', 'no training examples');
        const held = Math.floor(examples.length * o.validationShare);
        const validation = examples.slice(examples.length - held);
        const train = examples.slice(0, examples.length - held);
        const bar = new cliProgress.SingleBar(
          {
            format:
              'train {bar} {percentage}% | {value}/{total} examples | loss {loss} | ETA {eta_formatted}',
            stream: process.stderr,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(train.length, 0, { loss: '-' });
        let done = 0;
        const t0 = Date.now();
        let info;
        try {
          info = await ml.continueTraining({
            registry,
            batches: [train],
            items,
            validation,
            onStep: (r) => {
              done += r.examples;
              bar.update(Math.min(done, train.length), { loss: r.loss.toFixed(4) });
            },
          });
        } finally {
          bar.stop();
        }
        const metrics = Object.entries(info.metrics ?? {})
          .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toFixed(4)) : String(v)}`)
          .join(' ');
        process.stdout.write(
          `published ${info.version} (parent ${info.parent ?? 'none'}) after ${train.length} examples in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${metrics}\n`,
        );
      }),
    );

  withCommonOptions(
    program
      .command('eval')
      .description(
        'evaluate a model version on fresh generated impressions: AUC, log loss, calibration, next to the Bayes-optimal figures; warm and cold items',
      )
      .addOption(registryOption())
      .option('--model-version <v>', 'the version (default the latest)')
      .addOption(
        new Option(
          '--world-seed <n>',
          'the synthetic world to evaluate on (use the one the model was trained on)',
        )
          .argParser(positiveInt('--world-seed'))
          .default(1),
      )
      .addOption(
        new Option('--examples <n>', 'impressions per evaluation')
          .argParser(positiveInt('--examples'))
          .default(20_000),
      )
      .option('--backend <name>', 'tensor backend: auto, tensorflow, wasm, cpu', process.env.CTR_ML_BACKEND),
  ).action(
    commandAction('eval', async (o: EvalFlags) => {
      const ml = await import('../../ml/index.ts');
      await ml.initBackend((o.backend ?? 'auto') as never);
      const registry = new ml.ModelRegistry(o.registry);
      const version = o.modelVersion ?? (await registry.latest());
      if (version === undefined)
        throw new CliError(
          'CTR_CLI_USAGE',
          `model registry ${o.registry} has no version yet: train one first`,
        );
      const model = await registry.load(version);
      const world = new ml.World({ seed: o.worldSeed });
      const r = ml.evaluateOnWorld(model, world, { warmItems: world.items, examples: o.examples });
      const row = (name: string, q: import('../../ml/index.ts').QualityReport): string =>
        `${name.padEnd(12)} ${String(q.examples).padStart(8)} ${q.clickRate.toFixed(4).padStart(8)} ${q.auc.toFixed(4).padStart(7)} ${q.bayesAuc.toFixed(4).padStart(9)} ${q.logLoss.toFixed(4).padStart(8)} ${q.bayesLogLoss.toFixed(4).padStart(12)} ${q.ece.toFixed(4).padStart(7)}`;
      process.stdout.write(
        [
          `model ${version} on world seed ${o.worldSeed}`,
          `${'items'.padEnd(12)} ${'examples'.padStart(8)} ${'ctr'.padStart(8)} ${'auc'.padStart(7)} ${'bayes auc'.padStart(9)} ${'logloss'.padStart(8)} ${'bayes logloss'.padStart(12)} ${'ece'.padStart(7)}`,
          row('warm', r.warm),
          row('cold tower', r.coldTower),
          row('cold OOV', r.coldOov),
        ].join('\n') + '\n',
      );
    }),
  );
}

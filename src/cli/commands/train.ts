/**
 * `ctr-streams train` and `ctr-streams eval`: the models' life cycle from
 * the command line (src/ml/train-eval.ts does the work).
 *
 * train: continues from the registry's latest version (weights and Adam
 * slots from its checkpoint) or starts a fresh model, trains on examples
 * from one source, validates on a held-out share, and publishes (and
 * promotes) a new version with its metrics; running instances pick it up.
 * Sources: `--examples <file.jsonl> --items <file.jsonl>` (JSON lines),
 * `--world-seed <n>` (generated impressions of the synthetic world with a
 * known ground truth, as the demo uses), or `--from-topic`: continuous
 * training from the pipeline's `training-examples` topic, from the position
 * the parent version was trained through up to the end offsets at the start
 * of the run (../training-topic-source.ts); nothing new -> nothing published,
 * exit 0. The position is stored in the new version (`trainedThrough`); a
 * version trained from a file or generated data carries its parent's position
 * forward (its model has seen what the parent saw).
 *
 * eval: quality of a version on fresh generated impressions next to the
 * Bayes-optimal figures, for warm items and for cold ones (tower embedding
 * vs OOV).
 */
import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import { commandAction, withCommonOptions } from '../command-action.ts';
import { CliError } from '../errors.ts';
import { defaultBootstrap, positiveInt, positiveNumber } from './options.ts';
import type {
  ItemLookup,
  ItemLookupFactory,
  ModelRegistry,
  TrainingExample,
  TrainingPosition,
  TrainOptions,
} from '../../ml/index.ts';

interface TrainFlags {
  registry: string;
  examples?: string;
  items?: string;
  worldSeed?: number;
  worldExamples: number;
  fromTopic?: boolean;
  bootstrap: string;
  topicPrefix: string;
  schemaRegistry?: string;
  fromBeginning?: boolean;
  minExamples: number;
  readTimeout: number;
  validationShare: number;
  learningRate?: number;
  finalLearningRate?: number;
  batchSize: number;
  freezeTowers?: boolean;
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
      .option(
        '--from-topic',
        "train on the training-examples topic's records since the position the latest version was trained through",
      )
      .option('--bootstrap <servers>', 'bootstrap.servers (with --from-topic)', defaultBootstrap())
      .option('--topic-prefix <prefix>', 'pipeline topic name prefix (with --from-topic)', '')
      .option(
        '--schema-registry <url>',
        'Confluent-compatible schema registry (default env CTR_SCHEMA_REGISTRY_URL, else local ids of schemas/*.avsc)',
      )
      .option(
        '--from-beginning',
        "with --from-topic: read the topic from its earliest offsets, ignoring the latest version's position",
      )
      .addOption(
        new Option(
          '--min-examples <n>',
          'with --from-topic: publish only when at least n new examples can be trained on (else keep the position for the next run)',
        )
          .argParser(positiveInt('--min-examples'))
          .default(1),
      )
      .addOption(
        new Option(
          '--read-timeout <s>',
          'with --from-topic: give up when nothing is fetched from a topic for this many seconds',
        )
          .argParser(positiveInt('--read-timeout'))
          .default(60),
      )
      .addOption(
        new Option(
          '--learning-rate <x>',
          `Adam's learning rate at the start of the run (default ${FRESH_RATE} for a fresh model, ${CONTINUE_RATE} when continuing from a version)`,
        ).argParser(positiveNumber('--learning-rate')),
      )
      .addOption(
        new Option(
          '--final-learning-rate <x>',
          'the rate a cosine decay reaches at the end of the run (default a twentieth of the start rate; equal to it for a constant rate)',
        ).argParser(positiveNumber('--final-learning-rate')),
      )
      .addOption(
        new Option('--batch-size <n>', 'examples per optimizer step')
          .argParser(positiveInt('--batch-size'))
          .default(1024),
      )
      .option(
        '--freeze-towers',
        'train the scoring head only, on embeddings of the current towers (fast; the towers and so the stored embeddings stay valid)',
      )
      .option('--backend <name>', 'tensor backend: auto, tensorflow, wasm, cpu', process.env.CTR_ML_BACKEND),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  ctr-streams train --registry ./models --world-seed 1\n  ctr-streams train --registry /var/lib/ctr-streams/models --examples examples.jsonl --items items.jsonl\n  ctr-streams train --registry /var/lib/ctr-streams/models --from-topic --bootstrap kafka:9092\n\nWith --from-topic, a run with no new examples publishes nothing and exits 0.',
    )
    .action(
      commandAction('train', async (o: TrainFlags, cmd: Command) => {
        const sources = [o.examples !== undefined, o.worldSeed !== undefined, o.fromTopic === true];
        if (sources.filter(Boolean).length !== 1)
          throw new CliError(
            'CTR_CLI_USAGE',
            'give one source of examples: --examples <file> (with --items), --world-seed <n> or --from-topic',
          );
        if (o.examples !== undefined && o.items === undefined)
          throw new CliError('CTR_CLI_USAGE', '--examples needs --items (the item contents the towers read)');
        if (!(o.validationShare >= 0 && o.validationShare < 1))
          throw new CliError(
            'CTR_CLI_USAGE',
            `--validation-share must be in [0, 1), got ${o.validationShare}`,
          );
        if (!o.fromTopic) {
          // given on the command line but meaningless without the topic source: say so instead of ignoring them
          const topicOnly = TOPIC_ONLY_OPTIONS.filter((k) => cmd.getOptionValueSource(k) === 'cli');
          if (topicOnly.length > 0)
            throw new CliError(
              'CTR_CLI_USAGE',
              `${topicOnly.map((k) => `--${kebab(k)}`).join(', ')} appl${topicOnly.length === 1 ? 'ies' : 'y'} to --from-topic only`,
            );
        }
        const ml = await import('../../ml/index.ts');
        const registry = new ml.ModelRegistry(o.registry);
        const parent = await registry.latest();
        const parentInfo = parent === undefined ? undefined : await registry.info(parent);
        // a contradictory schedule is a usage error before any reading or training, not after
        learningRates(o, parent === undefined);
        if (o.fromTopic) {
          await trainFromTopic(o, registry, parent, parentInfo?.trainedThrough);
          return;
        }
        await ml.initBackend((o.backend ?? 'auto') as never);
        let examples: TrainingExample[] = [];
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
        await trainAndPublish(registry, {
          parent,
          train: examples.slice(0, examples.length - held),
          validation: examples.slice(examples.length - held),
          items,
          // the parent's model has seen the topic up to its position, and so has this one
          ...(parentInfo?.trainedThrough ? { trainedThrough: parentInfo.trainedThrough } : {}),
          trainingSource:
            o.worldSeed !== undefined
              ? { kind: 'world', seed: o.worldSeed, examples: examples.length }
              : { kind: 'file', examples: o.examples, items: o.items, count: examples.length },
          flags: o,
        });
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

interface TrainRun {
  /** The version trained from (undefined: a fresh model). */
  parent: string | undefined;
  train: readonly TrainingExample[];
  validation: readonly TrainingExample[];
  items: ItemLookup | ItemLookupFactory;
  trainedThrough?: TrainingPosition;
  trainingSource: Record<string, unknown>;
  flags: TrainFlags;
}

/** Options of the topic source (commander's camelCase keys). */
const TOPIC_ONLY_OPTIONS = [
  'bootstrap',
  'topicPrefix',
  'schemaRegistry',
  'fromBeginning',
  'minExamples',
  'readTimeout',
] as const;

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Start rates: a fresh model learns fast; a trained one is refined, not shaken. */
const FRESH_RATE = 0.01;
const CONTINUE_RATE = 0.002;

/**
 * The start and final rates of a run (`fresh`: no parent version).
 * @throws CliError CTR_CLI_USAGE when the final rate is above the start rate
 */
function learningRates(flags: TrainFlags, fresh: boolean): { start: number; end: number } {
  const start = flags.learningRate ?? (fresh ? FRESH_RATE : CONTINUE_RATE);
  const end = flags.finalLearningRate ?? start / 20;
  if (end > start)
    throw new CliError(
      'CTR_CLI_USAGE',
      `--final-learning-rate ${end} is above the start rate ${start}: the schedule only decays`,
    );
  return { start, end };
}

/** Optimizer settings of a run: a cosine decay over the run's known number of steps. */
function trainOptionsOf(flags: TrainFlags, examples: number, fresh: boolean): Partial<TrainOptions> {
  const { start, end } = learningRates(flags, fresh);
  return {
    batchSize: flags.batchSize,
    adam: { learningRate: start },
    schedule: {
      kind: 'cosine',
      totalSteps: Math.ceil(examples / flags.batchSize),
      finalLearningRate: end,
    },
    trainTowers: flags.freezeTowers !== true,
  };
}

/** Trains from `parent` with a progress bar, publishes, and prints the one result line on stdout. */
async function trainAndPublish(registry: ModelRegistry, run: TrainRun): Promise<void> {
  const ml = await import('../../ml/index.ts');
  const bar = new cliProgress.SingleBar(
    {
      format:
        'train {bar} {percentage}% | {value}/{total} examples | loss {loss} | lr {lr} | ETA {eta_formatted}',
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(run.train.length, 0, { loss: '-', lr: '-' });
  let done = 0;
  const t0 = Date.now();
  let info;
  try {
    info = await ml.continueTraining({
      registry,
      from: run.parent ?? null,
      batches: [run.train],
      items: run.items,
      validation: run.validation,
      onStep: (r) => {
        done += r.examples;
        bar.update(Math.min(done, run.train.length), {
          loss: r.loss.toFixed(4),
          lr: r.learningRate.toPrecision(2),
        });
      },
      train: trainOptionsOf(run.flags, run.train.length, run.parent === undefined),
      ...(run.trainedThrough ? { trainedThrough: run.trainedThrough } : {}),
      trainingSource: run.trainingSource,
      promote: false,
    });
  } finally {
    bar.stop();
  }
  // Promote only if LATEST is still the parent: another trainer that published meanwhile (two
  // runs at once, a manual file run) must not be silently replaced by a sibling of its parent.
  const latest = await registry.latest();
  if (latest !== run.parent)
    throw new CliError(
      'CTR_CLI_REGISTRY_MOVED',
      `published ${info.version} from ${run.parent ?? 'a fresh model'} but did not promote it: the registry's latest version became ${latest ?? 'none'} while training (another trainer ran at the same time); promote it with care or run again`,
    );
  await registry.promote(info.version);
  const metrics = Object.entries(info.metrics ?? {})
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toFixed(4)) : String(v)}`)
    .join(' ');
  process.stdout.write(
    `published ${info.version} (parent ${info.parent ?? 'none'}) after ${run.train.length} examples in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${metrics}\n`,
  );
  if (info.trainedThrough)
    process.stdout.write(`${info.version} is trained through ${describePosition(info.trainedThrough)}\n`);
}

/** `training-examples[0]=12 [1]=7`. */
function describePosition(p: TrainingPosition): string {
  return `${p.topic}${Object.entries(p.offsets)
    .map(([partition, offset]) => `[${partition}]=${offset}`)
    .join(' ')}`;
}

/** `train --from-topic`: see ../training-topic-source.ts for the steps and their reasons. */
async function trainFromTopic(
  o: TrainFlags,
  registry: ModelRegistry,
  parent: string | undefined,
  position: TrainingPosition | undefined,
): Promise<void> {
  const src = await import('../training-topic-source.ts');
  const { createKafka } = await import('../../kafka/index.ts');
  const { pipelineSerdes } = await import('../../../topologies/events.ts');
  const { topicNames } = await import('../../../topologies/topics.ts');
  const { cliSchemaRegistry } = await import('../avro-io.ts');
  const topics = topicNames(o.topicPrefix);
  const topic = topics.trainingExamples;
  const kafka = createKafka({ bootstrapServers: o.bootstrap, clientId: 'ctr-streams-train' });
  const serdes = pipelineSerdes(cliSchemaRegistry(o.schemaRegistry));
  const timeoutMs = o.readTimeout * 1000;
  const say = (line: string): boolean => process.stderr.write(`${line}\n`);

  const range = await src.planTrainingRange(kafka, topic, position, o.fromBeginning === true);
  const ends = describePosition(src.positionOf(range));
  const startText = {
    position: `from the position ${parent} was trained through`,
    'no-position':
      parent === undefined
        ? 'from the beginning (the registry has no version yet)'
        : `from the beginning (${parent} has no topic position: it was trained from a file or generated data)`,
    'other-topic': `from the beginning (${parent} was trained through another topic, ${position?.topic})`,
    'from-beginning': 'from the beginning (--from-beginning)',
  }[range.reason];
  for (const w of range.warnings) say(`warning: ${w}`);
  const size = src.rangeSize(range);
  say(`reading ${topic} ${startText} up to ${ends}: ${size} record(s)`);
  if (size === 0) {
    process.stdout.write(
      `no new examples in ${topic} since ${parent ?? 'the beginning'} (end offsets ${ends}): nothing published\n`,
    );
    return;
  }

  const readBar = new cliProgress.SingleBar(
    {
      format: 'read  {bar} {percentage}% | {value}/{total} records | ETA {eta_formatted}',
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  readBar.start(size, 0);
  let read;
  try {
    read = await src.readTrainingEvents(kafka, range, serdes, {
      timeoutMs,
      onRecords: (n) => readBar.increment(n),
    });
  } finally {
    readBar.stop();
  }
  const ids = new Set(read.events.map((e) => e.event.itemId));
  const catalogue = await src.readItemsFor(kafka, topics.itemCreated, ids, serdes, { timeoutMs });
  const { examples, unknownItems } = src.toTrainingExamples(read.events, catalogue.items);
  const c = read.counts;
  say(
    `read ${c.records} record(s) from ${topic}: ${examples.length} example(s) to train on; skipped ${unknownItems} with an unknown item (not in ${topics.itemCreated}), ${c.undecodable} undecodable, ${c.duplicates} duplicate(s), ${c.tombstones} empty`,
  );
  if (c.undecodable > 0)
    say(`warning: ${c.undecodable} undecodable record(s) skipped; the first: ${read.badRecords.join('; ')}`);
  // an item whose record cannot be decoded is unknown to this run: its examples are among the skipped above
  if (catalogue.undecodable > 0)
    say(
      `warning: ${catalogue.undecodable} undecodable record(s) of ${topics.itemCreated} skipped (their items count as unknown); the first: ${catalogue.badRecords.join('; ')}`,
    );
  if (examples.length < o.minExamples) {
    process.stdout.write(
      examples.length === 0
        ? `no new examples in ${topic} since ${parent ?? 'the beginning'} (${c.records} record(s) read, none usable): nothing published\n`
        : `only ${examples.length} new example(s) in ${topic}, fewer than --min-examples ${o.minExamples}: nothing published; the next run reads them again\n`,
    );
    return;
  }
  const { train, validation } = src.holdOutLatest(examples, o.validationShare);
  const ml = await import('../../ml/index.ts');
  await ml.initBackend((o.backend ?? 'auto') as never);
  await trainAndPublish(registry, {
    parent,
    train: train.map((e) => e.example),
    validation: validation.map((e) => e.example),
    items: src.itemLookupOf(catalogue.items),
    trainedThrough: src.positionOf(range),
    flags: o,
    trainingSource: {
      kind: 'topic',
      topic,
      start: range.reason,
      fromOffsets: Object.fromEntries([...range.start].map(([p, off]) => [String(p), off.toString()])),
      records: c.records,
      examples: examples.length,
      skippedUnknownItem: unknownItems,
      skippedUndecodable: c.undecodable,
      undecodableItemRecords: catalogue.undecodable,
      skippedDuplicate: c.duplicates,
      skippedEmpty: c.tombstones,
    },
  });
}

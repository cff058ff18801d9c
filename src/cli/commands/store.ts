/**
 * `ctr-streams store get|scan|count <store>`: reads a key-value store of a
 * stopped application from its state directory (see ../store-reader.ts).
 * Output: one JSON object per line (`{"task","key","value"}`), so it pipes
 * into jq; `count` prints per-task counts and the total.
 */
import { Option, type Command } from 'commander';
import { commandConfig, withConfigOptions, type ConfigFlags } from '../cli-config.ts';
import { commandAction, withCommonOptions } from '../command-action.ts';
import { positiveInt } from './options.ts';
import { StoreReader, toJson, type StoreLocation } from '../store-reader.ts';
import { resolveTopology } from '../topology-catalog.ts';

interface StoreFlags extends ConfigFlags {
  topology?: string;
  topicPrefix: string;
  task?: string;
  from?: string;
  to?: string;
  prefix?: string;
  limit?: number;
}

async function location(store: string, o: StoreFlags): Promise<StoreLocation> {
  const resolved = o.topology ? await resolveTopology(o.topology, o.topicPrefix) : undefined;
  const config = commandConfig(o, { applicationId: resolved?.defaultApplicationId });
  return {
    stateDir: config['state.dir'],
    applicationId: config['application.id'],
    store,
    ...(o.task ? { task: o.task } : {}),
    ...(resolved ? { topology: resolved.topology } : {}),
  };
}

function common(command: Command): Command {
  return withCommonOptions(withConfigOptions(command))
    .option(
      '-t, --topology <topology>',
      "the application's topology: decodes keys and values with the store's serdes (else raw text/hex)",
    )
    .option('--topic-prefix <prefix>', 'pipeline topic name prefix', '')
    .option('--task <id>', 'only this task, e.g. 0_3');
}

export function registerStore(program: Command): void {
  const store = program
    .command('store')
    .description(
      'read a key-value state store of a stopped application from its state directory (JSON lines)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  ctr-streams store count item-embeddings -t embeddings --state-dir /var/lib/ctr-streams/state\n  ctr-streams store get item-embeddings item-42 -t embeddings --state-dir ...\n  ctr-streams store scan context-candidates -t engagement --limit 10 --state-dir ...',
    );

  common(
    store
      .command('get')
      .argument('<store>', 'store name')
      .argument('<key>', 'the key (JSON for non-string key serdes)')
      .description('print the value of one key'),
  ).action(
    commandAction('store get', async (name: string, key: string, o: StoreFlags) => {
      const entries = await new StoreReader(await location(name, o)).get(key);
      for (const e of entries) process.stdout.write(`${toJson(e)}\n`);
      if (entries.length === 0) {
        process.stderr.write(`ctr-streams store get: key "${key}" not found in "${name}"\n`);
        process.exitCode = 1;
      }
    }),
  );

  common(
    store
      .command('scan')
      .argument('<store>', 'store name')
      .description('print entries in key order, task by task'),
  )
    .option('--from <key>', 'first key (inclusive)')
    .option('--to <key>', 'last key (inclusive)')
    .option('--prefix <text>', 'only keys starting with these bytes')
    .addOption(new Option('--limit <n>', 'stop after n entries').argParser(positiveInt('--limit')))
    .action(
      commandAction('store scan', async (name: string, o: StoreFlags) => {
        let n = 0;
        const bounds = {
          ...(o.from !== undefined ? { from: o.from } : {}),
          ...(o.to !== undefined ? { to: o.to } : {}),
          ...(o.prefix !== undefined ? { prefix: o.prefix } : {}),
        };
        for await (const e of new StoreReader(await location(name, o)).scan(bounds)) {
          process.stdout.write(`${toJson(e)}\n`);
          if (o.limit !== undefined && ++n >= o.limit) break;
        }
      }),
    );

  common(
    store
      .command('count')
      .argument('<store>', 'store name')
      .description('count entries per task and in total (exact: a full scan)'),
  ).action(
    commandAction('store count', async (name: string, o: StoreFlags) => {
      const counts = await new StoreReader(await location(name, o)).count();
      let total = 0;
      for (const [task, n] of counts) {
        process.stdout.write(`${task}\t${n}\n`);
        total += n;
      }
      process.stdout.write(`total\t${total}\n`);
    }),
  );
}

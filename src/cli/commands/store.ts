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
import { CliError } from '../errors.ts';
import { resolveTopology } from '../topology-catalog.ts';

interface StoreFlags extends ConfigFlags {
  url?: string;
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
      .description(
        "print the value of one key (from the state directory, or with --url from a running pipeline's lookup API)",
      )
      .option(
        '--url <lookup-url>',
        "a running pipeline's lookup API (`run all --lookup-port`): stores item-embeddings and recommendations",
      ),
  ).action(
    commandAction('store get', async (name: string, key: string, o: StoreFlags) => {
      if (o.url !== undefined) {
        process.stdout.write(`${await lookupGet(o.url, name, key)}\n`);
        return;
      }
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

/** The lookup API's view of a store: the pipeline's two global tables, by the store names operators know. */
const LOOKUP_PATHS: Record<string, (key: string) => string> = {
  'item-embeddings': (key) => `/items/${encodeURIComponent(key)}/embedding`,
  recommendations: (key) => `/contexts/${encodeURIComponent(key)}/recommendations`,
};

/** GET one key through a running pipeline's lookup API. @throws CliError for an unknown store, a missing key or an unreachable API */
async function lookupGet(url: string, store: string, key: string): Promise<string> {
  const path = LOOKUP_PATHS[store];
  if (!path)
    throw new CliError(
      'CTR_CLI_USAGE',
      `the lookup API serves ${Object.keys(LOOKUP_PATHS).join(' and ')}, not "${store}" (read other stores from a stopped app's --state-dir)`,
    );
  const target = new URL(path(key), url).href;
  let response: Response;
  try {
    response = await fetch(target);
  } catch (error) {
    throw new CliError(
      'CTR_CLI_FAILED',
      `cannot reach the lookup API at ${target}: ${(error as Error).message}`,
      { cause: error, retriable: true },
    );
  }
  const body = await response.text();
  if (response.status === 404)
    throw new CliError('CTR_CLI_FAILED', `key "${key}" not found in "${store}" at ${url}: ${body}`);
  if (!response.ok)
    throw new CliError('CTR_CLI_FAILED', `lookup API ${target} answered ${response.status}: ${body}`);
  return body;
}

/**
 * `ctr-streams describe <topology>`: the topology's sub-topologies, nodes,
 * stores and topics as Kafka Streams prints them (text), as a diagram
 * (Mermaid, Graphviz DOT, or SVG rendered offline by a wasm Graphviz), or as
 * a JSON snapshot; `--diff <saved.json>` says what a change would orphan or
 * rename, and exits 3 when something breaks state.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { commandAction, withCommonOptions } from '../command-action.ts';
import { CliError } from '../errors.ts';
import { resolveTopology } from '../topology-catalog.ts';
import {
  DESCRIBE_FORMATS,
  diffSnapshots,
  parseSnapshot,
  snapshotOf,
  toDot,
  toMermaid,
  type DescribeFormat,
} from '../topology-graph.ts';

export interface DescribeOptions {
  format: DescribeFormat;
  diff?: string;
  topicPrefix: string;
}

/** The output of `describe` (for tests and other commands). @throws CliError */
export async function describeTopology(
  spec: string,
  o: DescribeOptions,
): Promise<{ text: string; breaking: boolean }> {
  const { topology } = await resolveTopology(spec, o.topicPrefix);
  if (o.diff !== undefined) {
    let saved: string;
    try {
      saved = readFileSync(o.diff, 'utf8');
    } catch (error) {
      throw new CliError(
        'CTR_CLI_USAGE',
        `cannot read saved topology ${o.diff}: ${(error as Error).message}`,
      );
    }
    let snapshot;
    try {
      snapshot = parseSnapshot(saved, o.diff);
    } catch (error) {
      throw new CliError('CTR_CLI_USAGE', (error as Error).message);
    }
    const findings = diffSnapshots(snapshot, snapshotOf(topology));
    if (findings.length === 0)
      return {
        text: `no changes: ${spec} has the same nodes, stores and internal topics as ${o.diff}\n`,
        breaking: false,
      };
    const breaking = findings.filter((f) => f.breaking);
    const lines = findings.map((f) => `${f.breaking ? 'BREAKING' : 'ok      '}  ${f.message}`);
    lines.push(
      breaking.length === 0
        ? `compatible: ${findings.length} change(s), none strands state`
        : `incompatible: ${breaking.length} change(s) strand state or internal topics; keep the old names, or reset the application (ctr-streams reset) before running the new version`,
    );
    return { text: lines.join('\n') + '\n', breaking: breaking.length > 0 };
  }
  const description = topology.describe();
  switch (o.format) {
    case 'text':
      return { text: description.toString(), breaking: false };
    case 'mermaid':
      return { text: toMermaid(description), breaking: false };
    case 'dot':
      return { text: toDot(description), breaking: false };
    case 'json':
      return { text: JSON.stringify(snapshotOf(topology), null, 2) + '\n', breaking: false };
    case 'svg': {
      // loaded on demand: the wasm Graphviz is a few MB
      const { instance } = await import('@viz-js/viz');
      const viz = await instance();
      return {
        text: viz.renderString(toDot(description), { format: 'svg', engine: 'dot' }),
        breaking: false,
      };
    }
  }
}

export function registerDescribe(program: Command): void {
  withCommonOptions(
    program
      .command('describe')
      .argument(
        '<topology>',
        'embeddings | engagement | recommendations | path to a module exporting a Topology',
      )
      .description(
        'print a topology (Kafka Streams text, Mermaid, DOT, SVG or a JSON snapshot); --diff says what a change would orphan or rename',
      )
      .addOption(
        new Option('-f, --format <format>', 'output format').choices(DESCRIBE_FORMATS).default('text'),
      )
      .option(
        '--diff <saved.json>',
        'compare with a snapshot saved by `describe --format json`; exits 3 when state would be stranded',
      )
      .option('--topic-prefix <prefix>', 'pipeline topic name prefix', '')
      .addHelpText(
        'after',
        '\nExamples:\n  ctr-streams describe engagement\n  ctr-streams describe recommendations --format mermaid\n  ctr-streams describe ./my-app.ts --format svg > my-app.svg\n  ctr-streams describe engagement --format json > engagement-v1.json   # before a change\n  ctr-streams describe engagement --diff engagement-v1.json            # after it',
      ),
  ).action(
    commandAction('describe', async (spec: string, o: DescribeOptions) => {
      const { text, breaking } = await describeTopology(spec, o);
      process.stdout.write(text);
      if (breaking) process.exitCode = 3;
    }),
  );
}

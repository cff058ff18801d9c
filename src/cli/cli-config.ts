/**
 * The settings a command runs with, from the same sources as an application
 * (lowest precedence first): defaults, `--config <file>` (.properties or
 * .json), `CTR_*` environment variables, then the command's flags
 * (`--bootstrap`, `--application-id`, `--state-dir`, `--set key=value`).
 * One validated StreamsConfig; every bad setting is reported at once.
 */
import type { Command } from 'commander';
import { loadStreamsConfig, readConfigFile, type StreamsConfig } from '../streams/config.ts';
import { CliError } from './errors.ts';

export interface ConfigFlags {
  config?: string;
  bootstrap?: string;
  applicationId?: string;
  stateDir?: string;
  set?: string[];
}

/** Adds --config, --bootstrap, --application-id, --state-dir and --set to a command. */
export function withConfigOptions(command: Command, options: { applicationId?: boolean } = {}): Command {
  command
    .option(
      '-c, --config <file>',
      'settings file (.properties or .json) with Kafka Streams names (docs/configuration.md)',
    )
    .option(
      '--bootstrap <servers>',
      'bootstrap.servers (default: the file, env CTR_BOOTSTRAP_SERVERS or CTR_KAFKA_BOOTSTRAP, else 127.0.0.1:9092)',
    )
    .option('--state-dir <dir>', 'state.dir');
  if (options.applicationId ?? true)
    command.option(
      '--application-id <id>',
      "application.id (default: the file, env CTR_APPLICATION_ID, else the topology's default)",
    );
  return command.option('--set <key=value...>', 'any other setting, e.g. --set commit.interval.ms=1000');
}

function parseSets(sets: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of sets ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new CliError('CTR_CLI_USAGE', `--set expects key=value, got "${s}"`);
    out[s.slice(0, eq).trim()] = s.slice(eq + 1).trim();
  }
  return out;
}

/**
 * The validated config of a command.
 * @param fallbacks used only where no source set a value (e.g. the topology's default application id)
 * @throws ConfigError listing every bad setting; CliError for a malformed --set
 */
export function commandConfig(
  flags: ConfigFlags,
  fallbacks: { applicationId?: string | undefined } = {},
): StreamsConfig {
  const overrides: Record<string, unknown> = parseSets(flags.set);
  if (flags.bootstrap) overrides['bootstrap.servers'] = flags.bootstrap;
  if (flags.applicationId) overrides['application.id'] = flags.applicationId;
  if (flags.stateDir) overrides['state.dir'] = flags.stateDir;
  const env: NodeJS.ProcessEnv = { ...process.env };
  // the CLI's own defaults sit below the file and env: apply them only where neither names the setting
  if (
    overrides['bootstrap.servers'] === undefined &&
    env.CTR_BOOTSTRAP_SERVERS === undefined &&
    !fileHas(flags.config, 'bootstrap.servers')
  )
    overrides['bootstrap.servers'] = env.CTR_KAFKA_BOOTSTRAP ?? '127.0.0.1:9092';
  if (
    overrides['application.id'] === undefined &&
    env.CTR_APPLICATION_ID === undefined &&
    !fileHas(flags.config, 'application.id') &&
    fallbacks.applicationId
  )
    overrides['application.id'] = fallbacks.applicationId;
  return loadStreamsConfig({ ...(flags.config ? { file: flags.config } : {}), env, overrides });
}

function fileHas(file: string | undefined, name: string): boolean {
  if (!file) return false;
  try {
    return readConfigFile(file)[name] !== undefined;
  } catch {
    return false; // the real load reports an unreadable file
  }
}

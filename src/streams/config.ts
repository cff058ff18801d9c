/**
 * The engine's configuration: ONE declared table of settings with Kafka
 * Streams' names (StreamsConfig.java), each with type, default, unit, doc and
 * validator. Everything else (docs/configuration.md, `--help`, env var names)
 * is generated from `STREAMS_CONFIG_TABLE`, so the table is the single truth.
 *
 * Sources, lowest precedence first: the table's defaults, a JSON or
 * `.properties` file, environment variables (`CTR_` + the dotted name in upper
 * case with `_`: `commit.interval.ms` -> `CTR_COMMIT_INTERVAL_MS`), then the
 * object given in code (what a CLI flag sets wins over everything).
 *
 * Validation runs over every source at once and throws one ConfigError that
 * lists every bad field (`commit.interval.ms: expected integer >= 0, got "5s"`).
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type ConfigProblem } from './config-error.ts';

export { ConfigError, type ConfigProblem } from './config-error.ts';

/** The handler names every exception-handler setting accepts (Kafka Streams: LogAndFail / LogAndContinue / DLQ). */
export const EXCEPTION_HANDLER_NAMES = ['fail', 'log-and-continue', 'dead-letter'] as const;
export type ExceptionHandlerName = (typeof EXCEPTION_HANDLER_NAMES)[number];

export const PROCESSING_GUARANTEES = ['at_least_once', 'exactly_once_v2'] as const;
export type ProcessingGuarantee = (typeof PROCESSING_GUARANTEES)[number];

/** The typed, validated configuration, keyed by Kafka Streams' dotted names. */
export interface StreamsConfig {
  'application.id': string;
  'bootstrap.servers': string[];
  'client.id': string;
  'application.server': string;
  'state.dir': string;
  'processing.guarantee': ProcessingGuarantee;
  'commit.interval.ms': number;
  'statestore.cache.max.bytes': number;
  'statestore.uncommitted.max.bytes': number;
  'num.stream.threads': number;
  'num.standby.replicas': number;
  'replication.factor': number;
  'default.key.serde': string;
  'default.value.serde': string;
  'max.poll.records': number;
  'fetch.max.bytes': number;
  'max.partition.fetch.bytes': number;
  'fetch.max.wait.ms': number;
  'buffered.records.per.partition': number;
  'session.timeout.ms': number;
  'heartbeat.interval.ms': number;
  'max.poll.interval.ms': number;
  'restore.batch.max.records': number;
  'task.timeout.ms': number;
  'punctuation.interval.ms': number;
  'task.yield.interval.ms': number;
  'shutdown.timeout.ms': number;
  'default.deserialization.exception.handler': ExceptionHandlerName;
  'processing.exception.handler': ExceptionHandlerName;
  'default.production.exception.handler': ExceptionHandlerName;
  'errors.dead.letter.queue.topic.name': string;
  'schema.registry.url': string;
  'basic.auth.user.info': string;
}

export type StreamsConfigName = keyof StreamsConfig;

/** What a user may pass: any subset, values as their type or as strings (files and env give strings). */
export type StreamsConfigInput = { [K in StreamsConfigName]?: StreamsConfig[K] | string };

export type ConfigType = 'string' | 'list' | 'int' | 'long' | 'enum';
export type Importance = 'high' | 'medium' | 'low';

/** One row of the table. `validate` returns the parsed value, or a problem message (`expected ..., got ...`). */
export interface ConfigDef<K extends StreamsConfigName = StreamsConfigName> {
  name: K;
  type: ConfigType;
  /** undefined: required. A function: derived from the other (already parsed) values. */
  default: StreamsConfig[K] | ((c: Partial<StreamsConfig>) => StreamsConfig[K]) | undefined;
  /** Shown in docs, e.g. `ms`, `bytes`, `records`. */
  unit?: string;
  importance: Importance;
  doc: string;
  /** Set when Kafka Streams has this setting but this engine does not apply it; says why. */
  notApplicable?: string;
  validate(value: unknown): StreamsConfig[K] | ConfigInvalid;
}

/** A failed validation: the message, e.g. `expected integer >= 0, got "5s"`. */
export class ConfigInvalid {
  constructor(readonly message: string) {}
}

const show = (v: unknown): string =>
  typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? JSON.stringify(v) : String(v);

function intValidator(min: number, max = Number.MAX_SAFE_INTEGER, what = 'integer') {
  return (v: unknown): number | ConfigInvalid => {
    const n =
      typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    if (!Number.isSafeInteger(n) || n < min || n > max)
      return new ConfigInvalid(`expected ${what} ${range}, got ${show(v)}`);
    return n;
  };
}

function stringValidator(pattern?: RegExp, patternDoc?: string) {
  return (v: unknown): string | ConfigInvalid => {
    if (typeof v !== 'string' || v.trim() === '')
      return new ConfigInvalid(`expected a non-empty string, got ${show(v)}`);
    const s = v.trim();
    if (pattern && !pattern.test(s)) return new ConfigInvalid(`expected ${patternDoc}, got ${show(v)}`);
    return s;
  };
}

function enumValidator<T extends string>(values: readonly T[]) {
  return (v: unknown): T | ConfigInvalid => {
    const s = typeof v === 'string' ? v.trim() : v;
    if (typeof s === 'string' && (values as readonly string[]).includes(s)) return s as T;
    return new ConfigInvalid(`expected one of ${values.join(', ')}, got ${show(v)}`);
  };
}

function hostListValidator(v: unknown): string[] | ConfigInvalid {
  const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : undefined;
  if (!list) return new ConfigInvalid(`expected a comma-separated list of host:port, got ${show(v)}`);
  const hosts = list.map((h) => (typeof h === 'string' ? h.trim() : '')).filter((h) => h !== '');
  const bad = hosts.filter((h) => !/^[^\s:]+:\d{1,5}$/.test(h) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(h));
  if (hosts.length === 0 || bad.length > 0 || list.some((h) => typeof h !== 'string')) {
    return new ConfigInvalid(`expected a comma-separated list of host:port, got ${show(v)}`);
  }
  return hosts;
}

/** Kafka topic-name rules: what application.id must satisfy, since it prefixes internal topic names. */
const TOPIC_SAFE = /^[A-Za-z0-9._-]{1,200}$/;

function def<K extends StreamsConfigName>(d: ConfigDef<K>): ConfigDef<K> {
  return d;
}

/**
 * The table. Order is the order of the generated docs: most important first.
 * Exported so docs/configuration.md can be generated from it (`renderConfigDocs`).
 */
export const STREAMS_CONFIG_TABLE: readonly ConfigDef[] = [
  def({
    name: 'application.id',
    type: 'string',
    default: undefined,
    importance: 'high',
    doc: 'Identifies the application: the consumer group id, the prefix of internal topics (`<application.id>-<store>-changelog`) and the state directory sub-folder. Instances with the same id share the work.',
    validate: stringValidator(
      TOPIC_SAFE,
      'letters, digits, ".", "_" or "-" (at most 200; it prefixes topic names)',
    ),
  }),
  def({
    name: 'bootstrap.servers',
    type: 'list',
    default: undefined,
    importance: 'high',
    doc: 'Kafka brokers to bootstrap from, `host:port` comma-separated.',
    validate: hostListValidator,
  }),
  def({
    name: 'state.dir',
    type: 'string',
    default: join(tmpdir(), 'ctr-streams'),
    importance: 'high',
    doc: 'Directory of the local state stores: `<state.dir>/<application.id>/<task>/<store>`. Must be on persistent storage in production (a PVC per pod) or every start restores from the changelogs.',
    validate: stringValidator(),
  }),
  def({
    name: 'processing.guarantee',
    type: 'enum',
    default: 'at_least_once',
    importance: 'medium',
    doc: "`at_least_once`: every record's effect is present at least once after any crash; records processed after the last commit may be applied twice. `exactly_once_v2` is reserved (transactional producer per task) and rejected for now.",
    validate: (v) => {
      const r = enumValidator(PROCESSING_GUARANTEES)(v);
      if (r === 'exactly_once_v2')
        return new ConfigInvalid('exactly_once_v2 is reserved and not implemented yet; use at_least_once');
      return r;
    },
  }),
  def({
    name: 'commit.interval.ms',
    type: 'long',
    default: 30_000,
    unit: 'ms',
    importance: 'high',
    doc: 'How often each task commits: flush caches, send changelog records and outputs, await acks, write store positions, commit consumer offsets. Smaller means fewer duplicates after a crash and more commit cost. 0 commits after every batch.',
    validate: intValidator(0),
  }),
  def({
    name: 'statestore.cache.max.bytes',
    type: 'long',
    default: 10 * 1024 * 1024,
    unit: 'bytes',
    importance: 'medium',
    doc: 'Memory for the write-back caches of ALL stores of this instance together; least-recently-used entries are evicted (dirty ones written down) above it. 0 disables caching.',
    validate: intValidator(0),
  }),
  def({
    name: 'statestore.uncommitted.max.bytes',
    type: 'long',
    default: 64 * 1024 * 1024,
    unit: 'bytes',
    importance: 'medium',
    doc: "Upper bound of the writes a persistent store holds uncommitted in memory between commits (KIP-892); when a task's stores exceed it, the task commits early.",
    validate: intValidator(0),
  }),
  def({
    name: 'client.id',
    type: 'string',
    default: (c) => `${c['application.id'] ?? 'ctr-streams'}-${process.pid}`,
    importance: 'medium',
    doc: 'Client id prefix sent to the brokers (logs, quotas). Default `<application.id>-<pid>`.',
    validate: stringValidator(),
  }),
  def({
    name: 'application.server',
    type: 'string',
    default: '',
    importance: 'low',
    doc: 'host:port where this instance serves interactive queries (its HTTP endpoint). Carried in the consumer group metadata so every instance knows which instance holds which key; empty = not announced.',
    validate: (v) => {
      if (v === '' || v === undefined) return '';
      if (typeof v !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(v.trim()))
        return new ConfigInvalid(`expected host:port (e.g. 10.0.0.7:8080), got ${show(v)}`);
      return v.trim();
    },
  }),
  def({
    name: 'num.stream.threads',
    type: 'int',
    default: 1,
    importance: 'low',
    notApplicable:
      'Node runs JavaScript on one thread: an instance runs all its tasks on its event loop (async I/O overlaps). Scale out with more instances of the same application.id, and put CPU-heavy model work in worker threads.',
    doc: 'Not applicable: only 1 is accepted.',
    validate: (v) => {
      const n = intValidator(1)(v);
      if (n instanceof ConfigInvalid) return n;
      return n === 1
        ? 1
        : new ConfigInvalid(
            `not applicable (one event loop per process): run more instances instead; got ${show(v)}`,
          );
    },
  }),
  def({
    name: 'num.standby.replicas',
    type: 'int',
    default: 0,
    importance: 'low',
    notApplicable: 'Standby tasks are not implemented: a moved task restores from its changelog.',
    doc: 'Not applicable yet: only 0 is accepted.',
    validate: (v) => {
      const n = intValidator(0)(v);
      if (n instanceof ConfigInvalid) return n;
      return n === 0 ? 0 : new ConfigInvalid(`standby replicas are not implemented; got ${show(v)}`);
    },
  }),
  def({
    name: 'replication.factor',
    type: 'int',
    default: -1,
    importance: 'medium',
    doc: "Replication factor of the internal topics the app creates (changelogs, DLQ). -1 takes the broker's default.replication.factor.",
    validate: (v) => {
      const n = intValidator(-1, 32767)(v);
      if (n === 0) return new ConfigInvalid(`expected -1 or an integer >= 1, got ${show(v)}`);
      return n;
    },
  }),
  def({
    name: 'default.key.serde',
    type: 'string',
    default: 'bytes',
    importance: 'medium',
    doc: 'Serde name for keys where the topology names none (`bytes`, `string`, `json`, ...: resolved by the serde registry).',
    validate: stringValidator(),
  }),
  def({
    name: 'default.value.serde',
    type: 'string',
    default: 'bytes',
    importance: 'medium',
    doc: 'Serde name for values where the topology names none.',
    validate: stringValidator(),
  }),
  def({
    name: 'max.poll.records',
    type: 'int',
    default: 1000,
    unit: 'records',
    importance: 'medium',
    doc: 'Largest batch handed to one task.process call: a fetched batch is cut into chunks of at most this many records, so one call stays short and heartbeats keep flowing between chunks.',
    validate: intValidator(1),
  }),
  def({
    name: 'fetch.max.bytes',
    type: 'int',
    default: 50 * 1024 * 1024,
    unit: 'bytes',
    importance: 'low',
    doc: 'Most bytes one fetch request returns across partitions.',
    validate: intValidator(1),
  }),
  def({
    name: 'max.partition.fetch.bytes',
    type: 'int',
    default: 1024 * 1024,
    unit: 'bytes',
    importance: 'low',
    doc: 'Most bytes one fetch returns per partition.',
    validate: intValidator(1),
  }),
  def({
    name: 'fetch.max.wait.ms',
    type: 'int',
    default: 500,
    unit: 'ms',
    importance: 'low',
    doc: 'How long the broker may hold a fetch waiting for data. Also bounds how quickly an idle consumer notices a rebalance.',
    validate: intValidator(0),
  }),
  def({
    name: 'buffered.records.per.partition',
    type: 'int',
    default: 1000,
    unit: 'records',
    importance: 'medium',
    doc: 'Backpressure: when a partition has more records fetched but not yet processed, fetching from it pauses until its task catches up.',
    validate: intValidator(1),
  }),
  def({
    name: 'session.timeout.ms',
    type: 'int',
    default: 45_000,
    unit: 'ms',
    importance: 'medium',
    doc: 'The group drops a member that sends no heartbeat for this long. Heartbeats share the event loop with processing: no single processor step may block it this long (see heartbeat guidance in docs).',
    validate: intValidator(1000),
  }),
  def({
    name: 'heartbeat.interval.ms',
    type: 'int',
    default: 3000,
    unit: 'ms',
    importance: 'low',
    doc: 'Expected time between heartbeats; must be lower than session.timeout.ms (a third of it or less).',
    validate: intValidator(1),
  }),
  def({
    name: 'max.poll.interval.ms',
    type: 'int',
    default: 300_000,
    unit: 'ms',
    importance: 'low',
    doc: 'Rebalance timeout: how long the group waits for members to rejoin during a rebalance.',
    validate: intValidator(1000),
  }),
  def({
    name: 'restore.batch.max.records',
    type: 'int',
    default: 10_000,
    unit: 'records',
    importance: 'low',
    doc: 'Most changelog records written to a store in one restoreBatch call (one LevelDB batch).',
    validate: intValidator(1),
  }),
  def({
    name: 'task.timeout.ms',
    type: 'long',
    default: 300_000,
    unit: 'ms',
    importance: 'medium',
    doc: "How long a task may keep failing with retriable errors (a changelog partition's leader moving, a request timing out, a broker restarting) before the error is fatal (KIP-572). Applies to store restores; a failure while processing or committing is handled as before (producer and consumer retries, then fatal). A restore retries with exponential backoff (100 ms doubling to 5 s) from the position its store reached; the clock restarts whenever the restore makes progress. 0 fails on the first error. An out-of-range changelog position is not retried but wipes the store and restores it from the changelog's start.",
    validate: intValidator(0),
  }),
  def({
    name: 'punctuation.interval.ms',
    type: 'int',
    default: 100,
    unit: 'ms',
    importance: 'low',
    doc: 'How often the runtime asks each running task to fire its due wall-clock punctuators (the resolution of WALL_CLOCK_TIME schedules).',
    validate: intValidator(1),
  }),
  def({
    name: 'task.yield.interval.ms',
    type: 'int',
    default: 50,
    unit: 'ms',
    importance: 'low',
    doc: 'A task loop that has been busy this long yields to the event loop (setImmediate) before its next batch, so consumer heartbeats and other tasks get a turn.',
    validate: intValidator(0),
  }),
  def({
    name: 'shutdown.timeout.ms',
    type: 'int',
    default: 30_000,
    unit: 'ms',
    importance: 'low',
    doc: 'How long close() waits for in-flight batches and the final commit before closing dirty.',
    validate: intValidator(0),
  }),
  def({
    name: 'default.deserialization.exception.handler',
    type: 'enum',
    default: 'fail',
    importance: 'medium',
    doc: 'What a record that cannot be deserialized does: `fail` stops the app, `log-and-continue` skips it (counted), `dead-letter` sends its bytes to errors.dead.letter.queue.topic.name.',
    validate: enumValidator(EXCEPTION_HANDLER_NAMES),
  }),
  def({
    name: 'processing.exception.handler',
    type: 'enum',
    default: 'fail',
    importance: 'medium',
    doc: 'What a processor that throws on a record does (KIP-1033): `fail`, `log-and-continue` or `dead-letter`.',
    validate: enumValidator(EXCEPTION_HANDLER_NAMES),
  }),
  def({
    name: 'default.production.exception.handler',
    type: 'enum',
    default: 'fail',
    importance: 'medium',
    doc: 'What a record the producer cannot send does (e.g. too large): `fail`, `log-and-continue` or `dead-letter`.',
    validate: enumValidator(EXCEPTION_HANDLER_NAMES),
  }),
  def({
    name: 'errors.dead.letter.queue.topic.name',
    type: 'string',
    default: (c) => `${c['application.id'] ?? 'app'}-dlq`,
    importance: 'low',
    doc: 'The dead-letter topic (KIP-1034). Default `<application.id>-dlq`.',
    validate: stringValidator(TOPIC_SAFE, 'a valid topic name'),
  }),
  def({
    name: 'schema.registry.url',
    type: 'string',
    default: '',
    importance: 'medium',
    doc: "Confluent-compatible schema registry of the Avro serdes (Confluent's serde setting; Apicurio's `/apis/ccompat/v7` works). Empty: the local registry, whose schema ids every process derives from the schema itself (a fleet of ctr-streams processes agrees without a server; other producers' ids are unknown to it).",
    validate: (v) => {
      if (v === '' || v === undefined) return '';
      if (typeof v !== 'string' || !/^https?:\/\/\S+$/.test(v.trim()))
        return new ConfigInvalid(`expected an http(s) URL, got ${show(v)}`);
      return v.trim().replace(/\/+$/, '');
    },
  }),
  def({
    name: 'basic.auth.user.info',
    type: 'string',
    default: '',
    importance: 'low',
    doc: "`user:password` for the schema registry's HTTP basic auth (Confluent's serde setting). Empty: no auth. Prefer the environment variable to a file.",
    validate: (v) => {
      if (v === '' || v === undefined) return '';
      if (typeof v !== 'string' || v.indexOf(':') <= 0)
        return new ConfigInvalid('expected user:password (the value is not shown)');
      return v;
    },
  }),
];

const TABLE_BY_NAME = new Map<string, ConfigDef>(STREAMS_CONFIG_TABLE.map((d) => [d.name, d]));

/** The env var a setting is read from: `commit.interval.ms` -> `CTR_COMMIT_INTERVAL_MS`. */
export function envVarName(name: string): string {
  return `CTR_${name.toUpperCase().replace(/[.-]/g, '_')}`;
}

/** Parses Java `.properties` text: `key=value` or `key: value`, `#`/`!` comments, `\` line continuation. */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i]!.trim();
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
    else out[line] = '';
  }
  return out;
}

/** Reads a config file: `.json` as a JSON object, anything else as `.properties`. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([
      { name: '(file)', message: `cannot read config file ${path}: ${(error as Error).message}` },
    ]);
  }
  if (path.endsWith('.json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new ConfigError([
        { name: '(file)', message: `${path} is not valid JSON: ${(error as Error).message}` },
      ]);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError([{ name: '(file)', message: `${path} must hold a JSON object of settings` }]);
    }
    return parsed as Record<string, unknown>;
  }
  return parseProperties(text);
}

export interface LoadConfigOptions {
  /** Settings in code (or from CLI flags): highest precedence. */
  overrides?: StreamsConfigInput | Record<string, unknown>;
  /** A `.json` or `.properties` file. */
  file?: string;
  /** Environment to read `CTR_*` settings from; default none (pass `process.env` to enable). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Builds a validated StreamsConfig from defaults < file < env < overrides.
 * @throws ConfigError listing every missing, unknown (in a file or object) or invalid setting
 */
export function loadStreamsConfig(options: LoadConfigOptions = {}): StreamsConfig {
  const raw = new Map<string, { value: unknown; source: string }>();
  const problems: ConfigProblem[] = [];
  const take = (entries: Record<string, unknown>, source: string, strict: boolean): void => {
    for (const [name, value] of Object.entries(entries)) {
      if (value === undefined) continue;
      if (!TABLE_BY_NAME.has(name)) {
        if (strict) problems.push({ name, message: `unknown setting${suggest(name)}`, source });
        continue;
      }
      raw.set(name, { value, source });
    }
  };
  if (options.file) take(readConfigFile(options.file), options.file, true);
  if (options.env) {
    for (const def of STREAMS_CONFIG_TABLE) {
      const v = options.env[envVarName(def.name)];
      if (v !== undefined && v !== '') raw.set(def.name, { value: v, source: `env ${envVarName(def.name)}` });
    }
  }
  if (options.overrides) take(options.overrides as Record<string, unknown>, 'object', true);

  const out: Partial<StreamsConfig> = {};
  const derived: ConfigDef[] = [];
  for (const def of STREAMS_CONFIG_TABLE) {
    const given = raw.get(def.name);
    if (given === undefined) {
      if (def.default === undefined) problems.push({ name: def.name, message: 'required, no default' });
      else if (typeof def.default === 'function') derived.push(def);
      else (out as Record<string, unknown>)[def.name] = def.default;
      continue;
    }
    const result = def.validate(given.value);
    if (result instanceof ConfigInvalid)
      problems.push({ name: def.name, message: result.message, source: given.source });
    else (out as Record<string, unknown>)[def.name] = result;
  }
  // derived defaults read other settings, so they are computed after all of those are parsed
  for (const def of derived)
    (out as Record<string, unknown>)[def.name] = (def.default as (c: Partial<StreamsConfig>) => unknown)(out);

  // cross-field rules, as StreamsConfig's postProcessParsedConfig does
  const session = out['session.timeout.ms'];
  const heartbeat = out['heartbeat.interval.ms'];
  if (session !== undefined && heartbeat !== undefined && heartbeat >= session) {
    problems.push({
      name: 'heartbeat.interval.ms',
      message: `must be lower than session.timeout.ms (${session}), got ${heartbeat}`,
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as StreamsConfig;
}

function suggest(name: string): string {
  const near = STREAMS_CONFIG_TABLE.map((d) => d.name).find(
    (n) => n.replace(/[._-]/g, '') === name.toLowerCase().replace(/[._-]/g, ''),
  );
  return near ? `; did you mean "${near}"?` : '';
}

/** docs/configuration.md, generated from the table. */
export function renderConfigDocs(): string {
  const rows = STREAMS_CONFIG_TABLE.map((d) => {
    const dflt =
      d.default === undefined
        ? '(required)'
        : typeof d.default === 'function'
          ? '(derived)'
          : `\`${JSON.stringify(d.default)}\``;
    const doc = (d.notApplicable ? `**Not applicable:** ${d.notApplicable} ` : '') + d.doc;
    return `| \`${d.name}\` | ${d.type} | ${dflt} | ${d.unit ?? ''} | \`${envVarName(d.name)}\` | ${doc.replace(/\|/g, '\\|')} |`;
  });
  return [
    '# Configuration reference',
    '',
    'Generated from `STREAMS_CONFIG_TABLE` in src/streams/config.ts. Precedence: defaults < file (`.json` or `.properties`) < env vars < code/CLI.',
    '',
    '| Setting | Type | Default | Unit | Env var | Description |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

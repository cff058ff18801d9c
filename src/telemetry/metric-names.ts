/**
 * The catalogue of every metric ctr-streams records: name, instrument kind,
 * unit, description, the attribute keys it carries and, for histograms, the
 * bucket boundaries. Code records through these definitions (see
 * `instruments.ts`) so that a name is spelled once, dashboards and alerts
 * can be written from this file, and `docs/operations.md` can cite it.
 *
 * Conventions (OpenTelemetry semantic conventions, which the Prometheus
 * exporter maps to Prometheus names):
 * - names are dotted, `ctr.<layer>.<thing>`; the Prometheus name replaces dots
 *   by underscores and adds `_total` to counters (`prometheusName()`);
 * - durations are histograms in seconds (`s`), counts use UCUM annotations
 *   (`{record}`); the exporter does not append units to names, so the unit is
 *   in the `# UNIT` line of the scrape;
 * - attributes are low-cardinality: topic, partition, store, sub-topology,
 *   model, reason; never a key, an item id or a context id.
 */

export type InstrumentKind = 'counter' | 'histogram' | 'gauge' | 'updowncounter';

export interface MetricDefinition<K extends InstrumentKind = InstrumentKind> {
  /** OpenTelemetry instrument name, e.g. `ctr.streams.records.consumed`. */
  readonly name: string;
  readonly kind: K;
  /** UCUM unit: `s`, `By`, or an annotation such as `{record}`. */
  readonly unit: string;
  readonly description: string;
  /** Attribute keys recorded with every data point (values of `METRIC_ATTRIBUTES`). */
  readonly attributes: readonly string[];
  /** Histogram bucket upper bounds, ascending, in `unit`; only for histograms. */
  readonly buckets?: readonly number[];
}

/** Attribute keys, spelled once. The Prometheus label replaces dots by underscores (`task.id` -> `task_id`). */
export const METRIC_ATTRIBUTES = {
  topic: 'topic',
  partition: 'partition',
  subtopology: 'subtopology',
  taskId: 'task.id',
  taskState: 'task.state',
  store: 'store',
  operation: 'operation',
  /** `hit` or `miss`. */
  result: 'result',
  /** A stable error code, e.g. `CTR_SERDE_DESERIALIZE`. */
  reason: 'reason',
  /** Which exception handler saw a bad record: `deserialization`, `processing` or `production`. */
  handler: 'handler',
  /** What the handler did with it: `fail`, `continue` (logged and skipped) or `dead-letter`. */
  action: 'action',
  model: 'model',
  modelVersion: 'model.version',
  /** The TensorFlow.js backend that ran a model: `tensorflow`, `wasm`, `cpu`. */
  backend: 'backend',
  /** A statistic of a distribution sampled in-process: `p50`, `p99`, `max`. */
  stat: 'stat',
} as const;

const A = METRIC_ATTRIBUTES;

// Bucket sets, in seconds unless named otherwise. Chosen so that the expected
// operating range falls in the middle buckets, with room on both sides.
/** One store operation: LevelDB reads are tens of microseconds, a big batch write tens of milliseconds. */
export const STORE_LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
] as const;
/** One micro-batch through a task, or one commit: milliseconds to seconds (a model step can be slow). */
export const BATCH_LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;
/** A full restore of one store: sub-second for a tail, minutes for a cold start. */
export const RESTORE_DURATION_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600] as const;
/** A list-building cycle over every context: seconds in the demo, minutes in production. */
export const CYCLE_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600] as const;
/** Model inference on one batch. */
export const MODEL_LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
] as const;
/** Time a scoring request waits for its batch: bounded by the autobatcher's maxWaitMs. */
export const QUEUE_WAIT_BUCKETS = [
  0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1,
] as const;
/** Sizes (records per fetch batch, requests per model batch): powers of two. */
export const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384] as const;

/** Every metric of ctr-streams. Keys are the names code uses: `METRICS.recordsConsumed`. */
export const METRICS = {
  // ---- engine (src/streams) -------------------------------------------------------------
  recordsConsumed: {
    name: 'ctr.streams.records.consumed',
    kind: 'counter',
    unit: '{record}',
    description: 'Records fetched from a source topic and handed to a task.',
    attributes: [A.topic],
  },
  lateRecordsDropped: {
    name: 'ctr.streams.window.late.records.dropped',
    kind: 'counter',
    unit: '{record}',
    description:
      'Records a windowed operator (aggregation, session, stream-stream join) dropped because their window had closed (stream time past window end + grace).',
    attributes: [A.store],
  },
  recordsProduced: {
    name: 'ctr.streams.records.produced',
    kind: 'counter',
    unit: '{record}',
    description:
      'Records acknowledged by the broker, per destination topic (sinks, changelogs, repartition, DLQ).',
    attributes: [A.topic],
  },
  batchSize: {
    name: 'ctr.streams.batch.size',
    kind: 'histogram',
    unit: '{record}',
    description: 'Records in one micro-batch handed to a task (one fetch of one partition).',
    attributes: [A.subtopology],
    buckets: SIZE_BUCKETS,
  },
  processDuration: {
    name: 'ctr.streams.process.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Wall time for a task to process one micro-batch through all its processors.',
    attributes: [A.subtopology],
    buckets: BATCH_LATENCY_BUCKETS,
  },
  commitDuration: {
    name: 'ctr.streams.commit.duration',
    kind: 'histogram',
    unit: 's',
    description:
      'Wall time of one commit (of one task at its commit interval, or of every task before a rejoin): flush caches, send and await acks, write store positions, commit offsets.',
    attributes: [],
    buckets: BATCH_LATENCY_BUCKETS,
  },
  consumerLag: {
    name: 'ctr.streams.consumer.lag',
    kind: 'gauge',
    unit: '{record}',
    description:
      'Records of a source partition this instance has not processed yet: the high watermark of its latest fetch minus the next offset to process (fetched, buffered records count). 0 when caught up, and for a partition this instance gave up in a rebalance.',
    attributes: [A.topic, A.partition],
  },
  rebalances: {
    name: 'ctr.streams.rebalances',
    kind: 'counter',
    unit: '{rebalance}',
    description:
      'Consumer-group rebalances this instance took part in (each one closes revoked and opens new tasks).',
    attributes: [],
  },
  tasks: {
    name: 'ctr.streams.tasks',
    kind: 'gauge',
    unit: '{task}',
    description: 'Tasks assigned to this instance, by state (`restoring`, `running`).',
    attributes: [A.taskState],
  },
  restoreRecords: {
    name: 'ctr.streams.restore.records',
    kind: 'counter',
    unit: '{record}',
    description: 'Changelog records applied to a store while restoring.',
    attributes: [A.store],
  },
  restoreRemaining: {
    name: 'ctr.streams.restore.remaining',
    kind: 'gauge',
    unit: '{record}',
    description: 'Changelog records still to restore for one store of one task; 0 when the store is ready.',
    attributes: [A.store, A.taskId],
  },
  restoreRetries: {
    name: 'ctr.streams.restore.retries',
    kind: 'counter',
    unit: '{retry}',
    description:
      'Restores of one store retried after a retriable failure (leader change, timeout, lost connection); `reason` is the error code. Retries stop at task.timeout.ms, then the failure is fatal.',
    attributes: [A.store, A.reason],
  },
  restoreDuration: {
    name: 'ctr.streams.restore.duration',
    kind: 'histogram',
    unit: 's',
    description:
      'Wall time to restore one store of one task, from its stored position (or empty) to the changelog end.',
    attributes: [A.store],
    buckets: RESTORE_DURATION_BUCKETS,
  },
  storeOperationDuration: {
    name: 'ctr.streams.store.operation.duration',
    kind: 'histogram',
    unit: 's',
    description:
      'Latency of one state-store operation (`get`, `getMany`, `put`, `putAll`, `delete`, `range`, `flush`, `commit`).',
    attributes: [A.store, A.operation],
    buckets: STORE_LATENCY_BUCKETS,
  },
  storeCacheLookups: {
    name: 'ctr.streams.store.cache.lookups',
    kind: 'counter',
    unit: '{lookup}',
    description:
      'Reads served by the write-back cache (`result=hit`) or passed to the store below (`result=miss`). Hit ratio = hit / (hit + miss).',
    attributes: [A.store, A.result],
  },
  storeCacheBytes: {
    name: 'ctr.streams.store.cache.bytes',
    kind: 'gauge',
    unit: 'By',
    description:
      'Bytes held by all write-back caches of the instance (bounded by statestore.cache.max.bytes, shared by every store and task).',
    attributes: [],
  },
  storeCacheEvictions: {
    name: 'ctr.streams.store.cache.evictions',
    kind: 'counter',
    unit: '{entry}',
    description:
      'Cache entries evicted by the shared cache budget, per store; dirty ones are written down to the store (and its changelog) on eviction.',
    attributes: [A.store],
  },
  droppedRecords: {
    name: 'ctr.streams.dropped.records',
    kind: 'counter',
    unit: '{record}',
    description:
      'Records the engine skipped without an exception handler, by `reason` (`negative-timestamp`: the timestamp extractor gave < 0; `null-key`, `null-value`: an aggregation or table cannot apply it) and source topic.',
    attributes: [A.reason, A.topic],
  },
  dlqRecords: {
    name: 'ctr.streams.dlq.records',
    kind: 'counter',
    unit: '{record}',
    description: 'Records sent to `<application.id>-dlq`, by error code (`reason`) and source topic.',
    attributes: [A.reason, A.topic],
  },
  errorRecords: {
    name: 'ctr.streams.error.records',
    kind: 'counter',
    unit: '{record}',
    description:
      'Bad records seen by an exception handler, by handler (`deserialization`, `processing`, `production`), action (`fail`, `continue`, `dead-letter`), error code (`reason`) and source topic.',
    attributes: [A.handler, A.action, A.reason, A.topic],
  },

  // ---- process (registered by startTelemetry) ---------------------------------------------
  eventLoopDelay: {
    name: 'ctr.process.event_loop.delay',
    kind: 'gauge',
    unit: 's',
    description:
      'Event-loop delay over the last scrape interval (`stat` = p50, p99, max). High values starve Kafka heartbeats: model math belongs in workers.',
    attributes: [A.stat],
  },
  heapUsed: {
    name: 'ctr.process.memory.heap.used',
    kind: 'gauge',
    unit: 'By',
    description: 'V8 heap in use (LevelDB block cache and tensors live outside it; see resident memory).',
    attributes: [],
  },
  residentMemory: {
    name: 'ctr.process.memory.resident',
    kind: 'gauge',
    unit: 'By',
    description: 'Resident set size of the process: compare with the container memory limit.',
    attributes: [],
  },

  // ---- models (src/ml) ---------------------------------------------------------------------
  autobatchBatchSize: {
    name: 'ctr.ml.autobatch.batch.size',
    kind: 'histogram',
    unit: '{request}',
    description: 'Requests joined into one model call by the autobatcher.',
    attributes: [A.model],
    buckets: SIZE_BUCKETS,
  },
  autobatchWait: {
    name: 'ctr.ml.autobatch.wait.duration',
    kind: 'histogram',
    unit: 's',
    description:
      'Time a request waited in the autobatcher queue before its batch started (bounded by maxWaitMs when not saturated).',
    attributes: [A.model],
    buckets: QUEUE_WAIT_BUCKETS,
  },
  autobatchFormWait: {
    name: 'ctr.ml.autobatch.form.duration',
    kind: 'histogram',
    unit: 's',
    description:
      "Part of a request's autobatcher wait spent for its batch to fill: bounded by maxWaitMs by design.",
    attributes: [A.model],
    buckets: QUEUE_WAIT_BUCKETS,
  },
  autobatchSlotWait: {
    name: 'ctr.ml.autobatch.slot.wait.duration',
    kind: 'histogram',
    unit: 's',
    description:
      "Part of a request's autobatcher wait spent, once its batch was due, for a free model slot: queueing under saturation.",
    attributes: [A.model],
    buckets: QUEUE_WAIT_BUCKETS,
  },
  autobatchQueueDepth: {
    name: 'ctr.ml.autobatch.queue.depth',
    kind: 'gauge',
    unit: '{request}',
    description: 'Requests waiting in the autobatcher queue.',
    attributes: [A.model],
  },
  modelInferenceDuration: {
    name: 'ctr.ml.model.inference.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Wall time of one model call on one batch (worker round trip included).',
    attributes: [A.model, A.modelVersion, A.backend],
    buckets: MODEL_LATENCY_BUCKETS,
  },
  modelReloads: {
    name: 'ctr.ml.model.reloads',
    kind: 'counter',
    unit: '{reload}',
    description: 'Model versions picked up from the registry by running instances (`result=ok` or `error`).',
    attributes: [A.model, A.result],
  },

  modelWorkerRestarts: {
    name: 'ctr.ml.worker.restarts',
    kind: 'counter',
    unit: '{restart}',
    description:
      'Scoring workers that died (`reason=exit` or `error`: crash, OOM, terminate) and were replaced; their in-flight calls were retried once on another worker.',
    attributes: [A.model, A.reason],
  },

  // ---- CTR pipeline (topologies/) ---------------------------------------------------------
  cycleDuration: {
    name: 'ctr.pipeline.cycle.duration',
    kind: 'histogram',
    unit: 's',
    description:
      'Wall time of one list-building cycle of one task: gather candidates, look up embeddings, score, rank, emit.',
    attributes: [],
    buckets: CYCLE_DURATION_BUCKETS,
  },
  cycleContexts: {
    name: 'ctr.pipeline.cycle.contexts',
    kind: 'counter',
    unit: '{context}',
    description: 'List contexts ranked and emitted to `recommendations`.',
    attributes: [],
  },
  embeddingLookups: {
    name: 'ctr.pipeline.embedding.lookups',
    kind: 'counter',
    unit: '{lookup}',
    description:
      'Item-embedding lookups while scoring: `result=hit`, or `miss` (OOV vector used, an embedding request sent).',
    attributes: [A.result],
  },
  embeddingsComputed: {
    name: 'ctr.pipeline.embeddings.computed',
    kind: 'counter',
    unit: '{item}',
    description:
      'Item embeddings computed by the towers, by model version (a backfill shows as a burst of one version).',
    attributes: [A.modelVersion],
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

/** Every definition, for docs and tests. */
export function allMetricDefinitions(): MetricDefinition[] {
  return Object.values(METRICS);
}

/**
 * The name a metric has in a Prometheus scrape, as @opentelemetry/exporter-prometheus
 * writes it: characters outside `[a-zA-Z0-9_:]` become `_`, counters get `_total`.
 * Histograms expose `<name>_bucket`, `<name>_sum`, `<name>_count`.
 */
export function prometheusName(definition: Pick<MetricDefinition, 'name' | 'kind'>): string {
  const base = definition.name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return definition.kind === 'counter' && !base.endsWith('_total') ? `${base}_total` : base;
}

/**
 * The catalogue as a Markdown table (Prometheus name, kind, unit, labels,
 * description), for docs/operations.md's metric reference. A unit test keeps
 * the doc equal to this output.
 */
export function renderMetricCatalogue(): string {
  const rows = allMetricDefinitions().map((d) => {
    const labels = d.attributes.map((a) => `\`${a.replace(/\./g, '_')}\``).join(', ');
    const description = d.description.replace(/\|/g, '\\|');
    return `| \`${prometheusName(d)}\` | ${d.kind} | \`${d.unit}\` | ${labels} | ${description} |`;
  });
  return [
    '| Prometheus name | kind | unit | labels | description |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

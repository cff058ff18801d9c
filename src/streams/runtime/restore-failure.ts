/**
 * What a failure while restoring a store from its changelog means, and what
 * the restorer does about it (Kafka Streams' split between retriable errors,
 * TaskCorruptedException and fatal StreamsExceptions):
 *
 * - `retriable`: the broker side is briefly unable to serve the read (a
 *   leader change, no leader yet, a request timeout, a lost connection, a
 *   broker restart). Reading again later succeeds; the restorer retries with
 *   exponential backoff until `task.timeout.ms` has passed since the first
 *   failure (KIP-572), then gives up.
 * - `corrupted`: the stored position does not belong to the changelog any
 *   more (offset out of range: the changelog was deleted and recreated, or
 *   truncated). The store is wiped and restored from the changelog's start.
 * - `fatal`: anything else (a disk error, a record the store cannot apply, a
 *   bug). Retrying would fail the same way; the instance stops.
 *
 * Failures reach the engine wrapped (a KafkaError whose cause is the kafkajs
 * error whose cause is the broker's error code), so the whole `cause` chain
 * is inspected. The engine does not import kafkajs (only src/kafka does), so
 * kafkajs errors are recognised by their documented `name`, `type` and
 * `retriable` fields.
 */

export type RestoreFailureKind = 'retriable' | 'corrupted' | 'fatal';

/**
 * kafkajs errors that mean "the broker could not be reached or did not answer
 * in time". kafkajs marks most of them `retriable`, but it wraps them in
 * KafkaJSNumberOfRetriesExceeded / KafkaJSNonRetriableError once its own
 * retries are spent, which only means its short retry budget is used up.
 */
const TRANSIENT_ERROR_NAMES: ReadonlySet<string> = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSTimeout',
  'KafkaJSLockTimeout',
]);

/** Node socket errors of a broker that went away or does not answer. */
const TRANSIENT_ERRNO_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** The broker's error for a fetch at an offset the partition does not hold (kafkajs `type`). */
const OUT_OF_RANGE_TYPES: ReadonlySet<string> = new Set(['OFFSET_OUT_OF_RANGE']);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  type?: unknown;
  retriable?: unknown;
  cause?: unknown;
  originalError?: unknown;
}

/** The error and every error it wraps (`cause`, kafkajs' `originalError`), outermost first; cycles cut. */
export function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < 16 && !chain.includes(current)) {
    chain.push(current);
    if (typeof current !== 'object') break;
    const e = current as ErrorLike;
    current = e.cause ?? e.originalError;
  }
  return chain;
}

/** True when this one error (not its causes) says the changelog position is out of range. */
function isOutOfRange(e: ErrorLike): boolean {
  return (
    (typeof e.type === 'string' && OUT_OF_RANGE_TYPES.has(e.type)) ||
    e.name === 'KafkaJSOffsetOutOfRange' ||
    e.code === 'CTR_STORE_CORRUPTED'
  );
}

/** True when this one error (not its causes) is a transient broker-side condition. */
function isTransient(e: ErrorLike): boolean {
  if (e.retriable === true) return true;
  if (typeof e.name === 'string' && TRANSIENT_ERROR_NAMES.has(e.name)) return true;
  return typeof e.code === 'string' && TRANSIENT_ERRNO_CODES.has(e.code);
}

/**
 * Classifies a failure of reading a changelog (offsets, fetches) during a
 * restore. Corruption wins over retriability (an out-of-range fetch is not
 * cured by reading the same offset again); an error is retriable when any
 * error in its cause chain is transient; everything else is fatal.
 *
 * Only read failures should be classified: a failure to write the store
 * (LevelDB, disk) is fatal whatever it wraps, and the restorer never passes
 * one here.
 */
export function classifyRestoreFailure(error: unknown): RestoreFailureKind {
  const chain = causeChain(error).filter((e): e is ErrorLike => typeof e === 'object');
  if (chain.some(isOutOfRange)) return 'corrupted';
  if (chain.some(isTransient)) return 'retriable';
  return 'fatal';
}

/**
 * A stable, low-cardinality reason for logs and the retries metric: the code
 * of the innermost error that has one (the broker's `NOT_LEADER_FOR_PARTITION`
 * says more than the `CTR_KAFKA_CONSUME` wrapped around it), else `UNKNOWN`.
 */
export function failureReason(error: unknown): string {
  for (const e of causeChain(error).reverse()) {
    if (typeof e !== 'object') continue;
    const { code, type, name } = e as ErrorLike;
    if (typeof code === 'string' && code !== '') return code;
    if (typeof type === 'string' && type !== '') return type;
    if (typeof name === 'string' && name !== 'Error' && name !== '') return name;
  }
  return 'UNKNOWN';
}

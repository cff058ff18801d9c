/**
 * The Processor API: the low-level contract every step of a topology runs
 * on. The DSL (KStream, KTable, ...) compiles to processors; user code that
 * needs full control (stores, punctuators, per-batch work) writes one.
 *
 * Records flow in micro-batches: `process` receives the records that one
 * fetch brought for one partition, in offset order (or the batch a parent
 * forwarded). A processor may be async; the task awaits it before the next
 * batch, so per-partition order holds.
 */
import type { StateStore, StoreBuilder } from '../state/state-store.ts';
import type { StreamRecord } from './record.ts';

/** When a punctuator's time advances: event time of the task's records, or the machine clock. */
export type PunctuationType = 'STREAM_TIME' | 'WALL_CLOCK_TIME';

/**
 * Called when a schedule is due.
 * @param timestampMs the stream time (STREAM_TIME) or wall-clock time (WALL_CLOCK_TIME), in ms since the epoch.
 */
export type Punctuator = (timestampMs: number) => void | Promise<void>;

/** Returned by {@link ProcessorContext.schedule}; `cancel()` stops further calls (idempotent). */
export interface Cancellable {
  cancel(): void;
}

/**
 * What a processor sees of its task. One context per processor instance;
 * it is valid from `init` until `close`.
 */
export interface ProcessorContext<KForward = unknown, VForward = unknown> {
  /** `application.id` of the app running this task. */
  readonly applicationId: string;
  /** `<subtopologyId>_<partition>`, e.g. `0_3`. */
  readonly taskId: string;
  /** The partition of the source topics this task processes. */
  readonly partition: number;
  /** Name of the processor node this context belongs to. */
  readonly processorName: string;
  /**
   * The task's stream time: the largest record timestamp it has read, in ms
   * since the epoch; -1 before the first record (Kafka Streams' convention).
   */
  readonly currentStreamTimeMs: number;
  /** The task's wall-clock time in ms: the real clock, or the driver's mock clock in tests. */
  readonly currentSystemTimeMs: number;
  /**
   * Sends records to the children of this processor (all of them, or only the
   * one named `childName`). Forwarded records are buffered and handed to the
   * children as one batch after the current `process` call or punctuator
   * returns (resolves), in the order they were forwarded, so a forward costs
   * no promise and a processor cannot forget to await it.
   * @throws IllegalStateError when called outside `process`/a punctuator/`init`.
   * @throws TopologyError when `childName` is not a child of this processor.
   */
  forward<K extends KForward, V extends VForward>(
    records: ReadonlyArray<StreamRecord<K, V>>,
    childName?: string,
  ): void;
  /**
   * A state store connected to this processor (Topology.addStateStore or the
   * supplier's `stores()`), or any global store (Topology.addGlobalStore;
   * read it, never write it), as the store builder built it: for key-value
   * stores the typed {@link KeyValueStore}.
   * @throws TopologyError when no store of that name is connected to this processor.
   */
  getStateStore<S extends StateStore = StateStore>(name: string): S;
  /**
   * Calls `punctuator` every `intervalMs`, in stream time or wall-clock time.
   * STREAM_TIME punctuators fire while the task processes records, as soon as
   * stream time reaches the next due time (a batch is split at that record);
   * WALL_CLOCK_TIME ones fire when the runtime (or the driver's mock clock)
   * punctuates. A schedule that fell behind fires once and skips the missed
   * intervals (as Kafka Streams does).
   * @param intervalMs > 0, in ms.
   * @throws TopologyError when `intervalMs` is not a positive number.
   */
  schedule(intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable;
  /** Asks the task to commit as soon as the current batch is done (Kafka Streams' `context.commit()`). */
  requestCommit(): void;
}

/**
 * A processing step. `KIn/VIn` is what it receives, `KOut/VOut` what it forwards.
 * `process` receives a non-empty batch; it may be async.
 */
export interface Processor<KIn = unknown, VIn = unknown, KOut = unknown, VOut = unknown> {
  /** Called once after the task's stores are restored, before the first batch; get stores and schedule punctuators here. */
  init?(context: ProcessorContext<KOut, VOut>): void | Promise<void>;
  /**
   * One batch of records, in order. Throwing fails the batch: with a
   * processing exception handler that may continue, the task undoes this
   * call's store writes, drops its forwards and calls `process` again with
   * one record at a time to find the record(s) that throw, which alone go to
   * the handler (see ProcessorNode). So a record may be processed twice:
   * keep effects outside the task's stores (and in-memory fields) safe to repeat.
   */
  process(records: ReadonlyArray<StreamRecord<KIn, VIn>>): void | Promise<void>;
  /** Called when the task closes; release resources here. Do not forward. */
  close?(): void | Promise<void>;
}

/**
 * Makes a fresh processor per task (a processor instance is never shared
 * between tasks). Either a factory function or an object whose `stores()`
 * names the store builders the processor needs; those are added to the
 * topology and connected to it (Kafka Streams' ConnectedStoreProvider).
 */
export type ProcessorSupplier<KIn = unknown, VIn = unknown, KOut = unknown, VOut = unknown> =
  | (() => Processor<KIn, VIn, KOut, VOut>)
  | {
      get(): Processor<KIn, VIn, KOut, VOut>;
      stores?(): ReadonlyArray<StoreBuilder<StateStore>>;
    };

/** Calls the supplier, whichever of its two forms it has. */
export function supplyProcessor<KIn, VIn, KOut, VOut>(
  supplier: ProcessorSupplier<KIn, VIn, KOut, VOut>,
): Processor<KIn, VIn, KOut, VOut> {
  return typeof supplier === 'function' ? supplier() : supplier.get();
}

/** The store builders a supplier declares, or none. */
export function suppliedStores(
  supplier: ProcessorSupplier<any, any, any, any>,
): ReadonlyArray<StoreBuilder<StateStore>> {
  return typeof supplier === 'function' ? [] : (supplier.stores?.() ?? []);
}

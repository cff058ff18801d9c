/**
 * Topology: the low-level builder of a processing graph (Kafka Streams'
 * Topology). Sources read topics, processors transform batches, sinks write
 * topics; state stores are attached to the processors that use them.
 *
 * ```ts
 * const topology = new Topology()
 *   .addSource('impressions', ['impressions'], stringSerde, jsonSerde)
 *   .addProcessor('count', () => new CountProcessor(), 'impressions')
 *   .addStateStore(countsStoreBuilder, 'count')
 *   .addSink('counts-out', 'impression-counts', stringSerde, jsonSerde, 'count');
 * console.log(topology.describe().toString());
 * ```
 *
 * The graph splits into sub-topologies: its connected components, where
 * processors that share a store are connected too (they must run in one
 * task). The runtime runs one task per sub-topology and input partition.
 *
 * Names are the contract with operators: `describe` output and state
 * directories use them, so every node and store has an explicit, unique name.
 */
import { TopologyError } from '../errors.ts';
import type { Serde } from '../serde/serde.ts';
import type { StateStore, StoreBuilder } from '../state/state-store.ts';
import type { StreamPartitioner } from '../processor/partitioner.ts';
import { suppliedStores, type ProcessorSupplier } from '../processor/processor.ts';
import type {
  NodeDef,
  ProcessorTopology,
  SinkNodeDef,
  SourceNodeDef,
  TimestampExtractor,
  TopicNameExtractor,
} from '../processor/processor-topology.ts';
import { buildDescription, type TopologyDescription } from './topology-description.ts';
import type { InternalTopicSpec } from './internal-topics.ts';

/** Options of {@link Topology.addSource}. */
export interface SourceOptions {
  /** Picks the record timestamp (default: the Kafka record timestamp). */
  timestampExtractor?: TimestampExtractor;
}

interface MutableNode {
  def: NodeDef;
  parents: string[];
  children: string[];
  stores: Set<string>;
}

/** A sub-topology: a connected component of the graph. */
export interface SubtopologyInfo {
  readonly id: number;
  /** Node names in insertion order. */
  readonly nodes: readonly string[];
  /** Source topics (internal names unprefixed), empty for pattern-only sub-topologies. */
  readonly sourceTopics: readonly string[];
  /** Source patterns. */
  readonly sourcePatterns: readonly RegExp[];
  readonly stores: readonly string[];
}

export class Topology {
  private readonly nodes = new Map<string, MutableNode>();
  private readonly storeBuilders = new Map<string, StoreBuilder<StateStore>>();
  private readonly storeUsers = new Map<string, Set<string>>();
  private readonly topicToSource = new Map<string, string>();
  /** Topics the app owns (repartition topics): prefixed with `<application.id>-` at run time. */
  private readonly internalTopicNames = new Set<string>();
  /** Stores filled from a whole topic by every instance (addGlobalStore), by name -> their source and updater. */
  private readonly globalStores = new Map<string, { source: string; processor: string; topic: string }>();
  private cachedSubtopologies: SubtopologyInfo[] | undefined;
  private cachedGlobals: SubtopologyInfo[] | undefined;

  /**
   * Adds a source that reads `topics` (or every topic matching a pattern).
   * @param keySerde/valueSerde undefined keeps the raw bytes (Buffer | null).
   * @throws TopologyError when the name is taken, no topic is given, or a topic is read by another source.
   */
  addSource(
    name: string,
    topics: string | readonly string[] | RegExp,
    keySerde?: Serde<any>,
    valueSerde?: Serde<any>,
    options: SourceOptions = {},
  ): this {
    this.checkNewName(name);
    // drop the stateful flags: a /g pattern's test() would remember lastIndex between topics
    const pattern =
      topics instanceof RegExp ? new RegExp(topics.source, topics.flags.replace(/[gy]/g, '')) : undefined;
    const list = pattern
      ? undefined
      : typeof topics === 'string'
        ? [topics]
        : [...(topics as readonly string[])];
    if (list !== undefined) {
      if (list.length === 0)
        throw new TopologyError(`source "${name}" must read at least one topic`, { processor: name });
      for (const topic of list) {
        if (typeof topic !== 'string' || topic.length === 0) {
          throw new TopologyError(`source "${name}" has an empty topic name`, { processor: name });
        }
        const other = this.topicToSource.get(topic);
        if (other !== undefined) {
          throw new TopologyError(
            `topic "${topic}" is already read by source "${other}"; source "${name}" cannot read it too`,
            {
              processor: name,
              topic,
            },
          );
        }
      }
      for (const topic of list) this.topicToSource.set(topic, name);
    }
    const def: SourceNodeDef = {
      kind: 'source',
      name,
      topics: list,
      pattern,
      keySerde,
      valueSerde,
      timestampExtractor: options.timestampExtractor,
      children: [],
    };
    this.addNode(def, []);
    return this;
  }

  /**
   * Adds a processor fed by `parentNames` (sources or processors). Stores
   * the supplier declares in `stores()` are added and connected.
   * @throws TopologyError when the name is taken, there is no parent, or a parent is unknown or a sink.
   */
  addProcessor<KIn, VIn, KOut, VOut>(
    name: string,
    supplier: ProcessorSupplier<KIn, VIn, KOut, VOut>,
    ...parentNames: string[]
  ): this {
    this.checkNewName(name);
    if (
      typeof supplier !== 'function' &&
      (typeof supplier !== 'object' || supplier === null || typeof supplier.get !== 'function')
    ) {
      throw new TopologyError(`processor "${name}" needs a supplier: a function or an object with get()`, {
        processor: name,
      });
    }
    this.checkParents(name, parentNames);
    this.addNode({ kind: 'processor', name, supplier, stores: [], children: [] }, parentNames);
    for (const builder of suppliedStores(supplier)) this.addStateStore(builder, name);
    return this;
  }

  /**
   * Adds a sink that writes what its parents forward to `topic` (or to the
   * topic a TopicNameExtractor picks per record).
   * @param keySerde/valueSerde undefined: the key/value must be a Buffer, a string (UTF-8) or null.
   * @param partitioner picks the partition; undefined = Kafka's default (murmur2 of the key bytes).
   * @throws TopologyError when the name is taken, there is no parent, or a parent is unknown or a sink.
   */
  addSink(
    name: string,
    topic: string | TopicNameExtractor<any, any>,
    keySerde: Serde<any> | undefined,
    valueSerde: Serde<any> | undefined,
    ...parentNames: string[]
  ): this;
  addSink(
    name: string,
    topic: string | TopicNameExtractor<any, any>,
    keySerde: Serde<any> | undefined,
    valueSerde: Serde<any> | undefined,
    partitioner: StreamPartitioner<any, any> | undefined,
    ...parentNames: string[]
  ): this;
  addSink(
    name: string,
    topic: string | TopicNameExtractor<any, any>,
    keySerde: Serde<any> | undefined,
    valueSerde: Serde<any> | undefined,
    ...rest: Array<string | StreamPartitioner<any, any> | undefined>
  ): this {
    this.checkNewName(name);
    let partitioner: StreamPartitioner<any, any> | undefined;
    if (rest.length > 0 && typeof rest[0] !== 'string')
      partitioner = rest.shift() as StreamPartitioner<any, any> | undefined;
    const parentNames = rest as string[];
    if (typeof topic === 'string' && topic.length === 0)
      throw new TopologyError(`sink "${name}" has an empty topic name`, { processor: name });
    this.checkParents(name, parentNames);
    const def: SinkNodeDef = { kind: 'sink', name, topic, keySerde, valueSerde, partitioner };
    this.addNode(def, parentNames);
    return this;
  }

  /**
   * Adds a store and connects it to processors (which may then call
   * `context.getStateStore(name)`). Adding the same builder again only
   * connects more processors.
   * @throws TopologyError when another builder already uses the store name, or a processor is unknown.
   */
  addStateStore(builder: StoreBuilder<StateStore>, ...processorNames: string[]): this {
    const existing = this.storeBuilders.get(builder.name);
    if (existing !== undefined && existing !== builder) {
      throw new TopologyError(
        `store "${builder.name}" is already added (by another builder); store names must be unique`,
        {
          store: builder.name,
        },
      );
    }
    if (typeof builder.name !== 'string' || builder.name.length === 0)
      throw new TopologyError('a store needs a non-empty name');
    this.storeBuilders.set(builder.name, builder);
    if (!this.storeUsers.has(builder.name)) this.storeUsers.set(builder.name, new Set());
    this.connectProcessorAndStateStores(processorNames, builder.name);
    return this;
  }

  /**
   * Connects processors to stores already added.
   * @throws TopologyError when a processor or a store is unknown.
   */
  connectProcessorAndStateStores(processorNames: string | readonly string[], ...storeNames: string[]): this {
    const processors = typeof processorNames === 'string' ? [processorNames] : processorNames;
    for (const processorName of processors) {
      const node = this.nodes.get(processorName);
      if (node === undefined || node.def.kind !== 'processor') {
        throw new TopologyError(
          `cannot connect store(s) ${storeNames.map((s) => `"${s}"`).join(', ')} to "${processorName}": ` +
            (node === undefined ? 'no such processor' : `it is a ${node.def.kind}, not a processor`),
          { processor: processorName },
        );
      }
      for (const storeName of storeNames) {
        const users = this.storeUsers.get(storeName);
        if (users === undefined) {
          throw new TopologyError(
            `cannot connect store "${storeName}" to processor "${processorName}": no such store; add it with addStateStore`,
            {
              store: storeName,
              processor: processorName,
            },
          );
        }
        users.add(processorName);
        node.stores.add(storeName);
      }
    }
    this.cachedSubtopologies = undefined;
    return this;
  }

  /**
   * Adds a global store: EVERY instance fills it from ALL partitions of
   * `topic`, through `stateUpdateSupplier`'s processor (which writes the
   * store and forwards nothing). Any processor of the topology may read it
   * with `context.getStateStore(name)` without connecting it; none may write
   * it. The topic is the store's changelog, so the builder must have logging
   * disabled. The source and updater form a global sub-topology that
   * generates no tasks; the runtime runs it apart and bootstraps it before
   * tasks start (Kafka Streams' Topology.addGlobalStore).
   * @throws TopologyError when a name is taken, the topic is read elsewhere, or logging is enabled.
   */
  addGlobalStore<K, V>(
    storeBuilder: StoreBuilder<StateStore>,
    sourceName: string,
    keySerde: Serde<K> | undefined,
    valueSerde: Serde<V> | undefined,
    topic: string,
    processorName: string,
    stateUpdateSupplier: ProcessorSupplier<K, V, never, never>,
    options: SourceOptions = {},
  ): this {
    if (storeBuilder.loggingEnabled) {
      throw new TopologyError(
        `global store "${storeBuilder.name}" must have logging disabled: its topic "${topic}" is its changelog (withLoggingDisabled())`,
        { store: storeBuilder.name, topic },
      );
    }
    if (sourceName === processorName) {
      throw new TopologyError(
        `global store "${storeBuilder.name}" needs distinct source and processor names, got "${sourceName}" twice`,
      );
    }
    if (this.storeBuilders.has(storeBuilder.name)) {
      throw new TopologyError(`store "${storeBuilder.name}" is already added; store names must be unique`, {
        store: storeBuilder.name,
      });
    }
    this.checkNewName(processorName);
    this.addSource(sourceName, topic, keySerde, valueSerde, options);
    this.addProcessor(processorName, stateUpdateSupplier, sourceName);
    this.addStateStore(storeBuilder, processorName);
    this.globalStores.set(storeBuilder.name, { source: sourceName, processor: processorName, topic });
    return this;
  }

  /** Names of the global stores (addGlobalStore). */
  globalStoreNames(): string[] {
    return [...this.globalStores.keys()];
  }

  /** True when `topic` feeds a global store (the runtime reads it whole, outside the consumer group). */
  isGlobalTopic(topic: string): boolean {
    for (const g of this.globalStores.values()) if (g.topic === topic) return true;
    return false;
  }

  /**
   * The global sub-topologies (one per global store, plus anything attached
   * to their nodes), numbered after the task sub-topologies. They generate no tasks.
   */
  globalSubtopologies(): readonly SubtopologyInfo[] {
    this.subtopologies();
    return this.cachedGlobals!;
  }

  /**
   * The compiled graph of every global store at once, for the one global
   * task an instance runs (its id is the first global sub-topology's id;
   * undefined when there is no global store).
   */
  globalSubtopology(applicationId: string): ProcessorTopology | undefined {
    const globals = this.globalSubtopologies();
    if (globals.length === 0) return undefined;
    const nodes = new Map<string, NodeDef>();
    const storeBuilders = new Map<string, StoreBuilder<StateStore>>();
    for (const info of globals) {
      for (const [name, def] of this.compileNodes(info, applicationId)) nodes.set(name, def);
      for (const s of info.stores) storeBuilders.set(s, this.storeBuilders.get(s)!);
    }
    return { id: globals[0]!.id, nodes, storeBuilders };
  }

  /**
   * Declares `topic` an internal topic (a repartition topic the app creates
   * and owns). Sources and sinks name it without prefix; at run time it is
   * `<application.id>-<topic>`.
   */
  markInternalTopic(topic: string): this {
    this.internalTopicNames.add(topic);
    return this;
  }

  /** True when `topic` was declared internal with {@link markInternalTopic}. */
  isInternalTopic(topic: string): boolean {
    return this.internalTopicNames.has(topic);
  }

  /** Node names in insertion order. */
  nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  /** The names of every store. */
  storeNames(): string[] {
    return [...this.storeBuilders.keys()];
  }

  /** The builder of a store, or undefined. */
  storeBuilder(name: string): StoreBuilder<StateStore> | undefined {
    return this.storeBuilders.get(name);
  }

  /**
   * The sub-topologies, ids in order of their first node.
   * @throws TopologyError when the topology has no source, or a store is connected to no processor.
   */
  subtopologies(): readonly SubtopologyInfo[] {
    if (this.cachedSubtopologies !== undefined) return this.cachedSubtopologies;
    if (![...this.nodes.values()].some((n) => n.def.kind === 'source')) {
      throw new TopologyError('the topology has no source; add one with addSource (or builder.stream/table)');
    }
    for (const [store, users] of this.storeUsers) {
      if (users.size === 0)
        throw new TopologyError(`store "${store}" is connected to no processor`, { store });
    }
    // union-find over nodes: an edge joins parent and child; a store joins its users
    const parent = new Map<string, string>();
    const find = (x: string): string => {
      let root = x;
      while (parent.get(root) !== root) root = parent.get(root)!;
      let cur = x;
      while (cur !== root) {
        const next = parent.get(cur)!;
        parent.set(cur, root);
        cur = next;
      }
      return root;
    };
    const union = (a: string, b: string): void => {
      const ra = find(a);
      const rb = find(b);
      if (ra !== rb) parent.set(rb, ra);
    };
    for (const name of this.nodes.keys()) parent.set(name, name);
    for (const [name, node] of this.nodes) for (const c of node.children) union(name, c);
    for (const [store, users] of this.storeUsers) {
      // any processor may read a global store: reading one does not join its sub-topology
      if (this.globalStores.has(store)) continue;
      const [first, ...others] = [...users];
      for (const o of others) union(first!, o);
    }
    const groups = new Map<string, string[]>();
    for (const name of this.nodes.keys()) {
      const root = find(name);
      let list = groups.get(root);
      if (list === undefined) groups.set(root, (list = []));
      list.push(name);
    }
    const globalSources = new Set([...this.globalStores.values()].map((g) => g.source));
    const result: SubtopologyInfo[] = [];
    const globalGroups: string[][] = [];
    for (const names of groups.values()) {
      if (names.some((n) => globalSources.has(n))) globalGroups.push(names);
      else result.push(this.subtopologyInfo(result.length, names, false));
    }
    this.cachedGlobals = globalGroups.map((names, i) => this.subtopologyInfo(result.length + i, names, true));
    this.cachedSubtopologies = result;
    return result;
  }

  private subtopologyInfo(id: number, names: string[], global: boolean): SubtopologyInfo {
    const topics: string[] = [];
    const patterns: RegExp[] = [];
    const stores = new Set<string>();
    for (const n of names) {
      const node = this.nodes.get(n)!;
      if (node.def.kind === 'source') {
        if (node.def.topics) topics.push(...node.def.topics);
        if (node.def.pattern) patterns.push(node.def.pattern);
      }
      // a task sub-topology builds its own stores only; global ones come from the global task
      for (const s of node.stores) if (global === this.globalStores.has(s)) stores.add(s);
    }
    return { id, nodes: names, sourceTopics: topics, sourcePatterns: patterns, stores: [...stores] };
  }

  /** Node definitions of a sub-topology with run-time topic names and only its own stores per processor. */
  private compileNodes(info: SubtopologyInfo, applicationId: string): Map<string, NodeDef> {
    const own = new Set(info.stores);
    const nodes = new Map<string, NodeDef>();
    for (const name of info.nodes) {
      const node = this.nodes.get(name)!;
      const def = node.def;
      if (def.kind === 'source') {
        nodes.set(name, {
          ...def,
          topics: def.topics?.map((t) => this.resolveTopic(t, applicationId)),
          children: [...node.children],
        });
      } else if (def.kind === 'processor') {
        nodes.set(name, {
          ...def,
          stores: [...node.stores].filter((s) => own.has(s)),
          children: [...node.children],
        });
      } else {
        nodes.set(name, {
          ...def,
          topic: typeof def.topic === 'string' ? this.resolveTopic(def.topic, applicationId) : def.topic,
        });
      }
    }
    return nodes;
  }

  /**
   * The compiled graph of sub-topology `id`, for a StreamTask. Internal
   * topic names get the `<applicationId>-` prefix.
   * @throws TopologyError when there is no such sub-topology.
   */
  subtopology(id: number, applicationId: string): ProcessorTopology {
    const info = this.subtopologies()[id];
    if (info === undefined)
      throw new TopologyError(
        `there is no sub-topology ${id} (the topology has ${this.subtopologies().length})`,
      );
    const nodes = this.compileNodes(info, applicationId);
    const storeBuilders = new Map<string, StoreBuilder<StateStore>>();
    for (const s of info.stores) storeBuilders.set(s, this.storeBuilders.get(s)!);
    return { id, nodes, storeBuilders };
  }

  /**
   * The source topics of sub-topology `id` as the app subscribes to them
   * (internal topics prefixed with `<applicationId>-`).
   */
  sourceTopics(id: number, applicationId: string): string[] {
    const info = this.subtopologies()[id];
    if (info === undefined) throw new TopologyError(`there is no sub-topology ${id}`);
    return info.sourceTopics.map((t) => this.resolveTopic(t, applicationId));
  }

  /**
   * The sub-topology that reads `topic` (a run-time name), or undefined.
   * Pattern sources match too.
   */
  subtopologyForTopic(topic: string, applicationId: string): number | undefined {
    for (const info of this.subtopologies()) {
      if (info.sourceTopics.some((t) => this.resolveTopic(t, applicationId) === topic)) return info.id;
      if (info.sourcePatterns.some((p) => p.test(topic))) return info.id;
    }
    return undefined;
  }

  /**
   * The topics the app must create before it runs: a compacted changelog
   * per logged store and each repartition topic, with where its partition
   * count comes from.
   */
  internalTopics(applicationId: string): InternalTopicSpec[] {
    const specs: InternalTopicSpec[] = [];
    const subs = this.subtopologies();
    const writersOf = (topic: string): SubtopologyInfo[] =>
      subs.filter((s) =>
        s.nodes.some((n) => {
          const d = this.nodes.get(n)!.def;
          return d.kind === 'sink' && d.topic === topic;
        }),
      );
    // the user topics an internal topic's partition count derives from: a repartition topic
    // takes its writers' sources (Kafka Streams' default), resolved through chains of
    // repartition topics, so the runtime can size every internal topic on the first run,
    // before any of them exists
    const external = (topics: readonly string[], seen: Set<string>): string[] => {
      const out = new Set<string>();
      for (const t of topics) {
        if (!this.internalTopicNames.has(t)) {
          out.add(this.resolveTopic(t, applicationId));
          continue;
        }
        if (seen.has(t)) continue;
        seen.add(t);
        for (const w of writersOf(t)) for (const x of external(w.sourceTopics, seen)) out.add(x);
      }
      return [...out];
    };
    for (const topic of this.internalTopicNames) {
      const reader = subs.find((s) => s.sourceTopics.includes(topic));
      specs.push({
        name: this.resolveTopic(topic, applicationId),
        kind: 'repartition',
        subtopology: reader?.id ?? -1,
        partitionsFrom: external([topic], new Set()),
        config: { 'cleanup.policy': 'delete', 'retention.ms': '-1' },
      });
    }
    for (const sub of subs) {
      for (const store of sub.stores) {
        const builder = this.storeBuilders.get(store)!;
        if (!builder.loggingEnabled) continue;
        specs.push({
          name: `${applicationId}-${store}-changelog`,
          kind: 'changelog',
          subtopology: sub.id,
          store,
          partitionsFrom: external(sub.sourceTopics, new Set()),
          // window stores log unique keys per window: their changelogs also delete by time
          config: {
            ...builder.logConfig,
            'cleanup.policy':
              builder.logConfig['cleanup.policy'] === 'compact,delete' ? 'compact,delete' : 'compact',
          },
        });
      }
    }
    return specs;
  }

  /** A description like Kafka Streams' (sub-topologies, nodes, stores, topics); `toString()` prints its text form. */
  describe(): TopologyDescription {
    return buildDescription(this.subtopologies(), this.globalSubtopologies(), (name) => {
      const n = this.nodes.get(name)!;
      return { def: n.def, parents: n.parents, children: n.children, stores: [...n.stores] };
    });
  }

  private resolveTopic(topic: string, applicationId: string): string {
    return this.internalTopicNames.has(topic) ? `${applicationId}-${topic}` : topic;
  }

  private addNode(def: NodeDef, parents: string[]): void {
    this.nodes.set(def.name, { def, parents: [...parents], children: [], stores: new Set() });
    for (const p of parents) {
      const parentNode = this.nodes.get(p)!;
      parentNode.children.push(def.name);
    }
    this.cachedSubtopologies = undefined;
  }

  private checkNewName(name: string): void {
    if (typeof name !== 'string' || name.length === 0)
      throw new TopologyError('a node needs a non-empty name');
    if (this.nodes.has(name)) {
      throw new TopologyError(
        `a node named "${name}" already exists in the topology; node names must be unique`,
        { processor: name },
      );
    }
  }

  private checkParents(name: string, parentNames: readonly string[]): void {
    if (parentNames.length === 0)
      throw new TopologyError(`"${name}" must have at least one parent`, { processor: name });
    const seen = new Set<string>();
    for (const p of parentNames) {
      if (p === name) throw new TopologyError(`"${name}" cannot be its own parent`, { processor: name });
      if (seen.has(p)) throw new TopologyError(`"${name}" names parent "${p}" twice`, { processor: name });
      seen.add(p);
      const node = this.nodes.get(p);
      if (node === undefined)
        throw new TopologyError(`parent "${p}" of "${name}" is not in the topology; add parents first`, {
          processor: name,
        });
      if (node.def.kind === 'sink')
        throw new TopologyError(`sink "${p}" cannot be the parent of "${name}"`, { processor: name });
    }
  }
}

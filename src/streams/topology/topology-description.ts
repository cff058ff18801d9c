/**
 * TopologyDescription: what `Topology.describe()` returns, shaped like Kafka
 * Streams' (sub-topologies of sources, processors and sinks, with stores,
 * topics, predecessors and successors), and printed like it so that an
 * operator who knows Kafka Streams reads it at once, and `describe --diff`
 * can compare two versions line by line.
 */
import type { NodeDef } from '../processor/processor-topology.ts';
import type { SubtopologyInfo } from './topology.ts';

export interface NodeDescription {
  readonly type: 'source' | 'processor' | 'sink';
  readonly name: string;
  readonly predecessors: readonly string[];
  readonly successors: readonly string[];
}

export interface SourceDescription extends NodeDescription {
  readonly type: 'source';
  /** The topics read, or undefined when a pattern subscribes. */
  readonly topics: readonly string[] | undefined;
  readonly topicPattern: string | undefined;
}

export interface ProcessorDescription extends NodeDescription {
  readonly type: 'processor';
  readonly stores: readonly string[];
}

export interface SinkDescription extends NodeDescription {
  readonly type: 'sink';
  /** The topic written, or undefined when a TopicNameExtractor picks it per record. */
  readonly topic: string | undefined;
  readonly topicExtractor: string | undefined;
}

export type NodeDescriptionUnion = SourceDescription | ProcessorDescription | SinkDescription;

export interface SubtopologyDescription {
  readonly id: number;
  /** True for a global store's sub-topology (it generates no tasks). */
  readonly global: boolean;
  /** In Kafka Streams' print order: larger sub-trees first, ties by name. */
  readonly nodes: readonly NodeDescriptionUnion[];
  toString(): string;
}

export interface TopologyDescription {
  readonly subtopologies: readonly SubtopologyDescription[];
  /** Kafka Streams' text form (`Topologies:` / `Sub-topology: 0` / `Source: ... (topics: [...])` / `--> ...`). */
  toString(): string;
  /** A plain-object form for JSON output. */
  toJSON(): unknown;
}

interface NodeView {
  def: NodeDef;
  parents: readonly string[];
  children: readonly string[];
  stores: readonly string[];
}

export function buildDescription(
  subtopologies: readonly SubtopologyInfo[],
  globals: readonly SubtopologyInfo[],
  view: (name: string) => NodeView,
): TopologyDescription {
  const subs = [
    ...subtopologies.map((info) => describeSubtopology(info, view, false)),
    ...globals.map((info) => describeSubtopology(info, view, true)),
  ];
  return {
    subtopologies: subs,
    toString() {
      // Kafka Streams: "Topologies:\n " then "  " + each sub-topology, global stores last
      return 'Topologies:\n ' + subs.map((s) => '  ' + s.toString()).join('');
    },
    toJSON() {
      return { subtopologies: subs.map((s) => ({ id: s.id, global: s.global, nodes: s.nodes })) };
    },
  };
}

function describeSubtopology(
  info: SubtopologyInfo,
  view: (name: string) => NodeView,
  global: boolean,
): SubtopologyDescription {
  // sub-tree size as Kafka Streams' AbstractNode.size: 1 + sizes of successors
  const sizes = new Map<string, number>();
  const size = (name: string, visiting: Set<string>): number => {
    const cached = sizes.get(name);
    if (cached !== undefined) return cached;
    visiting.add(name);
    let total = 1;
    for (const c of view(name).children) if (!visiting.has(c)) total += size(c, visiting);
    visiting.delete(name);
    sizes.set(name, total);
    return total;
  };
  const nodes: NodeDescriptionUnion[] = info.nodes.map((name) => describeNode(view(name)));
  for (const n of nodes) size(n.name, new Set());
  nodes.sort((a, b) => {
    const d = sizes.get(b.name)! - sizes.get(a.name)!;
    return d !== 0 ? d : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
  return {
    id: info.id,
    global,
    nodes,
    toString() {
      const body = nodes.map((n) => `    ${nodeText(n)}\n`).join('');
      // Kafka Streams' GlobalStore.toString has no blank line after it
      return global
        ? `Sub-topology: ${info.id} for global store (will not generate tasks)\n` + body
        : `Sub-topology: ${info.id}\n` + body + '\n';
    },
  };
}

function describeNode(v: NodeView): NodeDescriptionUnion {
  const base = { name: v.def.name, predecessors: [...v.parents], successors: [...v.children] };
  switch (v.def.kind) {
    case 'source':
      return {
        ...base,
        type: 'source',
        topics: v.def.topics ? [...v.def.topics] : undefined,
        topicPattern: v.def.pattern?.source,
      };
    case 'processor':
      return { ...base, type: 'processor', stores: [...v.stores] };
    case 'sink':
      return {
        ...base,
        type: 'sink',
        topic: typeof v.def.topic === 'string' ? v.def.topic : undefined,
        topicExtractor: typeof v.def.topic === 'string' ? undefined : v.def.topic.name || 'anonymous',
      };
  }
}

function names(list: readonly string[]): string {
  return list.length === 0 ? 'none' : list.join(', ');
}

function nodeText(n: NodeDescriptionUnion): string {
  switch (n.type) {
    case 'source': {
      const what = n.topics ? `topics: [${n.topics.join(', ')}]` : `topics: ${n.topicPattern}`; // Kafka Streams prints the pattern in place of the list
      return `Source: ${n.name} (${what})\n      --> ${names(n.successors)}`;
    }
    case 'processor':
      return `Processor: ${n.name} (stores: [${n.stores.join(', ')}])\n      --> ${names(n.successors)}\n      <-- ${names(n.predecessors)}`;
    case 'sink': {
      const what = n.topic !== undefined ? `topic: ${n.topic}` : `extractor class: ${n.topicExtractor}`;
      return `Sink: ${n.name} (${what})\n      <-- ${names(n.predecessors)}`;
    }
  }
}

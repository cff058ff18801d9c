/**
 * Renderings of a topology for `describe`: Mermaid and Graphviz DOT of the
 * same graph (sub-topologies as clusters, topics as their own shapes, stores
 * as cylinders), and the JSON snapshot that `describe --diff` compares.
 *
 * Topics are drawn once even when a sink of one sub-topology and a source
 * of another name the same topic: that shared node is how a reader sees
 * data cross sub-topologies (through repartition or user topics).
 */
import type { Topology, TopologyDescription } from '../streams/topology/index.ts';

/** The application id placeholder in snapshot topic names: snapshots do not depend on an id. */
export const APP_ID_PLACEHOLDER = '{application.id}';

export const DESCRIBE_FORMATS = ['text', 'mermaid', 'dot', 'json', 'svg'] as const;
export type DescribeFormat = (typeof DESCRIBE_FORMATS)[number];

/** What `describe --format json` prints and `describe --diff` reads. */
export interface TopologySnapshot {
  /** Snapshot format version. */
  readonly format: 1;
  readonly subtopologies: ReadonlyArray<{
    readonly id: number;
    readonly global: boolean;
    readonly nodes: ReadonlyArray<{
      readonly type: 'source' | 'processor' | 'sink';
      readonly name: string;
      readonly topics?: readonly string[];
      readonly topicPattern?: string;
      readonly topic?: string;
      readonly stores?: readonly string[];
      readonly predecessors: readonly string[];
      readonly successors: readonly string[];
    }>;
  }>;
  /** Internal topics with the placeholder application id, e.g. `{application.id}-counts-changelog`. */
  readonly internalTopics: ReadonlyArray<{
    readonly name: string;
    readonly kind: string;
    readonly subtopology: number;
    readonly store?: string;
  }>;
}

export function snapshotOf(topology: Topology): TopologySnapshot {
  const d = topology.describe();
  return {
    format: 1,
    subtopologies: d.subtopologies.map((s) => ({
      id: s.id,
      global: s.global,
      nodes: s.nodes.map((n) => {
        const base = {
          type: n.type,
          name: n.name,
          predecessors: [...n.predecessors],
          successors: [...n.successors],
        };
        if (n.type === 'source')
          return {
            ...base,
            ...(n.topics ? { topics: [...n.topics] } : {}),
            ...(n.topicPattern ? { topicPattern: n.topicPattern } : {}),
          };
        if (n.type === 'processor') return { ...base, stores: [...n.stores] };
        return { ...base, ...(n.topic !== undefined ? { topic: n.topic } : {}) };
      }),
    })),
    internalTopics: topology.internalTopics(APP_ID_PLACEHOLDER).map((t) => ({
      name: t.name,
      kind: t.kind,
      subtopology: t.subtopology,
      ...(t.store !== undefined ? { store: t.store } : {}),
    })),
  };
}

/** Mermaid/DOT identifiers: only [A-Za-z0-9_], with a kind prefix so a topic and a node of one name differ. */
function id(kind: 'n' | 't' | 's', name: string): string {
  return `${kind}_${name.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16)}_`)}`;
}

function quote(text: string): string {
  return text.replace(/"/g, '#quot;');
}

interface Edges {
  topics: Set<string>;
  stores: Set<string>;
  lines: Array<[from: string, to: string, dashed: boolean]>;
}

function collectEdges(d: TopologyDescription): Edges {
  const e: Edges = { topics: new Set(), stores: new Set(), lines: [] };
  for (const s of d.subtopologies) {
    for (const n of s.nodes) {
      if (n.type === 'source') {
        for (const t of n.topics ?? [n.topicPattern ?? '?']) {
          e.topics.add(t);
          e.lines.push([id('t', t), id('n', n.name), false]);
        }
      }
      if (n.type === 'sink') {
        const t = n.topic ?? `(extractor ${n.topicExtractor})`;
        e.topics.add(t);
        e.lines.push([id('n', n.name), id('t', t), false]);
      }
      if (n.type === 'processor') {
        for (const st of n.stores) {
          e.stores.add(st);
          e.lines.push([id('n', n.name), id('s', st), true]);
        }
      }
      for (const c of n.successors) e.lines.push([id('n', n.name), id('n', c), false]);
    }
  }
  return e;
}

/** A Mermaid flowchart (renders on GitHub/GitLab and in mermaid.live). */
export function toMermaid(d: TopologyDescription): string {
  const out = ['flowchart LR'];
  for (const s of d.subtopologies) {
    out.push(`  subgraph sub${s.id}["Sub-topology ${s.id}${s.global ? ' (global store)' : ''}"]`);
    for (const n of s.nodes) {
      const label = quote(`${n.type}: ${n.name}`);
      out.push(
        n.type === 'processor'
          ? `    ${id('n', n.name)}["${label}"]`
          : `    ${id('n', n.name)}(["${label}"])`,
      );
    }
    out.push('  end');
  }
  const e = collectEdges(d);
  for (const t of [...e.topics].sort()) out.push(`  ${id('t', t)}[/"topic: ${quote(t)}"/]`);
  for (const st of [...e.stores].sort()) out.push(`  ${id('s', st)}[("store: ${quote(st)}")]`);
  for (const [from, to, dashed] of e.lines) out.push(`  ${from} ${dashed ? '-.-' : '-->'} ${to}`);
  return out.join('\n') + '\n';
}

function dotString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A Graphviz DOT digraph (`dot -Tsvg`, or `describe --format svg`). */
export function toDot(d: TopologyDescription): string {
  const out = ['digraph topology {', '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=11];'];
  for (const s of d.subtopologies) {
    out.push(
      `  subgraph cluster_${s.id} {`,
      `    label=${dotString(`Sub-topology ${s.id}${s.global ? ' (global store)' : ''}`)};`,
      '    style=rounded;',
    );
    for (const n of s.nodes) {
      const shape = n.type === 'processor' ? 'box' : 'ellipse';
      out.push(`    ${id('n', n.name)} [label=${dotString(`${n.type}: ${n.name}`)}, shape=${shape}];`);
    }
    out.push('  }');
  }
  const e = collectEdges(d);
  for (const t of [...e.topics].sort())
    out.push(
      `  ${id('t', t)} [label=${dotString(t)}, shape=parallelogram, style=filled, fillcolor="#eef3ff"];`,
    );
  for (const st of [...e.stores].sort())
    out.push(`  ${id('s', st)} [label=${dotString(st)}, shape=cylinder, style=filled, fillcolor="#fff4e0"];`);
  for (const [from, to, dashed] of e.lines)
    out.push(`  ${from} -> ${to}${dashed ? ' [style=dashed, dir=none]' : ''};`);
  out.push('}');
  return out.join('\n') + '\n';
}

/** One finding of a diff; `breaking` ones lose or strand state or data. */
export interface DiffFinding {
  readonly kind:
    | 'internal-topic-orphaned'
    | 'internal-topic-new'
    | 'store-renamed'
    | 'store-removed'
    | 'store-added'
    | 'store-moved'
    | 'processor-renamed'
    | 'processor-removed'
    | 'processor-added'
    | 'source-topics-changed'
    | 'sink-topic-changed';
  readonly breaking: boolean;
  readonly message: string;
}

interface NodeFacts {
  type: string;
  sub: number;
  stores: readonly string[];
  predecessors: readonly string[];
  successors: readonly string[];
  topics: string;
}

function facts(s: TopologySnapshot): Map<string, NodeFacts> {
  const m = new Map<string, NodeFacts>();
  for (const sub of s.subtopologies)
    for (const n of sub.nodes)
      m.set(n.name, {
        type: n.type,
        sub: sub.id,
        stores: n.stores ?? [],
        predecessors: n.predecessors,
        successors: n.successors,
        topics: n.topics ? n.topics.join(',') : (n.topicPattern ?? n.topic ?? ''),
      });
  return m;
}

function storeHome(s: TopologySnapshot): Map<string, { sub: number; processors: string[] }> {
  const m = new Map<string, { sub: number; processors: string[] }>();
  for (const sub of s.subtopologies)
    for (const n of sub.nodes)
      for (const st of n.stores ?? []) {
        const h = m.get(st) ?? { sub: sub.id, processors: [] };
        h.processors.push(n.name);
        m.set(st, h);
      }
  return m;
}

/**
 * What changes between a saved snapshot and the current topology, for an
 * operator deciding whether an upgrade can keep its state. Breaking:
 * internal topics that the new version no longer uses (orphaned: their data
 * is no longer read), renamed or removed stores (their state is left
 * behind), stores that move to another sub-topology (the task ids, hence
 * the state directories, change), renamed processors. A rename is inferred
 * when one name disappears and one appears at the same place (same
 * neighbours or the same processor).
 */
export function diffSnapshots(saved: TopologySnapshot, current: TopologySnapshot): DiffFinding[] {
  const out: DiffFinding[] = [];
  const oldNodes = facts(saved);
  const newNodes = facts(current);
  const removed = [...oldNodes.keys()].filter((n) => !newNodes.has(n));
  const added = new Set([...newNodes.keys()].filter((n) => !oldNodes.has(n)));
  for (const name of removed) {
    const o = oldNodes.get(name)!;
    // a rename keeps the type and at least one neighbour (or the sub-topology's only slot)
    const twin = [...added].find((a) => {
      const n = newNodes.get(a)!;
      if (n.type !== o.type) return false;
      const sameNeighbour =
        n.predecessors.some((p) => o.predecessors.includes(p)) ||
        n.successors.some((c) => o.successors.includes(c));
      return sameNeighbour || (n.topics !== '' && n.topics === o.topics);
    });
    if (twin) {
      added.delete(twin);
      out.push({
        kind: 'processor-renamed',
        breaking: true,
        message: `${o.type} "${name}" is renamed to "${twin}": anything keyed by the node name (repartition topics, metrics, dashboards) changes`,
      });
    } else {
      out.push({ kind: 'processor-removed', breaking: false, message: `${o.type} "${name}" is removed` });
    }
  }
  for (const name of added)
    out.push({
      kind: 'processor-added',
      breaking: false,
      message: `${newNodes.get(name)!.type} "${name}" is new`,
    });
  for (const [name, o] of oldNodes) {
    const n = newNodes.get(name);
    if (!n || n.type !== o.type) continue;
    if (o.type === 'source' && n.topics !== o.topics)
      out.push({
        kind: 'source-topics-changed',
        breaking: false,
        message: `source "${name}" reads [${n.topics}] instead of [${o.topics}]: committed offsets of the old topics are no longer used`,
      });
    if (o.type === 'sink' && n.topics !== o.topics)
      out.push({
        kind: 'sink-topic-changed',
        breaking: false,
        message: `sink "${name}" writes "${n.topics}" instead of "${o.topics}"`,
      });
  }

  const oldStores = storeHome(saved);
  const newStores = storeHome(current);
  const goneStores = [...oldStores.keys()].filter((s) => !newStores.has(s));
  const newStoreNames = new Set([...newStores.keys()].filter((s) => !oldStores.has(s)));
  for (const st of goneStores) {
    const o = oldStores.get(st)!;
    const twin = [...newStoreNames].find((c) =>
      newStores.get(c)!.processors.some((p) => o.processors.includes(p)),
    );
    if (twin) {
      newStoreNames.delete(twin);
      out.push({
        kind: 'store-renamed',
        breaking: true,
        message: `store "${st}" is renamed to "${twin}": "${twin}" starts empty and the state of "${st}" is left behind`,
      });
    } else {
      out.push({
        kind: 'store-removed',
        breaking: true,
        message: `store "${st}" is removed: its local state directories and changelog are left behind`,
      });
    }
  }
  for (const st of newStoreNames)
    out.push({ kind: 'store-added', breaking: false, message: `store "${st}" is new (starts empty)` });
  for (const [st, o] of oldStores) {
    const n = newStores.get(st);
    if (n && n.sub !== o.sub)
      out.push({
        kind: 'store-moved',
        breaking: true,
        message: `store "${st}" moves from sub-topology ${o.sub} to ${n.sub}: its tasks (${o.sub}_<p> -> ${n.sub}_<p>) and local state directories change; the store restores from its changelog`,
      });
  }

  const newTopics = new Set(current.internalTopics.map((t) => t.name));
  const oldTopics = new Set(saved.internalTopics.map((t) => t.name));
  for (const t of saved.internalTopics)
    if (!newTopics.has(t.name))
      out.push({
        kind: 'internal-topic-orphaned',
        breaking: true,
        message: `internal ${t.kind} topic "${t.name}" is orphaned: nothing reads or writes it any more (delete it, or keep the old name)`,
      });
  for (const t of current.internalTopics)
    if (!oldTopics.has(t.name))
      out.push({
        kind: 'internal-topic-new',
        breaking: false,
        message: `internal ${t.kind} topic "${t.name}" is new`,
      });
  return out;
}

/** Parses a saved snapshot. @throws Error naming the file when it is not a snapshot */
export function parseSnapshot(text: string, file: string): TopologySnapshot {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `${file} is not a topology snapshot (save one with \`describe <topology> --format json\`): ${(error as Error).message}`,
    );
  }
  const v = value as Partial<TopologySnapshot>;
  if (v.format !== 1 || !Array.isArray(v.subtopologies) || !Array.isArray(v.internalTopics))
    throw new Error(
      `${file} is not a topology snapshot of format 1 (save one with \`describe <topology> --format json\`)`,
    );
  return v as TopologySnapshot;
}

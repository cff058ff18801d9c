/**
 * The engagement topology: what users saw and clicked, turned into training
 * data, counters and the candidate set of every list context.
 *
 *   impressions ─┐                        ┌─► training-examples (label 1 / 0 per shown item)
 *                ├─► join-clicks ─────────┼─► context-activity (by context id) ─► context-candidates ─► context-candidates topic
 *   clicks ──────┘  (windowed join)       └─► item-activity (by item id) ─► item-counters
 *
 * The join: impressions and clicks are both keyed by impression id
 * (co-partitioned). A click joins the impression it names when both fall in
 * one window of `joinWindowMs`: an impression waits in `impression-window`
 * until stream time passes its timestamp + window, collecting its clicks; a
 * click that arrives before its impression waits in `early-clicks` for the
 * same window. When the window closes, every shown item becomes one labelled
 * example (1 = clicked in the window) and the impression is forgotten;
 * clicks whose impression never came are dropped and counted.
 *
 * Counters are tumbling windows of `counterWindowMs` (event time), per item
 * (`item-counters`: `<itemId>@<windowStart>`) and per context
 * (`context-counters`: `<contextId>@<windowStart>`), each keeping
 * impressions and clicks; windows older than `counterRetentionMs` are deleted.
 *
 * The candidate set of a context: the items shown in it within
 * `candidateTtlMs` (event time), most recent first, at most `maxCandidates`,
 * each with its last-seen time and its impressions and clicks in that
 * context. Every batch re-emits the sets it changed to the compacted
 * `context-candidates` topic, which the recommendations topology reads.
 */
import { Stores, type KeyValueStore } from '../src/streams/state/index.ts';
import { Topology } from '../src/streams/topology/index.ts';
import type { Processor, ProcessorContext, StreamRecord } from '../src/streams/processor/index.ts';
import { jsonSerde } from '../src/streams/serde/index.ts';
import { createLogger, traceHeadersOf } from '../src/telemetry/index.ts';
import type { ClickEvent, ImpressionEvent, PipelineSerdes, TrainingExampleEvent } from './events.ts';
import type { PipelineStats } from './pipeline-stats.ts';
import type { PipelineTopics } from './topics.ts';

const log = createLogger('engagement');

export const ENGAGEMENT_STORES = {
  impressionWindow: 'impression-window',
  earlyClicks: 'early-clicks',
  expiry: 'join-expiry',
  itemCounters: 'item-counters',
  contextCounters: 'context-counters',
  candidates: 'context-candidates',
} as const;

/** Impressions and clicks of one key in one window. */
export interface Counts {
  impressions: number;
  clicks: number;
}

/** What `context-activity` carries: one impression or one joined click, keyed by context id. */
export interface ContextActivity {
  kind: 'impression' | 'click';
  contextId: string;
  publisher: string;
  placement: string;
  country: string;
  itemIds: string[];
  timestamp: number;
}

/** What `item-activity` carries, keyed by item id. */
export interface ItemActivity {
  impressions: number;
  clicks: number;
  timestamp: number;
}

/** One candidate of a context. */
export interface Candidate {
  itemId: string;
  /** Last impression of the item in this context, ms since the epoch (event time). */
  lastSeen: number;
  impressions: number;
  clicks: number;
}

/** The value of `context-candidates` (keyed by context id). */
export interface CandidateSet {
  contextId: string;
  publisher: string;
  placement: string;
  country: string;
  /** Most recently seen first. */
  candidates: Candidate[];
  updatedAt: number;
}

interface WindowedImpression {
  impression: ImpressionEvent;
  clicked: string[];
}

export interface EngagementOptions {
  topics: PipelineTopics;
  serdes: PipelineSerdes;
  /** A click joins its impression within this many ms (event time). Default 600000 (10 min). */
  joinWindowMs?: number;
  /** Width of the tumbling counter windows, ms. Default 3600000 (1 h). */
  counterWindowMs?: number;
  /** Counter windows are kept this long, ms. Default 86400000 (1 day). */
  counterRetentionMs?: number;
  /** An item leaves a context's candidates when not shown there for this long, ms. Default 86400000. */
  candidateTtlMs?: number;
  /** Candidates kept per context. Default 500. */
  maxCandidates?: number;
  inMemoryStores?: boolean;
  stats?: PipelineStats;
}

const padTime = (ms: number): string => String(Math.max(0, Math.floor(ms))).padStart(15, '0');

class JoinClicks implements Processor<string, ImpressionEvent | ClickEvent, string, unknown> {
  private ctx!: ProcessorContext<string, unknown>;
  private windowStore!: KeyValueStore<string, WindowedImpression>;
  private early!: KeyValueStore<string, ClickEvent[]>;
  private expiry!: KeyValueStore<string, string>;
  private readonly windowMs: number;
  droppedClicks = 0;

  constructor(private readonly o: EngagementOptions) {
    this.windowMs = o.joinWindowMs ?? 600_000;
  }

  init(ctx: ProcessorContext<string, unknown>): void {
    this.ctx = ctx;
    this.windowStore = ctx.getStateStore(ENGAGEMENT_STORES.impressionWindow);
    this.early = ctx.getStateStore(ENGAGEMENT_STORES.earlyClicks);
    this.expiry = ctx.getStateStore(ENGAGEMENT_STORES.expiry);
    // stream time: windows close as event time advances, so replays give the same examples
    ctx.schedule(Math.max(1, Math.floor(this.windowMs / 4)), 'STREAM_TIME', (t) => this.closeWindows(t));
  }

  async process(records: ReadonlyArray<StreamRecord<string, ImpressionEvent | ClickEvent>>): Promise<void> {
    const activity: StreamRecord<string, ContextActivity>[] = [];
    const itemActivity: StreamRecord<string, ItemActivity>[] = [];
    for (const r of records) {
      const v = r.value;
      if (!v) continue;
      if ('items' in v) {
        if (this.o.stats) this.o.stats.impressions++;
        const early = (await this.early.get(v.impressionId)) ?? [];
        if (early.length > 0) await this.early.delete(v.impressionId);
        const shown = new Set(v.items.map((i) => i.itemId));
        const clicked = [...new Set(early.map((c) => c.itemId).filter((id) => shown.has(id)))];
        await this.windowStore.put(v.impressionId, { impression: v, clicked });
        await this.expiry.put(`${padTime(v.timestamp)}|i|${v.impressionId}`, v.impressionId);
        activity.push(this.activity('impression', v, [...shown], v.timestamp, traceHeadersOf(r.headers)));
        for (const id of shown)
          itemActivity.push({
            key: id,
            value: { impressions: 1, clicks: 0, timestamp: v.timestamp },
            timestamp: v.timestamp,
            headers: {},
          });
        if (clicked.length > 0) {
          activity.push(this.activity('click', v, clicked, v.timestamp, traceHeadersOf(r.headers)));
          for (const id of clicked)
            itemActivity.push({
              key: id,
              value: { impressions: 0, clicks: 1, timestamp: v.timestamp },
              timestamp: v.timestamp,
              headers: {},
            });
        }
      } else {
        if (this.o.stats) this.o.stats.clicks++;
        const w = await this.windowStore.get(v.impressionId);
        if (w) {
          const shown = w.impression.items.some((i) => i.itemId === v.itemId);
          if (
            shown &&
            !w.clicked.includes(v.itemId) &&
            v.timestamp <= w.impression.timestamp + this.windowMs
          ) {
            w.clicked.push(v.itemId);
            await this.windowStore.put(v.impressionId, w);
            activity.push(
              this.activity('click', w.impression, [v.itemId], v.timestamp, traceHeadersOf(r.headers)),
            );
            itemActivity.push({
              key: v.itemId,
              value: { impressions: 0, clicks: 1, timestamp: v.timestamp },
              timestamp: v.timestamp,
              headers: {},
            });
          } else if (!shown) this.droppedClicks++;
        } else {
          const early = (await this.early.get(v.impressionId)) ?? [];
          early.push(v);
          await this.early.put(v.impressionId, early);
          await this.expiry.put(`${padTime(v.timestamp)}|c|${v.impressionId}`, v.impressionId);
        }
      }
    }
    if (activity.length > 0) this.ctx.forward(activity, 'to-context-activity');
    if (itemActivity.length > 0) this.ctx.forward(itemActivity, 'to-item-activity');
  }

  /** @param headers the trace headers of the event, so the trace continues to the context's list */
  private activity(
    kind: ContextActivity['kind'],
    imp: ImpressionEvent,
    itemIds: string[],
    timestamp: number,
    headers: Record<string, Buffer | string> = {},
  ): StreamRecord<string, ContextActivity> {
    const value: ContextActivity = {
      kind,
      contextId: imp.context.contextId,
      publisher: imp.context.publisher,
      placement: imp.context.placement,
      country: imp.country,
      itemIds,
      timestamp,
    };
    return { key: imp.context.contextId, value, timestamp, headers };
  }

  /** Emits the examples of every impression whose window closed by stream time `t`, and forgets it. */
  private async closeWindows(t: number): Promise<void> {
    const upTo = `${padTime(t - this.windowMs)}|~`;
    const due: [string, string][] = [];
    for await (const [k, id] of this.expiry.range(undefined, upTo)) due.push([k, id]);
    if (due.length === 0) return;
    const examples: StreamRecord<string, TrainingExampleEvent>[] = [];
    for (const [k, id] of due) {
      if (k.includes('|c|')) {
        const early = await this.early.get(id);
        if (early) {
          this.droppedClicks += early.length;
          await this.early.delete(id);
        }
        continue;
      }
      const w = await this.windowStore.get(id);
      if (!w) continue;
      const imp = w.impression;
      const hour = new Date(imp.timestamp).getUTCHours();
      for (const shown of imp.items) {
        const clicked = w.clicked.includes(shown.itemId);
        const features: Record<string, string | number | boolean> = {
          contextId: imp.context.contextId,
          publisher: imp.context.publisher,
          placement: imp.context.placement,
          country: imp.country,
          segment: imp.userSegment,
          device: imp.device,
          position: shown.position,
          hour,
        };
        if (imp.pageDepth !== null) features.pageDepth = imp.pageDepth;
        const value: TrainingExampleEvent = {
          impressionId: imp.impressionId,
          itemId: shown.itemId,
          contextId: imp.context.contextId,
          features,
          label: clicked ? 1 : 0,
          impressionTimestamp: imp.timestamp,
          clickTimestamp: clicked ? imp.timestamp : null,
        };
        examples.push({
          key: `${imp.impressionId}/${shown.itemId}`,
          value,
          timestamp: imp.timestamp,
          headers: {},
        });
      }
      await this.windowStore.delete(id);
    }
    await this.expiry.putAll(due.map(([k]) => [k, null] as const));
    if (this.o.stats) this.o.stats.trainingExamples += examples.length;
    if (examples.length > 0) this.ctx.forward(examples, 'to-training-examples');
    if (this.droppedClicks > 0) {
      log.debug(
        { task: this.ctx.taskId, dropped: this.droppedClicks },
        'clicks without a matching impression in the join window',
      );
    }
  }
}

/** Adds `delta` to the tumbling window of `key` holding `timestamp`; deletes windows past retention. */
async function addToWindow(
  store: KeyValueStore<string, Counts>,
  key: string,
  timestamp: number,
  delta: Counts,
  windowMs: number,
): Promise<void> {
  const start = Math.floor(timestamp / windowMs) * windowMs;
  const k = `${key}@${padTime(start)}`;
  const c = (await store.get(k)) ?? { impressions: 0, clicks: 0 };
  await store.put(k, { impressions: c.impressions + delta.impressions, clicks: c.clicks + delta.clicks });
}

async function expireWindows(
  store: KeyValueStore<string, Counts>,
  keys: Iterable<string>,
  before: number,
): Promise<void> {
  const dead: (readonly [string, null])[] = [];
  for (const key of keys) {
    for await (const [k] of store.range(`${key}@`, `${key}@${padTime(before)}`))
      if (k < `${key}@${padTime(before)}`) dead.push([k, null]);
  }
  if (dead.length > 0) await store.putAll(dead);
}

class ItemCounters implements Processor<string, ItemActivity, never, never> {
  private store!: KeyValueStore<string, Counts>;
  constructor(private readonly o: EngagementOptions) {}
  init(ctx: ProcessorContext<never, never>): void {
    this.store = ctx.getStateStore(ENGAGEMENT_STORES.itemCounters);
  }
  async process(records: ReadonlyArray<StreamRecord<string, ItemActivity>>): Promise<void> {
    const w = this.o.counterWindowMs ?? 3_600_000;
    const touched = new Set<string>();
    let latest = 0;
    for (const r of records) {
      if (!r.value) continue;
      await addToWindow(this.store, r.key, r.value.timestamp, r.value, w);
      touched.add(r.key);
      latest = Math.max(latest, r.value.timestamp);
    }
    await expireWindows(this.store, touched, latest - (this.o.counterRetentionMs ?? 86_400_000));
  }
}

class ContextCandidates implements Processor<string, ContextActivity, string, CandidateSet> {
  private ctx!: ProcessorContext<string, CandidateSet>;
  private sets!: KeyValueStore<string, CandidateSet>;
  private counters!: KeyValueStore<string, Counts>;
  constructor(private readonly o: EngagementOptions) {}

  init(ctx: ProcessorContext<string, CandidateSet>): void {
    this.ctx = ctx;
    this.sets = ctx.getStateStore(ENGAGEMENT_STORES.candidates);
    this.counters = ctx.getStateStore(ENGAGEMENT_STORES.contextCounters);
  }

  async process(records: ReadonlyArray<StreamRecord<string, ContextActivity>>): Promise<void> {
    const ttl = this.o.candidateTtlMs ?? 86_400_000;
    const max = this.o.maxCandidates ?? 500;
    const w = this.o.counterWindowMs ?? 3_600_000;
    const changed = new Map<string, CandidateSet>();
    // the trace of the latest event per context continues on its candidate set
    const traces = new Map<string, Record<string, Buffer | string>>();
    let latest = 0;
    for (const r of records) {
      const a = r.value;
      if (!a) continue;
      traces.set(a.contextId, traceHeadersOf(r.headers));
      latest = Math.max(latest, a.timestamp);
      let set = changed.get(a.contextId) ?? (await this.sets.get(a.contextId));
      set ??= {
        contextId: a.contextId,
        publisher: a.publisher,
        placement: a.placement,
        country: a.country,
        candidates: [],
        updatedAt: 0,
      };
      const byId = new Map(set.candidates.map((c) => [c.itemId, c]));
      for (const id of a.itemIds) {
        let c = byId.get(id);
        if (!c) byId.set(id, (c = { itemId: id, lastSeen: a.timestamp, impressions: 0, clicks: 0 }));
        if (a.kind === 'impression') {
          c.impressions++;
          c.lastSeen = Math.max(c.lastSeen, a.timestamp);
        } else c.clicks++;
      }
      const horizon = a.timestamp - ttl;
      set.candidates = [...byId.values()]
        .filter((c) => c.lastSeen >= horizon)
        .sort((x, y) => y.lastSeen - x.lastSeen || (x.itemId < y.itemId ? -1 : 1))
        .slice(0, max);
      set.updatedAt = Math.max(set.updatedAt, a.timestamp);
      changed.set(a.contextId, set);
      await addToWindow(
        this.counters,
        a.contextId,
        a.timestamp,
        a.kind === 'impression'
          ? { impressions: 1, clicks: 0 }
          : { impressions: 0, clicks: a.itemIds.length },
        w,
      );
    }
    if (changed.size === 0) return;
    await this.sets.putAll([...changed].map(([k, v]) => [k, v] as const));
    await expireWindows(this.counters, changed.keys(), latest - (this.o.counterRetentionMs ?? 86_400_000));
    this.ctx.forward(
      [...changed.values()].map((s) => ({
        key: s.contextId,
        value: s,
        timestamp: s.updatedAt,
        headers: traces.get(s.contextId) ?? {},
      })),
    );
  }
}

/**
 * Builds the engagement topology: three sub-topologies (the join, by
 * impression id; context candidates + counters, by context id; item
 * counters, by item id) connected by the `context-activity` and
 * `item-activity` topics.
 */
export function engagementTopology(o: EngagementOptions): Topology {
  const t = o.topics;
  const s = o.serdes;
  const supplier = (name: string) =>
    o.inMemoryStores ? Stores.inMemoryKeyValueStore(name) : Stores.persistentKeyValueStore(name);
  const store = <V>(name: string) => Stores.keyValueStoreBuilder(supplier(name), s.key, jsonSerde<V>());
  const activitySerde = jsonSerde<ContextActivity>();
  const itemActivitySerde = jsonSerde<ItemActivity>();
  return new Topology()
    .addSource('impressions', t.impressions, s.key, s.impression)
    .addSource('clicks', t.clicks, s.key, s.click)
    .addProcessor('join-clicks', () => new JoinClicks(o), 'impressions', 'clicks')
    .addStateStore(store<WindowedImpression>(ENGAGEMENT_STORES.impressionWindow), 'join-clicks')
    .addStateStore(store<ClickEvent[]>(ENGAGEMENT_STORES.earlyClicks), 'join-clicks')
    .addStateStore(store<string>(ENGAGEMENT_STORES.expiry), 'join-clicks')
    .addSink('to-training-examples', t.trainingExamples, s.key, s.trainingExample, 'join-clicks')
    .addSink('to-context-activity', t.contextActivity, s.key, activitySerde, 'join-clicks')
    .addSink('to-item-activity', t.itemActivity, s.key, itemActivitySerde, 'join-clicks')
    .addSource('context-activity', t.contextActivity, s.key, activitySerde)
    .addProcessor('context-candidates', () => new ContextCandidates(o), 'context-activity')
    .addStateStore(store<CandidateSet>(ENGAGEMENT_STORES.candidates), 'context-candidates')
    .addStateStore(store<Counts>(ENGAGEMENT_STORES.contextCounters), 'context-candidates')
    .addSink(
      'to-context-candidates',
      t.contextCandidates,
      s.key,
      jsonSerde<CandidateSet>(),
      'context-candidates',
    )
    .addSource('item-activity', t.itemActivity, s.key, itemActivitySerde)
    .addProcessor('item-counters', () => new ItemCounters(o), 'item-activity')
    .addStateStore(store<Counts>(ENGAGEMENT_STORES.itemCounters), 'item-counters');
}

/**
 * The event producer: the synthetic world of src/ml/generator.ts published
 * to Kafka in the Avro wire format, at a configurable rate. Items go to
 * `item-created`, shown lists to `impressions`, clicks (drawn from the
 * world's known ground-truth click probability) to `clicks`. The demo, the
 * integration tests and the benchmarks all run on this one known truth.
 *
 * Time: the world's clock starts at WORLD_EPOCH_MS and its training history
 * covers its first days. Live events continue where that history ends and
 * are stamped with wall-clock time: world time = wall time - `offsetMs`, so
 * item ages (a feature and a term of the truth) mean the same in training
 * and live.
 */
import { KafkaProducer, type Kafka, type OutgoingRecord } from '../kafka/index.ts';
import { Random, WORLD_EPOCH_MS, type Item, type World } from '../ml/index.ts';
import { createLogger } from '../telemetry/index.ts';
import type {
  ClickEvent,
  ImpressionEvent,
  ItemCreatedEvent,
  PipelineSerdes,
} from '../../topologies/events.ts';
import type { PipelineTopics } from '../../topologies/topics.ts';

const log = createLogger('event-producer');

/** Where live events start on the world's clock: after the default training history (3 h + 3 days). */
export const LIVE_WORLD_START_MS = WORLD_EPOCH_MS + 3 * 3_600_000 + 3 * 86_400_000;

export interface EventProducerOptions {
  kafka: Kafka;
  topics: PipelineTopics;
  serdes: PipelineSerdes;
  world: World;
  /** Impressions (shown lists) per second. Default 200. */
  impressionsPerSecond?: number;
  /** Items per shown list. Default 5. */
  itemsPerList?: number;
  /** New items per second (each first appears in impressions, then in item-created). Default 1. */
  newItemsPerSecond?: number;
  /**
   * How long after a new item's first impressions its item-created record is
   * published, ms: a delay shows the OOV path (scored before its embedding
   * exists). Default 0.
   */
  itemCreatedDelayMs?: number;
  /** Longest time between an impression and its click, ms. Default 2000. */
  clickDelayMs?: number;
  /** Share of a shown list drawn from the newest items (fresh content). Default 0.2. */
  freshShare?: number;
  seed?: number;
  /** Wall time of the world's LIVE_WORLD_START_MS. Default: now. */
  startWallMs?: number;
}

export interface ProducedCounts {
  items: number;
  impressions: number;
  clicks: number;
}

export class EventProducer {
  readonly counts: ProducedCounts = { items: 0, impressions: 0, clicks: 0 };
  /** world time = wall time - offsetMs */
  readonly offsetMs: number;
  private readonly producer: KafkaProducer;
  private readonly rng: Random;
  private readonly o: Required<Omit<EventProducerOptions, 'kafka' | 'topics' | 'serdes' | 'world'>> &
    EventProducerOptions;
  private readonly delayedItems: { due: number; item: Item }[] = [];
  private readonly fresh: Item[] = [];
  private nextImpression = 0;
  private connected = false;
  private stopped = false;

  constructor(o: EventProducerOptions) {
    this.o = {
      impressionsPerSecond: 200,
      itemsPerList: 5,
      newItemsPerSecond: 1,
      itemCreatedDelayMs: 0,
      clickDelayMs: 2000,
      freshShare: 0.2,
      seed: 11,
      startWallMs: Date.now(),
      ...o,
    };
    this.offsetMs = this.o.startWallMs - LIVE_WORLD_START_MS;
    this.producer = new KafkaProducer(o.kafka, { idempotent: true });
    this.rng = new Random(this.o.seed);
  }

  get world(): World {
    return this.o.world;
  }

  private async connect(): Promise<void> {
    if (!this.connected) {
      await this.producer.connect();
      this.connected = true;
    }
  }

  /** The item-created record of a world item (its creation time on the wall clock). */
  itemCreatedOf(item: Item): ItemCreatedEvent {
    const s = Math.round(Math.sqrt(item.image.length / 3));
    return {
      itemId: item.id,
      publisher: 'synthetic',
      title: item.title,
      description: item.description,
      category: item.category,
      language: 'en',
      image: { width: s, height: s, channels: 3, pixels: Buffer.from(item.image), seed: null },
      createdAt: item.createdAt + this.offsetMs,
    };
  }

  /** The record's timestamp is the publish time (the item's own creation time is a field). */
  private itemRecord(item: Item, nowMs = Date.now()): OutgoingRecord {
    const t = this.o.topics.itemCreated;
    return {
      topic: t,
      key: item.id,
      value: this.o.serdes.itemCreated.serialize(t, this.itemCreatedOf(item)),
      timestamp: nowMs,
    };
  }

  /** Publishes item-created for `items` (default: every item of the world), in batches. @returns how many. */
  async publishCatalogue(items: readonly Item[] = this.o.world.items, batch = 500): Promise<number> {
    await this.connect();
    for (let i = 0; i < items.length; i += batch) {
      await this.producer.send(items.slice(i, i + batch).map((it) => this.itemRecord(it)));
    }
    this.counts.items += items.length;
    return items.length;
  }

  /**
   * One tick's worth of live events at wall time `nowMs`: `lists` shown
   * lists with their clicks, new items, and item-created records that came due.
   */
  async produce(lists: number, newItems: number, nowMs = Date.now()): Promise<void> {
    await this.connect();
    const w = this.o.world;
    const worldNow = nowMs - this.offsetMs;
    const records: OutgoingRecord[] = [];
    for (const item of w.newItems(newItems, worldNow)) {
      this.fresh.push(item);
      if (this.o.itemCreatedDelayMs > 0)
        this.delayedItems.push({ due: nowMs + this.o.itemCreatedDelayMs, item });
      else records.push(this.itemRecord(item, nowMs));
    }
    while (this.fresh.length > 50) this.fresh.shift();
    while (this.delayedItems.length > 0 && (this.delayedItems[0] as { due: number }).due <= nowMs)
      records.push(this.itemRecord((this.delayedItems.shift() as { item: Item }).item, nowMs));
    this.counts.items += records.length;
    const ti = this.o.topics.impressions;
    const tc = this.o.topics.clicks;
    for (let l = 0; l < lists; l++) {
      const ctx = this.rng.pick(w.contexts);
      const segment = this.rng.pick(w.segments);
      const device = this.rng.pick(w.devices);
      const pageDepth = this.rng.int(11);
      const hour = new Date(worldNow).getUTCHours();
      const shown = new Set<Item>();
      while (shown.size < Math.min(this.o.itemsPerList, w.items.length)) {
        const pool = this.fresh.length > 0 && this.rng.bernoulli(this.o.freshShare) ? this.fresh : w.items;
        shown.add(this.rng.pick(pool));
      }
      const id = `imp-${this.o.seed}-${this.nextImpression++}`;
      const items = [...shown].map((item, position) => ({ itemId: item.id, position }));
      const imp: ImpressionEvent = {
        impressionId: id,
        context: { contextId: ctx.id, publisher: ctx.publisher, placement: ctx.placement },
        userSegment: segment,
        device,
        country: ctx.country,
        pageDepth,
        items,
        timestamp: nowMs,
      };
      records.push({
        topic: ti,
        key: id,
        value: this.o.serdes.impression.serialize(ti, imp),
        timestamp: nowMs,
      });
      this.counts.impressions++;
      [...shown].forEach((item, position) => {
        const p = w.clickProbability(
          {
            contextId: ctx.id,
            publisher: ctx.publisher,
            placement: ctx.placement,
            country: ctx.country,
            segment,
            device,
            position,
            hour,
            pageDepth,
            itemAgeHours: Math.max(0, worldNow - item.createdAt) / 3_600_000,
          },
          item,
        );
        if (!this.rng.bernoulli(p)) return;
        const ts = nowMs + this.rng.int(this.o.clickDelayMs + 1);
        const click: ClickEvent = { impressionId: id, itemId: item.id, timestamp: ts };
        records.push({ topic: tc, key: id, value: this.o.serdes.click.serialize(tc, click), timestamp: ts });
        this.counts.clicks++;
      });
    }
    await this.producer.send(records);
  }

  /**
   * Produces live events at the configured rates until `durationMs` passed
   * (undefined: until `stop()`), in ticks of `tickMs`.
   */
  async run(durationMs?: number, tickMs = 100): Promise<void> {
    const start = Date.now();
    let listsDue = 0;
    let itemsDue = 0;
    let last = start;
    while (!this.stopped && (durationMs === undefined || Date.now() - start < durationMs)) {
      const now = Date.now();
      const dt = (now - last) / 1000;
      last = now;
      listsDue += dt * this.o.impressionsPerSecond;
      itemsDue += dt * this.o.newItemsPerSecond;
      const lists = Math.floor(listsDue);
      const items = Math.floor(itemsDue);
      listsDue -= lists;
      itemsDue -= items;
      try {
        await this.produce(lists, items, now);
      } catch (err) {
        log.warn({ err: String(err) }, 'producing events failed; retrying next tick');
      }
      const spent = Date.now() - now;
      if (spent < tickMs) await new Promise((r) => setTimeout(r, tickMs - spent));
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * The ground-truth click probability of showing `itemId` in `contextId` at
   * wall time `nowMs`, averaged over the world's segments and devices (a list
   * is for every user) at the top position and a middle page depth.
   * Undefined for an unknown context or item.
   */
  truth(contextId: string, itemId: string, nowMs: number): number | undefined {
    const w = this.o.world;
    const ctx = w.contexts.find((c) => c.id === contextId);
    const item = w.item(itemId);
    if (!ctx || !item) return undefined;
    const worldNow = nowMs - this.offsetMs;
    let sum = 0;
    let n = 0;
    for (const segment of w.segments) {
      for (const device of w.devices) {
        sum += w.clickProbability(
          {
            contextId,
            publisher: ctx.publisher,
            placement: ctx.placement,
            country: ctx.country,
            segment,
            device,
            position: 0,
            hour: new Date(worldNow).getUTCHours(),
            pageDepth: 5,
            itemAgeHours: Math.max(0, worldNow - item.createdAt) / 3_600_000,
          },
          item,
        );
        n++;
      }
    }
    return sum / n;
  }

  async close(): Promise<void> {
    this.stop();
    if (this.connected) await this.producer.disconnect();
    this.connected = false;
  }
}

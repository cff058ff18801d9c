/**
 * The synthetic world: publishers, list contexts, items with a hidden topic,
 * text and images drawn from that topic, user segments, and impressions whose
 * click is drawn from a known ground-truth probability. Used by the tests, the
 * demo, the benchmarks and the evaluation (whose Bayes-optimal AUC comes from
 * those known probabilities). Everything is reproducible from `seed`.
 *
 * The ground truth only uses what the model can observe (context fields, the
 * item's topic as told by its text and image, numeric features), so a good
 * model can get close to the Bayes-optimal AUC; the gap measures the model.
 */
import { Random } from './random.ts';

/** Sizes of the synthetic world. All optional; defaults give a small world that trains in a minute. */
export interface WorldConfig {
  seed: number;
  topics: number;
  publishers: number;
  placementsPerPublisher: number;
  contexts: number;
  segments: number;
  devices: number;
  countries: number;
  positions: number;
  items: number;
  /** Tokens per title. */
  titleTokens: number;
  /** Tokens per description. */
  descriptionTokens: number;
  /** Image side in pixels (images are side x side x 3, RGB bytes). */
  imageSize: number;
  /** Words per topic vocabulary. */
  wordsPerTopic: number;
  /** Mean click-through rate the base logit aims at. */
  baseCtr: number;
}

export const DEFAULT_WORLD: WorldConfig = {
  seed: 1,
  topics: 10,
  publishers: 16,
  placementsPerPublisher: 3,
  contexts: 80,
  segments: 8,
  devices: 3,
  countries: 6,
  positions: 6,
  items: 800,
  titleTokens: 8,
  descriptionTokens: 16,
  imageSize: 16,
  wordsPerTopic: 40,
  baseCtr: 0.12,
};

/** An item as the pipeline sees it (`content`), plus its hidden truth. */
export interface Item {
  id: string;
  /** Observable coarse category (topic group). */
  category: string;
  title: string;
  description: string;
  /** imageSize x imageSize x 3 RGB bytes, row-major. */
  image: Uint8Array;
  /** Creation time, ms since the epoch (the world's clock starts at WORLD_EPOCH_MS). */
  createdAt: number;
  /** Hidden: the item's topic; never an input of the model. */
  topic: number;
}

/** A list on a publisher's page that asks for recommendations. */
export interface ListContext {
  id: string;
  publisher: string;
  placement: string;
  country: string;
}

/** One shown item: the context fields, the item, the ground truth and the drawn label. */
export interface Impression {
  contextId: string;
  publisher: string;
  placement: string;
  country: string;
  segment: string;
  device: string;
  /** Rank in the list, 0 = top. */
  position: number;
  /** Hour of day, 0..23. */
  hour: number;
  /** Scroll depth of the page when the list was shown, 0..10 (a context-side number). */
  pageDepth: number;
  itemId: string;
  /** Item age at impression time, hours. */
  itemAgeHours: number;
  timestamp: number;
  /** Ground-truth click probability. */
  clickProbability: number;
  clicked: boolean;
}

export const WORLD_EPOCH_MS = Date.UTC(2026, 0, 1);

const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'ne',
  'ru',
  'sa',
  'to',
  'vi',
  'ze',
  'po',
  'da',
  'fe',
  'gu',
  'hi',
  'ja',
  'ko',
  'li',
  'mo',
  'nu',
  'pe',
  'qua',
  'ri',
  'su',
  'te',
  'ul',
  'vo',
  'wi',
  'xe',
  'yo',
  'zu',
];

function makeWord(rng: Random): string {
  const n = 2 + rng.int(2);
  let w = '';
  for (let i = 0; i < n; i++) w += rng.pick(SYLLABLES);
  return w;
}

/**
 * A reproducible synthetic world. Construct with a config, then draw items,
 * contexts and impressions. Methods that draw (impressions, newItems) use the
 * world's own PRNG stream, so the same sequence of calls gives the same data.
 */
export class World {
  readonly config: WorldConfig;
  readonly items: Item[] = [];
  readonly contexts: ListContext[] = [];
  readonly segments: string[];
  readonly devices: string[];
  readonly countries: string[];
  private readonly rng: Random;
  private readonly topicWords: string[][];
  private readonly commonWords: string[];
  private readonly topicColors: [number, number, number][];
  private readonly topicStripe: number[];
  private readonly bias = new Map<string, number>();
  private readonly contextAffinity = new Map<string, Float64Array>();
  private readonly segmentAffinity = new Map<string, Float64Array>();
  private readonly itemById = new Map<string, Item>();
  private baseLogit = 0;
  private nextItem = 0;

  constructor(config: Partial<WorldConfig> = {}) {
    this.config = { ...DEFAULT_WORLD, ...config };
    const c = this.config;
    this.rng = new Random(c.seed);
    const rng = this.rng;
    const seen = new Set<string>();
    const uniqueWord = (): string => {
      for (;;) {
        const w = makeWord(rng);
        if (!seen.has(w)) {
          seen.add(w);
          return w;
        }
      }
    };
    this.commonWords = Array.from({ length: 60 }, uniqueWord);
    this.topicWords = Array.from({ length: c.topics }, () =>
      Array.from({ length: c.wordsPerTopic }, uniqueWord),
    );
    this.topicColors = Array.from({ length: c.topics }, () => [rng.int(256), rng.int(256), rng.int(256)]);
    this.topicStripe = Array.from({ length: c.topics }, () => 1 + rng.int(4));
    this.segments = Array.from({ length: c.segments }, (_, i) => `seg-${i}`);
    this.devices = ['mobile', 'desktop', 'tablet', 'tv'].slice(0, c.devices);
    this.countries = ['SI', 'DE', 'US', 'FR', 'GB', 'IT', 'ES', 'NL'].slice(0, c.countries);
    const setBias = (key: string, sd: number): void => void this.bias.set(key, rng.normal() * sd);
    for (let p = 0; p < c.publishers; p++) {
      setBias(`publisher=pub-${p}`, 0.3);
      for (let q = 0; q < c.placementsPerPublisher; q++) setBias(`placement=pub-${p}/pl-${q}`, 0.25);
    }
    for (const s of this.segments) {
      setBias(`segment=${s}`, 0.2);
      this.segmentAffinity.set(
        s,
        Float64Array.from({ length: c.topics }, () => rng.normal() * 0.6),
      );
    }
    for (const d of this.devices) setBias(`device=${d}`, 0.15);
    for (const k of this.countries) setBias(`country=${k}`, 0.1);
    for (let i = 0; i < c.contexts; i++) {
      const p = rng.int(c.publishers);
      const ctx: ListContext = {
        id: `ctx-${i}`,
        publisher: `pub-${p}`,
        placement: `pub-${p}/pl-${rng.int(c.placementsPerPublisher)}`,
        country: rng.pick(this.countries),
      };
      this.contexts.push(ctx);
      this.contextAffinity.set(
        ctx.id,
        Float64Array.from({ length: c.topics }, () => rng.normal() * 0.9),
      );
    }
    // aim the mean probability near baseCtr
    this.baseLogit = Math.log(c.baseCtr / (1 - c.baseCtr)) + 0.9;
    this.newItems(c.items, WORLD_EPOCH_MS);
  }

  /** The item with this id, or undefined. */
  item(id: string): Item | undefined {
    return this.itemById.get(id);
  }

  /** Creates `count` new items (each with a fresh id) created at `createdAt`; they join `items`. */
  newItems(count: number, createdAt: number): Item[] {
    const out: Item[] = [];
    for (let i = 0; i < count; i++) {
      const item = this.drawItem(createdAt);
      this.items.push(item);
      this.itemById.set(item.id, item);
      out.push(item);
    }
    return out;
  }

  private drawItem(createdAt: number): Item {
    const c = this.config;
    const rng = this.rng;
    const topic = rng.int(c.topics);
    const words = (n: number): string => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        // 60% topic words: enough signal for the text tower, noisy enough to need it
        out.push(
          rng.bernoulli(0.6) ? rng.pick(this.topicWords[topic] as string[]) : rng.pick(this.commonWords),
        );
      }
      return out.join(' ');
    };
    return {
      id: `item-${this.nextItem++}`,
      category: `cat-${topic % 4}`,
      title: words(c.titleTokens),
      description: words(c.descriptionTokens),
      image: this.drawImage(topic),
      createdAt,
      topic,
    };
  }

  /** A noisy striped picture in the topic's colour: the image tower can learn the topic from it. */
  private drawImage(topic: number): Uint8Array {
    const s = this.config.imageSize;
    const rng = this.rng;
    const [r, g, b] = this.topicColors[topic] as [number, number, number];
    const stripe = this.topicStripe[topic] as number;
    const img = new Uint8Array(s * s * 3);
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        const on = Math.floor((x + y) / stripe) % 2 === 0 ? 1 : 0.55;
        const o = (y * s + x) * 3;
        img[o] = clampByte(r * on + rng.normal() * 40);
        img[o + 1] = clampByte(g * on + rng.normal() * 40);
        img[o + 2] = clampByte(b * on + rng.normal() * 40);
      }
    }
    return img;
  }

  /**
   * The ground-truth click probability of showing `item` in the given
   * situation. Pure: does not draw from the PRNG.
   */
  clickProbability(
    f: Omit<Impression, 'clickProbability' | 'clicked' | 'itemId' | 'timestamp'>,
    item: Item,
  ): number {
    const b = (k: string): number => this.bias.get(k) ?? 0;
    const ctxAff = this.contextAffinity.get(f.contextId);
    const segAff = this.segmentAffinity.get(f.segment);
    let logit =
      this.baseLogit +
      b(`publisher=${f.publisher}`) +
      b(`placement=${f.placement}`) +
      b(`segment=${f.segment}`) +
      b(`device=${f.device}`) +
      b(`country=${f.country}`) -
      0.18 * f.position -
      0.04 * f.pageDepth +
      0.25 * Math.cos((2 * Math.PI * f.hour) / 24) -
      0.35 * Math.log1p(f.itemAgeHours / 12);
    if (ctxAff) logit += ctxAff[item.topic] as number;
    if (segAff) logit += segAff[item.topic] as number;
    return 1 / (1 + Math.exp(-logit));
  }

  /**
   * Draws `count` impressions at times spread over [from, from + spanMs):
   * random context, segment, device, position, and an item from `pool`
   * (default: all items created before the impression). The label is drawn
   * from the ground-truth probability.
   */
  impressions(
    count: number,
    opts: { from?: number; spanMs?: number; pool?: readonly Item[] } = {},
  ): Impression[] {
    const rng = this.rng;
    const from = opts.from ?? WORLD_EPOCH_MS + 3 * 3600_000;
    const span = opts.spanMs ?? 3 * 24 * 3600_000;
    const pool = opts.pool ?? this.items;
    if (pool.length === 0) return [];
    const out: Impression[] = [];
    for (let i = 0; i < count; i++) {
      const ctx = rng.pick(this.contexts);
      const item = rng.pick(pool);
      const timestamp = Math.max(from + Math.floor(rng.next() * span), item.createdAt);
      const f = {
        contextId: ctx.id,
        publisher: ctx.publisher,
        placement: ctx.placement,
        country: ctx.country,
        segment: rng.pick(this.segments),
        device: rng.pick(this.devices),
        position: rng.int(this.config.positions),
        hour: new Date(timestamp).getUTCHours(),
        pageDepth: rng.int(11),
        itemAgeHours: (timestamp - item.createdAt) / 3600_000,
      };
      const p = this.clickProbability(f, item);
      out.push({ ...f, itemId: item.id, timestamp, clickProbability: p, clicked: rng.bernoulli(p) });
    }
    return out;
  }
}

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

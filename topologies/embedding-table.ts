/**
 * The item-embedding table the scorer reads: every item's latest vector, on
 * every instance (a global table over the compacted `item-embeddings`
 * topic). The recommendations topology is partitioned by context, so any of
 * its tasks may need any item: the table is not partitioned.
 *
 * This file holds the in-memory table and its update rule; the Kafka side
 * that fills it (reading the topic from the beginning, then following it)
 * is src/pipeline/global-embedding-table.ts.
 */
import { vectorOf, type ItemEmbeddingEvent } from './events.ts';

export interface EmbeddingEntry {
  version: string;
  vector: Float32Array;
  /** The item's category, null when unknown. */
  category: string | null;
  /** Item creation time in ms, null when unknown. */
  createdAt: number | null;
  computedAt: number;
}

/** Read side, as the list builder sees it. */
export interface EmbeddingLookup {
  /** The item's latest entry, or undefined when the item has no embedding. */
  get(itemId: string): EmbeddingEntry | undefined;
  readonly size: number;
}

/** An in-memory table fed with `item-embeddings` records. */
export class EmbeddingTable implements EmbeddingLookup {
  private readonly entries = new Map<string, EmbeddingEntry>();
  /** Records applied (for progress and tests). */
  applied = 0;

  get(itemId: string): EmbeddingEntry | undefined {
    return this.entries.get(itemId);
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Applies one record of the topic: a value replaces the item's entry
   * unless it is older than the one held (records of a backfill and of a
   * late request may cross); a tombstone (null) removes the item.
   */
  apply(itemId: string, value: ItemEmbeddingEvent | null): void {
    this.applied++;
    if (value === null) {
      this.entries.delete(itemId);
      return;
    }
    const held = this.entries.get(itemId);
    if (held && held.computedAt > value.computedAt) return;
    this.entries.set(itemId, {
      version: value.modelVersion,
      vector: vectorOf(value),
      category: value.category,
      createdAt: value.createdAt,
      computedAt: value.computedAt,
    });
  }

  /** Item ids whose entry is of `version`, for progress reports. */
  countOfVersion(version: string): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.version === version) n++;
    return n;
  }
}

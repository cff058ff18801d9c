/** Shared fixtures of the topology unit tests: a small real model, generated items, serdes. */
import { CtrModel, DEFAULT_MODEL_CONFIG, World, initBackend, type Item } from '../../../src/ml/index.ts';
import type { ItemCreatedEvent } from '../../../topologies/events.ts';

let backend: Promise<string> | undefined;

/** The tensor backend for tower calls in tests (wasm: offline, fast enough). */
export function testBackend(): Promise<string> {
  backend ??= initBackend('wasm');
  return backend;
}

/** An untrained model (deterministic in seed); good enough to check plumbing, versions and shapes. */
export function testModel(seed = 1): CtrModel {
  return CtrModel.create(DEFAULT_MODEL_CONFIG, seed);
}

export function testWorld(items = 40): World {
  return new World({ seed: 7, items, contexts: 6 });
}

/** The item-created record of a generated item. */
export function itemCreated(item: Item, createdAt = item.createdAt): ItemCreatedEvent {
  const s = Math.round(Math.sqrt(item.image.length / 3));
  return {
    itemId: item.id,
    publisher: 'pub-0',
    title: item.title,
    description: item.description,
    category: item.category,
    language: 'en',
    image: { width: s, height: s, channels: 3, pixels: Buffer.from(item.image), seed: null },
    createdAt,
  };
}

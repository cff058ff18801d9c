/**
 * Turning impressions into training examples, and scoring examples with a
 * model (for evaluation). An example carries the raw feature values; the item
 * content is looked up by id, so examples stay small (JSON lines in a file or
 * records of the `training-examples` topic).
 */
import type { Impression, Item } from './generator.ts';
import type { TrainingExample } from './trainer.ts';
import type { CtrModel } from './ctr-model.ts';
import { allocateRows, writeContext, writeItem } from './feature-spec.ts';
import { sigmoidInPlace } from './ctr-head.ts';
import type { ItemContent } from './towers.ts';

/** The example of one impression (item fields come from the item: its category). */
export function exampleFromImpression(imp: Impression, item: Pick<Item, 'category'>): TrainingExample {
  return {
    features: {
      contextId: imp.contextId,
      publisher: imp.publisher,
      placement: imp.placement,
      country: imp.country,
      segment: imp.segment,
      device: imp.device,
      position: imp.position,
      hour: imp.hour,
      pageDepth: imp.pageDepth,
      category: item.category,
      itemAgeHours: imp.itemAgeHours,
    },
    itemId: imp.itemId,
    label: imp.clicked ? 1 : 0,
  };
}

/**
 * Click probabilities of examples under `model`: items are embedded once
 * each with the towers (or given the OOV embedding when `useOov` says so),
 * then the head scores every row. Needs an initialised tfjs backend.
 */
export function predictExamples(
  model: CtrModel,
  examples: readonly TrainingExample[],
  items: (id: string) => ItemContent | undefined,
  useOov: (itemId: string) => boolean = () => false,
): Float32Array {
  const spec = model.config.spec;
  const dim = spec.embeddingDim;
  const ids = [...new Set(examples.map((e) => e.itemId))].filter((id) => !useOov(id));
  const emb = new Map<string, Float32Array>();
  for (let i = 0; i < ids.length; i += 256) {
    const chunk = ids.slice(i, i + 256);
    const out = model.embed(chunk.map((id) => items(id) as ItemContent));
    chunk.forEach((id, j) => emb.set(id, out.subarray(j * dim, j * dim + dim)));
  }
  const rows = allocateRows(spec, examples.length);
  examples.forEach((e, r) => {
    writeContext(spec, rows, r, e.features);
    writeItem(spec, rows, r, e.features, emb.get(e.itemId) ?? model.oovEmbedding);
  });
  return sigmoidInPlace(model.head.plainLogits(rows));
}

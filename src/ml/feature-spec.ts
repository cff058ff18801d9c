/**
 * The feature spec: which fields the CTR model reads and on which side of the
 * list-building cycle each lives. Context-side features are the same for every
 * candidate of one list request; item-side features depend only on the item.
 * This split is what lets the scorer compute the context part once per
 * context and cache the item part with the item's embedding.
 *
 * The spec is saved with every model version, so a process always packs
 * features the way the model it runs was trained.
 */
import { hashField } from './hashing.ts';
import { ShapeError } from './errors.ts';

export interface FeatureSpec {
  /** Hashed categorical fields of the context (list context, publisher, user segment, position ...). */
  contextFields: string[];
  /** Hashed categorical fields of the item. */
  itemFields: string[];
  /** Numeric fields of the context (missing = NaN). */
  contextNumeric: string[];
  /** Numeric fields of the item (missing = NaN). */
  itemNumeric: string[];
  /** Rows of the shared hashed embedding table. */
  hashRows: number;
  /** Floats per item embedding (the towers' output). */
  embeddingDim: number;
}

/** The CTR pipeline's features (the generator's impressions carry all of them). */
export const DEFAULT_FEATURE_SPEC: FeatureSpec = {
  contextFields: ['contextId', 'publisher', 'placement', 'country', 'segment', 'device', 'position', 'hour'],
  itemFields: ['category'],
  contextNumeric: ['pageDepth'],
  itemNumeric: ['itemAgeHours'],
  hashRows: 1 << 16,
  embeddingDim: 64,
};

/** Raw feature values by field name; undefined / missing fields hash as "" or count as NaN. */
export type FeatureValues = Readonly<Record<string, string | number | boolean | undefined>>;

/**
 * A batch of rows packed into typed arrays (the model's one binary input; no
 * per-record objects past this point). Row r's context fields are
 * `contextCats[r*Fc .. r*Fc+Fc)`, and so on. Arrays are transferable to
 * worker threads.
 */
export interface PackedRows {
  size: number;
  contextCats: Int32Array;
  itemCats: Int32Array;
  contextNums: Float32Array;
  itemNums: Float32Array;
  /** size x embeddingDim item embeddings. */
  embeddings: Float32Array;
}

/** Allocates an empty packed batch of `size` rows for `spec`. */
export function allocateRows(spec: FeatureSpec, size: number): PackedRows {
  return {
    size,
    contextCats: new Int32Array(size * spec.contextFields.length),
    itemCats: new Int32Array(size * spec.itemFields.length),
    contextNums: new Float32Array(size * spec.contextNumeric.length),
    itemNums: new Float32Array(size * spec.itemNumeric.length),
    embeddings: new Float32Array(size * spec.embeddingDim),
  };
}

function num(v: string | number | boolean | undefined): number {
  if (v === undefined || v === '') return Number.NaN;
  const x = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(x) ? x : Number.NaN;
}

/** Writes the context side of row `r` from raw values. */
export function writeContext(spec: FeatureSpec, rows: PackedRows, r: number, values: FeatureValues): void {
  const fc = spec.contextFields.length;
  for (let f = 0; f < fc; f++) {
    const name = spec.contextFields[f] as string;
    rows.contextCats[r * fc + f] = hashField(name, String(values[name] ?? ''), spec.hashRows);
  }
  const nc = spec.contextNumeric.length;
  for (let j = 0; j < nc; j++) rows.contextNums[r * nc + j] = num(values[spec.contextNumeric[j] as string]);
}

/** Writes the item side of row `r` from raw values and the item's embedding (embeddingDim floats). */
export function writeItem(
  spec: FeatureSpec,
  rows: PackedRows,
  r: number,
  values: FeatureValues,
  embedding: ArrayLike<number>,
): void {
  if (embedding.length !== spec.embeddingDim) {
    throw new ShapeError(
      `item embedding of row ${r} has ${embedding.length} floats, the feature spec expects ${spec.embeddingDim}`,
    );
  }
  const fi = spec.itemFields.length;
  for (let f = 0; f < fi; f++) {
    const name = spec.itemFields[f] as string;
    rows.itemCats[r * fi + f] = hashField(name, String(values[name] ?? ''), spec.hashRows);
  }
  const ni = spec.itemNumeric.length;
  for (let j = 0; j < ni; j++) rows.itemNums[r * ni + j] = num(values[spec.itemNumeric[j] as string]);
  rows.embeddings.set(embedding, r * spec.embeddingDim);
}

/** Packs the context side of one request (one row's worth of context arrays). */
export function packContext(
  spec: FeatureSpec,
  values: FeatureValues,
): { cats: Int32Array; nums: Float32Array } {
  const rows = allocateRows({ ...spec, itemFields: [], itemNumeric: [], embeddingDim: 0 }, 1);
  writeContext(spec, rows, 0, values);
  return { cats: rows.contextCats, nums: rows.contextNums };
}

/** Checks that a packed batch has the lengths `spec` implies; throws ShapeError naming the array. */
export function checkRows(spec: FeatureSpec, rows: PackedRows): void {
  const want: [string, number, number][] = [
    ['contextCats', rows.contextCats.length, spec.contextFields.length],
    ['itemCats', rows.itemCats.length, spec.itemFields.length],
    ['contextNums', rows.contextNums.length, spec.contextNumeric.length],
    ['itemNums', rows.itemNums.length, spec.itemNumeric.length],
    ['embeddings', rows.embeddings.length, spec.embeddingDim],
  ];
  for (const [name, len, per] of want) {
    if (len !== rows.size * per) {
      throw new ShapeError(
        `packed rows: ${name} has ${len} values, expected ${rows.size} rows x ${per} = ${rows.size * per}`,
      );
    }
  }
}

/**
 * The pipeline's records as TypeScript sees them (one interface per Avro
 * schema in schemas/*.avsc, field for field) and the serdes that write them
 * in the Confluent wire format. Keys are plain UTF-8 strings everywhere.
 */
import { fileURLToPath } from 'node:url';
import {
  AvroSerde,
  LocalSchemaRegistry,
  loadAvroSchemaFile,
  stringSerde,
  type Serde,
  type SchemaRegistry,
} from '../src/streams/serde/index.ts';

/** Value of `item-created` (schemas/item-created.avsc). Key: item id. */
export interface ItemCreatedEvent {
  itemId: string;
  publisher: string;
  title: string;
  description: string;
  category: string;
  language: string;
  image: {
    width: number;
    height: number;
    channels: number;
    pixels: Buffer | null;
    seed: number | null;
  } | null;
  /** ms since the epoch. */
  createdAt: number;
}

/** Value of `impressions` (schemas/impression.avsc). Key: impression id. */
export interface ImpressionEvent {
  impressionId: string;
  context: { contextId: string; publisher: string; placement: string };
  userSegment: string;
  device: string;
  country: string;
  pageDepth: number | null;
  items: { itemId: string; position: number }[];
  /** ms since the epoch. */
  timestamp: number;
}

/** Value of `clicks` (schemas/click.avsc). Key: impression id. */
export interface ClickEvent {
  impressionId: string;
  itemId: string;
  timestamp: number;
}

/** Value of the compacted `item-embeddings` topic (schemas/item-embedding.avsc). Key: item id. */
export interface ItemEmbeddingEvent {
  itemId: string;
  modelVersion: string;
  dimension: number;
  /** `dimension` float32 values, little-endian. */
  vector: Buffer;
  computedAt: number;
  category: string | null;
  createdAt: number | null;
}

export type EmbeddingRequestReason = 'CACHE_MISS' | 'MODEL_ROLLOUT' | 'BACKFILL' | 'OTHER';

/** Value of `embedding-requests` (schemas/embedding-request.avsc). Key: item id. */
export interface EmbeddingRequestEvent {
  itemId: string;
  requestedAt: number;
  reason: EmbeddingRequestReason;
  requestedBy: string | null;
}

/** Value of `recommendations` (schemas/recommendation.avsc). Key: context id. */
export interface RecommendationEvent {
  contextId: string;
  cycleId: number;
  modelVersion: string;
  generatedAt: number;
  items: { itemId: string; score: number; position: number; outOfVocabulary: boolean }[];
}

/** Value of `training-examples` (schemas/training-example.avsc). Key: `<impressionId>/<itemId>`. */
export interface TrainingExampleEvent {
  impressionId: string;
  itemId: string;
  contextId: string;
  features: Record<string, string | number | boolean>;
  label: number;
  impressionTimestamp: number;
  clickTimestamp: number | null;
}

/** One serde per topic value, all sharing one schema registry. */
export interface PipelineSerdes {
  key: Serde<string>;
  itemCreated: Serde<ItemCreatedEvent>;
  impression: Serde<ImpressionEvent>;
  click: Serde<ClickEvent>;
  itemEmbedding: Serde<ItemEmbeddingEvent>;
  embeddingRequest: Serde<EmbeddingRequestEvent>;
  recommendation: Serde<RecommendationEvent>;
  trainingExample: Serde<TrainingExampleEvent>;
  registry: SchemaRegistry;
}

function schema(file: string): ReturnType<typeof loadAvroSchemaFile> {
  return loadAvroSchemaFile(fileURLToPath(new URL(`../schemas/${file}`, import.meta.url)));
}

/**
 * The Avro serdes of every pipeline topic.
 * @param registry a server registry (ConfluentSchemaRegistry) or, by default, the
 *   LocalSchemaRegistry whose ids every process derives from the schema itself.
 */
export function pipelineSerdes(registry: SchemaRegistry = new LocalSchemaRegistry()): PipelineSerdes {
  const files = {
    itemCreated: 'item-created.avsc',
    impression: 'impression.avsc',
    click: 'click.avsc',
    itemEmbedding: 'item-embedding.avsc',
    embeddingRequest: 'embedding-request.avsc',
    recommendation: 'recommendation.avsc',
    trainingExample: 'training-example.avsc',
  } as const;
  const schemas = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, schema(f)])) as Record<
    keyof typeof files,
    ReturnType<typeof schema>
  >;
  // a process that only reads a topic never registers its schema: without a server, it must know
  // the ids (derived from the schemas) up front, or records written by another process look unknown
  if (registry instanceof LocalSchemaRegistry) registry.preload(Object.values(schemas));
  const avro = <T>(k: keyof typeof files): Serde<T> => new AvroSerde<T>(schemas[k], { registry });
  return {
    key: stringSerde,
    itemCreated: avro('itemCreated'),
    impression: avro('impression'),
    click: avro('click'),
    itemEmbedding: avro('itemEmbedding'),
    embeddingRequest: avro('embeddingRequest'),
    recommendation: avro('recommendation'),
    trainingExample: avro('trainingExample'),
    registry,
  };
}

/** The float32 vector of an embedding record (a copy: never a view on a pooled Kafka buffer). */
export function vectorOf(e: Pick<ItemEmbeddingEvent, 'vector' | 'dimension'>): Float32Array {
  const out = new Float32Array(e.dimension);
  const n = Math.min(e.dimension * 4, e.vector.length);
  Buffer.from(out.buffer).set(e.vector.subarray(0, n));
  return out;
}

/** The bytes of a float32 vector, little-endian (the `vector` field). */
export function vectorBytes(v: Float32Array): Buffer {
  return Buffer.from(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
}

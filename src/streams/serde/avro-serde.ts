/**
 * Avro values in the Confluent wire format, through a schema registry.
 *
 * The reader schema (the one this app codes against) is compiled once. On
 * write, the record is framed with the id the reader schema has under the
 * topic's subject (TopicNameStrategy, registered in `prepare`). On read, the
 * frame's id names the WRITER schema: the same id decodes directly; another
 * id is fetched once (`resolve`, awaited by the engine per batch before any
 * `deserialize`), and an avsc resolver turns the writer's bytes into the
 * reader's shape: fields the writer lacks take their defaults, fields the
 * reader lacks are skipped (Avro schema resolution). Resolvers are cached by
 * id, so steady state costs one Map lookup per record.
 */
import type { Headers } from '../processor/record.ts';
import { avroTypeName, compileAvroSchema, type AvroSchemaJson, type AvroType } from './avro-schema.ts';
import { SerdeError, reasonOf } from './errors.ts';
import { topicNameStrategy, type SchemaRegistry } from './schema-registry.ts';
import type { Serde } from './serde.ts';
import { FRAME_HEADER_BYTES, decodeFrame, peekSchemaId } from './wire-format.ts';

export interface AvroSerdeOptions {
  /** Where ids come from: a {@link ConfluentSchemaRegistry}, or a {@link LocalSchemaRegistry} when there is no server. */
  registry: SchemaRegistry;
  /** Subject of a topic's key or value schema. Default {@link topicNameStrategy} (`<topic>-value`). */
  subjectNameStrategy?: (topic: string, isKey: boolean) => string;
  /** True when this serde is used for record keys (subject `<topic>-key`). Default false. */
  isKey?: boolean;
  /**
   * How long an id the registry said it does not know is remembered as
   * unknown before it is asked again, in ms. Keeps a stream of records with
   * garbage ids from turning into one HTTP request each. Default 30000.
   */
  unknownIdRetryMs?: number;
}

/** How records written with one schema id are read. */
type Reader =
  | { kind: 'same' }
  | { kind: 'resolve'; resolver: ReturnType<AvroType['createResolver']>; writer: string }
  | { kind: 'incompatible'; reason: string }
  | { kind: 'unknown'; until: number };

export class AvroSerde<T> implements Serde<T> {
  readonly name: string;
  /** The compiled reader (and writer) schema. */
  readonly type: AvroType;
  readonly schema: AvroSchemaJson;
  readonly #registry: SchemaRegistry;
  readonly #subjectOf: (topic: string, isKey: boolean) => string;
  readonly #isKey: boolean;
  readonly #unknownIdRetryMs: number;
  /** Write id per topic: the reader schema's id under that topic's subject. */
  readonly #writeIds = new Map<string, number>();
  readonly #readers = new Map<number, Reader>();
  #scratch = Buffer.allocUnsafe(16 * 1024);

  constructor(schema: AvroSchemaJson | string, options: AvroSerdeOptions) {
    this.type = compileAvroSchema(schema);
    this.schema = typeof schema === 'string' ? (JSON.parse(schema) as AvroSchemaJson) : schema;
    this.name = `avro(${avroTypeName(this.type)})`;
    this.#registry = options.registry;
    this.#subjectOf = options.subjectNameStrategy ?? topicNameStrategy;
    this.#isKey = options.isKey ?? false;
    this.#unknownIdRetryMs = options.unknownIdRetryMs ?? 30_000;
  }

  /** Registers the schema under the topic's subject; after it, `serialize` for that topic needs no I/O. */
  async prepare(topic: string, isKey: boolean = this.#isKey): Promise<void> {
    const id = await this.#registry.register(this.#subjectOf(topic, isKey), this.schema);
    this.#writeIds.set(topic, id);
    this.#readers.set(id, { kind: 'same' });
  }

  /** The id records written to `topic` carry, or undefined before `prepare` (with a server registry). */
  schemaIdFor(topic: string): number | undefined {
    return this.#writeIds.get(topic) ?? this.#cachedWriteId(topic);
  }

  #cachedWriteId(topic: string): number | undefined {
    const id = this.#registry.cachedId?.(this.#subjectOf(topic, this.#isKey), this.schema);
    if (id !== undefined) {
      this.#writeIds.set(topic, id);
      this.#readers.set(id, { kind: 'same' });
    }
    return id;
  }

  /**
   * @throws SerdeError CTR_SERDE_NOT_PREPARED when the topic's id is unknown (call `prepare` first);
   *         CTR_SERDE_SERIALIZE when `data` does not fit the schema (the message names the bad fields).
   */
  serialize(topic: string, data: T | null, _headers?: Headers): Buffer | null {
    if (data === null) return null;
    const id = this.schemaIdFor(topic);
    if (id === undefined) {
      throw new SerdeError(
        'CTR_SERDE_NOT_PREPARED',
        `${this.name} has no schema id for ${topic} yet: prepare("${topic}") must register it in ${this.#registry.name} first`,
        { topic, serde: this.name },
      );
    }
    try {
      return this.#encode(id, data);
    } catch (error) {
      throw new SerdeError(
        'CTR_SERDE_SERIALIZE',
        `cannot serialize a value for ${topic} as ${this.name}: ${this.#invalidPaths(data) ?? reasonOf(error)}`,
        { topic, serde: this.name, schemaId: id, cause: error },
      );
    }
  }

  /**
   * Header and Avro body written straight into a reused scratch buffer, then
   * copied once into a right-sized Buffer: one allocation per record instead
   * of two (toBuffer + frame), which is most of the cost of small records.
   */
  #encode(id: number, data: T): Buffer {
    for (;;) {
      const scratch = this.#scratch;
      scratch[0] = 0;
      scratch.writeInt32BE(id, 1);
      const end = this.type.encode(data, scratch, FRAME_HEADER_BYTES);
      if (end >= 0) return Buffer.from(scratch.subarray(0, end));
      // a negative end says by how many bytes the buffer was too short: grow and encode again
      this.#scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
    }
  }

  #invalidPaths(data: unknown): string | undefined {
    const bad: string[] = [];
    this.type.isValid(data, {
      errorHook: (path: string[], value: unknown, type: AvroType) =>
        void bad.push(`${path.join('.') || '(root)'}: ${describe(value)} is not ${avroTypeName(type)}`),
    });
    return bad.length ? bad.slice(0, 5).join('; ') : undefined;
  }

  /**
   * Fetches the writer schema of every id in `data` not yet known, so that
   * `deserialize` stays synchronous. Ids the registry does not know are
   * remembered (see `unknownIdRetryMs`); their records fail in `deserialize`.
   * @throws SerdeError CTR_SERDE_REGISTRY (retriable) when the registry cannot be reached.
   */
  async resolve(_topic: string, data: ReadonlyArray<Buffer | null>): Promise<void> {
    const now = Date.now();
    const missing = new Set<number>();
    for (const bytes of data) {
      if (bytes === null) continue;
      const id = peekSchemaId(bytes);
      if (id === undefined || missing.has(id)) continue;
      const reader = this.#readers.get(id);
      if (reader === undefined || (reader.kind === 'unknown' && reader.until <= now)) missing.add(id);
    }
    for (const id of missing) {
      const writer = await this.#registry.schemaById(id);
      this.#readers.set(
        id,
        writer === undefined
          ? { kind: 'unknown', until: now + this.#unknownIdRetryMs }
          : this.#readerFor(id, writer),
      );
    }
  }

  #readerFor(id: number, writerSchema: AvroSchemaJson): Reader {
    let writer: AvroType;
    try {
      writer = compileAvroSchema(writerSchema, `writer schema ${id}`);
    } catch (error) {
      return { kind: 'incompatible', reason: reasonOf(error) };
    }
    if (writer.equals(this.type)) return { kind: 'same' };
    try {
      return { kind: 'resolve', resolver: this.type.createResolver(writer), writer: avroTypeName(writer) };
    } catch (error) {
      return { kind: 'incompatible', reason: reasonOf(error) };
    }
  }

  #readerOf(id: number): Reader | undefined {
    const reader = this.#readers.get(id);
    if (reader !== undefined && reader.kind !== 'unknown') return reader;
    // a registry that knows the schema without I/O (local, or cached by an earlier prepare/resolve) needs no resolve() round
    const schema = this.#registry.cachedSchemaById?.(id);
    if (schema === undefined) return reader;
    const resolved = this.#readerFor(id, schema);
    this.#readers.set(id, resolved);
    return resolved;
  }

  /**
   * @throws SerdeError CTR_SERDE_WIRE_FORMAT (no frame / magic byte not 0), CTR_SERDE_UNKNOWN_SCHEMA,
   *         CTR_SERDE_INCOMPATIBLE_SCHEMA (writer cannot be read as the reader schema),
   *         CTR_SERDE_DESERIALIZE (truncated or otherwise invalid Avro payload).
   */
  deserialize(topic: string, data: Buffer | null, _headers?: Headers): T | null {
    if (data === null) return null;
    const { schemaId, payload } = decodeFrame(data, `${this.name} from ${topic}`);
    const reader = this.#readerOf(schemaId);
    const context = { topic, serde: this.name, schemaId };
    if (reader === undefined || reader.kind === 'unknown') {
      throw new SerdeError(
        'CTR_SERDE_UNKNOWN_SCHEMA',
        `${this.name} from ${topic}: schema id ${schemaId} is not known to ${this.#registry.name}`,
        context,
      );
    }
    if (reader.kind === 'incompatible') {
      throw new SerdeError(
        'CTR_SERDE_INCOMPATIBLE_SCHEMA',
        `${this.name} from ${topic}: writer schema id ${schemaId} cannot be read as ${avroTypeName(this.type)}: ${reader.reason}`,
        context,
      );
    }
    try {
      return this.type.fromBuffer(payload, reader.kind === 'resolve' ? reader.resolver : undefined) as T;
    } catch (error) {
      throw new SerdeError(
        'CTR_SERDE_DESERIALIZE',
        `${this.name} from ${topic}: ${payload.length} payload bytes with schema id ${schemaId} are not a valid ${reader.kind === 'resolve' ? reader.writer : avroTypeName(this.type)}: ${reasonOf(error)}`,
        { ...context, cause: error },
      );
    }
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Buffer.isBuffer(value)) return `Buffer(${value.length})`;
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return Array.isArray(value) ? `array(${value.length})` : 'object';
  return `${typeof value} ${String(value)}`;
}

/** An Avro serde for `schema` (JSON or .avsc text) in the Confluent wire format. */
export function avroSerde<T>(schema: AvroSchemaJson | string, options: AvroSerdeOptions): AvroSerde<T> {
  return new AvroSerde<T>(schema, options);
}

/**
 * Where Avro serdes get schema ids from, and writer schemas by id.
 *
 * Two implementations:
 * - {@link ConfluentSchemaRegistry} (confluent-schema-registry.ts): a real
 *   registry speaking the Confluent REST API (Confluent, Apicurio's ccompat,
 *   Karapace, Redpanda). Ids are the registry's global ids.
 * - {@link LocalSchemaRegistry} (here): no server. Used by the demo and the
 *   tests when `schema.registry.url` is not set. Ids are DERIVED from the
 *   schema itself, so that every process, on every machine, that knows a
 *   schema gives it the same id without talking to anybody:
 *
 *     id = first 4 bytes (big-endian) of SHA-256(Parsing Canonical Form), top bit cleared
 *
 *   The frames stay byte-for-byte the Confluent format (magic 0, 4-byte id,
 *   Avro binary). What is lost without a server: a reader can resolve only
 *   writer schemas it was given itself (`register` or `preload`), so a record
 *   written with a schema version the reader never saw is an unknown schema
 *   id (and goes to the deserialization exception handler). Two different
 *   schemas colliding on 31 bits is detected and refused.
 */
import { compileAvroSchema, canonicalForm, fullSchemaText, type AvroSchemaJson } from './avro-schema.ts';
import { createHash } from 'node:crypto';
import { SerdeError } from './errors.ts';

/** Subject naming (Confluent's TopicNameStrategy): `<topic>-key` / `<topic>-value`. */
export function topicNameStrategy(topic: string, isKey: boolean): string {
  return `${topic}-${isKey ? 'key' : 'value'}`;
}

export interface SchemaRegistry {
  /** For messages, e.g. `confluent(http://127.0.0.1:8081)` or `local`. */
  readonly name: string;
  /**
   * Registers `schema` under `subject` (or finds it already registered) and
   * returns its id.
   * @throws SerdeError CTR_SERDE_SCHEMA when the registry refuses the schema (invalid, incompatible with the subject's previous versions);
   *         CTR_SERDE_REGISTRY (retriable) when the registry cannot be reached.
   */
  register(subject: string, schema: AvroSchemaJson): Promise<number>;
  /**
   * The schema with global id `id`, or undefined when the registry does not know it.
   * @throws SerdeError CTR_SERDE_REGISTRY (retriable) when the registry cannot be reached.
   */
  schemaById(id: number): Promise<AvroSchemaJson | undefined>;
  /** The schema with id `id` if it is known without I/O, else undefined. */
  cachedSchemaById?(id: number): AvroSchemaJson | undefined;
  /** The id `schema` has (or would get) under `subject` if it is known without I/O, else undefined. */
  cachedId?(subject: string, schema: AvroSchemaJson): number | undefined;
}

/** The id the local registry gives a schema: 31 bits of the SHA-256 of its canonical form. */
export function localSchemaId(schema: AvroSchemaJson): number {
  const canonical = canonicalForm(compileAvroSchema(schema));
  return createHash('sha256').update(canonical).digest().readUInt32BE(0) & 0x7fffffff;
}

/** A registry without a server: content-derived ids (see the file comment). Synchronous underneath. */
export class LocalSchemaRegistry implements SchemaRegistry {
  readonly name = 'local';
  readonly #byId = new Map<number, { canonical: string; schema: AvroSchemaJson }>();
  readonly #subjects = new Map<string, Set<number>>();

  /** Makes schemas resolvable by id before any record is read (e.g. every older version of a topic's schema). */
  preload(schemas: readonly AvroSchemaJson[]): void {
    for (const schema of schemas) this.registerSync('_preloaded', schema);
  }

  /**
   * The synchronous form of {@link register}.
   * @throws SerdeError CTR_SERDE_SCHEMA when the schema is invalid or collides with another schema's id.
   */
  registerSync(subject: string, schema: AvroSchemaJson): number {
    const type = compileAvroSchema(schema, `schema for subject "${subject}"`);
    const canonical = canonicalForm(type);
    const id = createHash('sha256').update(canonical).digest().readUInt32BE(0) & 0x7fffffff;
    const known = this.#byId.get(id);
    if (known && known.canonical !== canonical) {
      throw new SerdeError(
        'CTR_SERDE_SCHEMA',
        `local schema id ${id} of subject "${subject}" collides with another schema; register through a schema registry instead`,
        { schemaId: id },
      );
    }
    if (!known) this.#byId.set(id, { canonical, schema: JSON.parse(fullSchemaText(type)) as AvroSchemaJson });
    let ids = this.#subjects.get(subject);
    if (!ids) this.#subjects.set(subject, (ids = new Set()));
    ids.add(id);
    return id;
  }

  register(subject: string, schema: AvroSchemaJson): Promise<number> {
    return Promise.resolve(this.registerSync(subject, schema));
  }

  schemaById(id: number): Promise<AvroSchemaJson | undefined> {
    return Promise.resolve(this.cachedSchemaById(id));
  }

  cachedSchemaById(id: number): AvroSchemaJson | undefined {
    return this.#byId.get(id)?.schema;
  }

  /** Local ids need no I/O: this registers the schema on the spot. */
  cachedId(subject: string, schema: AvroSchemaJson): number {
    return this.registerSync(subject, schema);
  }

  /** Ids registered under `subject`, in registration order. */
  subjectIds(subject: string): number[] {
    return [...(this.#subjects.get(subject) ?? [])];
  }
}

/**
 * Serdes for the pipeline's state stores. Store values are written in plain
 * Avro binary (no wire-format frame, no registry): a store and its changelog
 * belong to one application, which always reads them with the schema it
 * wrote them with, and a changelog record must not need a registry round
 * trip to restore.
 */
import { fileURLToPath } from 'node:url';
import {
  compileAvroSchema,
  loadAvroSchemaFile,
  SerdeError,
  type AvroSchemaJson,
  type Serde,
} from '../src/streams/serde/index.ts';

/** A serde of plain Avro binary for `schema` (a schema JSON, or a file name under schemas/). */
export function avroStoreSerde<T>(schema: AvroSchemaJson | string): Serde<T> {
  const json =
    typeof schema === 'string'
      ? loadAvroSchemaFile(fileURLToPath(new URL(`../schemas/${schema}`, import.meta.url)))
      : schema;
  const type = compileAvroSchema(json);
  const name = `avro-raw(${typeof schema === 'string' ? schema : 'inline'})`;
  return {
    name,
    serialize(topic: string, data: T | null): Buffer | null {
      if (data === null) return null;
      try {
        return type.toBuffer(data);
      } catch (cause) {
        throw new SerdeError(
          'CTR_SERDE_SERIALIZE',
          `cannot write a ${name} value for ${topic}: ${String(cause)}`,
          { topic, serde: name, cause },
        );
      }
    },
    deserialize(topic: string, data: Buffer | null): T | null {
      if (data === null) return null;
      try {
        return type.fromBuffer(data) as T;
      } catch (cause) {
        throw new SerdeError(
          'CTR_SERDE_DESERIALIZE',
          `cannot read a ${name} value from ${topic}: ${String(cause)}`,
          { topic, serde: name, cause },
        );
      }
    },
  };
}

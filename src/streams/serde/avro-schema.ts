/**
 * Avro schemas as the serdes use them: parsed once into avsc Types with the
 * project's fixed parse options, loaded from .avsc files, and fingerprinted.
 *
 * Parse options are fixed here, once, because they change the JS shape of
 * values: with `wrapUnions: 'auto'` a `["null", "string"]` field is `null` or
 * a string (not `{ string: "..." }`), and logical types (timestamp-millis,
 * uuid) stay their underlying JS types (numbers in ms since the epoch,
 * strings), which is what StreamRecord timestamps already are.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { SerdeError, reasonOf } from './errors.ts';

/** An Avro schema as JSON (the content of an .avsc file). */
export type AvroSchemaJson = avro.Schema;
/** A compiled Avro type (avsc). */
export type AvroType = avro.Type;

/**
 * Compiles a schema. Compile once per schema and keep the Type: compiling
 * generates the encoder/decoder code and costs far more than one record.
 * @throws SerdeError CTR_SERDE_SCHEMA when the schema is not valid Avro.
 */
export function compileAvroSchema(schema: AvroSchemaJson | string, what = 'schema'): AvroType {
  let json: AvroSchemaJson;
  try {
    json = typeof schema === 'string' ? (JSON.parse(schema) as AvroSchemaJson) : schema;
  } catch (error) {
    throw new SerdeError('CTR_SERDE_SCHEMA', `${what} is not JSON: ${reasonOf(error)}`, { cause: error });
  }
  try {
    return avro.Type.forSchema(json, { wrapUnions: 'auto' });
  } catch (error) {
    throw new SerdeError('CTR_SERDE_SCHEMA', `${what} is not a valid Avro schema: ${reasonOf(error)}`, {
      cause: error,
    });
  }
}

/**
 * Reads an .avsc file (JSON) and checks that it compiles.
 * @throws SerdeError CTR_SERDE_SCHEMA when the file cannot be read or is not a valid schema.
 */
export function loadAvroSchemaFile(path: string | URL): AvroSchemaJson {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SerdeError('CTR_SERDE_SCHEMA', `cannot read Avro schema ${String(path)}: ${reasonOf(error)}`, {
      cause: error,
    });
  }
  const json = (() => {
    try {
      return JSON.parse(text) as AvroSchemaJson;
    } catch (error) {
      throw new SerdeError(
        'CTR_SERDE_SCHEMA',
        `Avro schema ${String(path)} is not JSON: ${reasonOf(error)}`,
        { cause: error },
      );
    }
  })();
  compileAvroSchema(json, `Avro schema ${String(path)}`);
  return json;
}

/**
 * The Parsing Canonical Form of a schema (Avro spec): names fully qualified,
 * docs, defaults and aliases dropped. Two schemas with the same canonical
 * form encode identically.
 */
export function canonicalForm(type: AvroType): string {
  return JSON.stringify(type.schema());
}

/** SHA-256 of the canonical form, hex. */
export function schemaFingerprint(type: AvroType): string {
  return createHash('sha256').update(canonicalForm(type)).digest('hex');
}

/** The full schema JSON of a compiled type, docs and defaults kept (what a registry should store). */
export function fullSchemaText(type: AvroType): string {
  return JSON.stringify(type.schema({ exportAttrs: true }));
}

/** The name of a named type (record, enum, fixed), else its type name (`string`, `array`...). */
export function avroTypeName(type: AvroType): string {
  return type.name ?? type.typeName;
}

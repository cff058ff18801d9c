/**
 * JSON values as UTF-8 text. For internal and debugging topics: the public
 * topics use Avro (schemas/), whose readers need no guessing about types.
 */
import { SerdeError, reasonOf } from './errors.ts';
import type { Serde } from './serde.ts';

export interface JsonSerdeOptions<T> {
  /** Name in describe() and errors. Default `json`. */
  name?: string;
  /**
   * Checks a parsed value and returns it typed; throw to reject it (the
   * record then goes to the deserialization exception handler). Default:
   * no check, the parsed value is cast to T.
   */
  validate?: (value: unknown) => T;
}

class JsonSerde<T> implements Serde<T> {
  readonly name: string;
  readonly #validate: ((value: unknown) => T) | undefined;

  constructor(options: JsonSerdeOptions<T>) {
    this.name = options.name ?? 'json';
    this.#validate = options.validate;
  }

  serialize(topic: string, data: T | null): Buffer | null {
    if (data === null) return null;
    let text: string | undefined;
    try {
      text = JSON.stringify(data);
    } catch (error) {
      throw new SerdeError(
        'CTR_SERDE_SERIALIZE',
        `cannot serialize a value for ${topic} as ${this.name}: ${reasonOf(error)}`,
        { topic, serde: this.name, cause: error },
      );
    }
    // JSON.stringify returns undefined for undefined, functions and symbols: no JSON text exists for them
    if (text === undefined) {
      throw new SerdeError(
        'CTR_SERDE_SERIALIZE',
        `cannot serialize a value for ${topic} as ${this.name}: ${typeof data} has no JSON form`,
        { topic, serde: this.name },
      );
    }
    return Buffer.from(text, 'utf8');
  }

  deserialize(topic: string, data: Buffer | null): T | null {
    if (data === null) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data.toString('utf8'));
    } catch (error) {
      throw new SerdeError(
        'CTR_SERDE_DESERIALIZE',
        `cannot deserialize ${data.length} bytes from ${topic} as ${this.name}: ${reasonOf(error)}`,
        { topic, serde: this.name, cause: error },
      );
    }
    if (!this.#validate) return parsed as T;
    try {
      return this.#validate(parsed);
    } catch (error) {
      throw new SerdeError(
        'CTR_SERDE_DESERIALIZE',
        `value from ${topic} is valid JSON but not a valid ${this.name}: ${reasonOf(error)}`,
        { topic, serde: this.name, cause: error },
      );
    }
  }
}

/** A JSON serde; give `validate` to reject well-formed JSON of the wrong shape. */
export function jsonSerde<T = unknown>(options: JsonSerdeOptions<T> = {}): Serde<T> {
  return new JsonSerde(options);
}

/**
 * UTF-8 strings, the usual key type. Decoding is lenient as Java's
 * StringDeserializer is: invalid UTF-8 becomes U+FFFD rather than an error,
 * because a key that is merely odd text must still route and count.
 */
import type { Serde } from './serde.ts';

class StringSerde implements Serde<string> {
  readonly name = 'string';

  serialize(_topic: string, data: string | null): Buffer | null {
    return data === null ? null : Buffer.from(data, 'utf8');
  }

  deserialize(_topic: string, data: Buffer | null): string | null {
    return data === null ? null : data.toString('utf8');
  }
}

/** The UTF-8 string serde (one shared, stateless instance). */
export const stringSerde: Serde<string> = new StringSerde();

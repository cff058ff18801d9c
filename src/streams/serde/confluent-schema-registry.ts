/**
 * A Confluent-compatible schema registry over HTTP, through the maintained
 * client @kafkajs/confluent-schema-registry (it caches schemas by id and
 * retries 5xx with backoff). We use it for the two calls a serde needs,
 * register-under-subject and schema-by-id, and do the framing and Avro
 * encoding ourselves (wire-format.ts, avro-serde.ts) because the client's
 * encode/decode are async per record, and our serdes are synchronous so a
 * batch costs no promise per record.
 */
import {
  COMPATIBILITY,
  SchemaRegistry as ClientSchemaRegistry,
  SchemaType,
} from '@kafkajs/confluent-schema-registry';
import type { AvroSchemaJson } from './avro-schema.ts';
import { SerdeError, reasonOf } from './errors.ts';
import type { SchemaRegistry } from './schema-registry.ts';

export interface ConfluentSchemaRegistryOptions {
  /** Base URL, e.g. `http://127.0.0.1:8081` or Apicurio's `http://127.0.0.1:8080/apis/ccompat/v7` (`schema.registry.url`). */
  url: string;
  /**
   * The compatibility level this app expects of its subjects; a subject set
   * to another level is refused at registration, so an operator notices.
   * Set on subjects registered for the first time. Default BACKWARD (Confluent's default).
   */
  compatibility?: keyof typeof COMPATIBILITY;
  /** Basic auth (`basic.auth.user.info`), if the registry wants it. */
  auth?: { username: string; password: string };
}

/**
 * The HTTP status the registry answered with, or undefined when it did not
 * answer. The client reports a failed connection as a fake status 400 with
 * the socket error in the message, so those are recognised by their text.
 */
function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status !== 'number') return undefined;
  if (
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|EAI_AGAIN|EPIPE|socket hang up|Timeout/i.test(
      reasonOf(error),
    )
  )
    return undefined;
  return status;
}

export class ConfluentSchemaRegistry implements SchemaRegistry {
  readonly name: string;
  readonly #client: ClientSchemaRegistry;
  readonly #compatibility: COMPATIBILITY;
  readonly #schemas = new Map<number, AvroSchemaJson>();
  readonly #ids = new Map<string, number>();

  constructor(options: ConfluentSchemaRegistryOptions) {
    this.name = `confluent(${options.url})`;
    this.#client = new ClientSchemaRegistry({
      host: options.url.replace(/\/+$/, ''),
      clientId: 'ctr-streams',
      ...(options.auth ? { auth: options.auth } : {}),
    });
    this.#compatibility = COMPATIBILITY[options.compatibility ?? 'BACKWARD'];
  }

  async register(subject: string, schema: AvroSchemaJson): Promise<number> {
    const text = JSON.stringify(schema);
    const known = this.#ids.get(`${subject}\u0000${text}`);
    if (known !== undefined) return known;
    try {
      const { id } = await this.#client.register(
        { type: SchemaType.AVRO, schema: text },
        { subject, compatibility: this.#compatibility, updateConfig: true },
      );
      this.#ids.set(`${subject}\u0000${text}`, id);
      this.#schemas.set(id, schema);
      return id;
    } catch (error) {
      const status = statusOf(error);
      // 4xx: the registry answered and said no (409 incompatible, 422 invalid); anything else may pass on retry
      if (status !== undefined && status >= 400 && status < 500) {
        throw new SerdeError(
          'CTR_SERDE_SCHEMA',
          `${this.name} refused the schema for subject "${subject}" (HTTP ${status}): ${reasonOf(error)}`,
          { cause: error },
        );
      }
      if ((error as Error | null)?.name === 'ConfluentSchemaRegistryCompatibilityError') {
        throw new SerdeError('CTR_SERDE_SCHEMA', `subject "${subject}" in ${this.name}: ${reasonOf(error)}`, {
          cause: error,
        });
      }
      throw new SerdeError(
        'CTR_SERDE_REGISTRY',
        `cannot register subject "${subject}" in ${this.name}: ${reasonOf(error)}`,
        { cause: error, retriable: true },
      );
    }
  }

  async schemaById(id: number): Promise<AvroSchemaJson | undefined> {
    const cached = this.#schemas.get(id);
    if (cached) return cached;
    try {
      const type = (await this.#client.getSchema(id)) as { schema?: (opts?: unknown) => unknown };
      if (typeof type.schema !== 'function') {
        throw new SerdeError('CTR_SERDE_SCHEMA', `schema id ${id} in ${this.name} is not an Avro schema`, {
          schemaId: id,
        });
      }
      const schema = type.schema({ exportAttrs: true }) as AvroSchemaJson;
      this.#schemas.set(id, schema);
      return schema;
    } catch (error) {
      if (error instanceof SerdeError) throw error;
      const status = statusOf(error);
      if (status === 404) return undefined;
      throw new SerdeError(
        'CTR_SERDE_REGISTRY',
        `cannot fetch schema id ${id} from ${this.name}: ${reasonOf(error)}`,
        { cause: error, retriable: true, schemaId: id },
      );
    }
  }

  cachedSchemaById(id: number): AvroSchemaJson | undefined {
    return this.#schemas.get(id);
  }

  cachedId(subject: string, schema: AvroSchemaJson): number | undefined {
    return this.#ids.get(`${subject}\u0000${JSON.stringify(schema)}`);
  }
}

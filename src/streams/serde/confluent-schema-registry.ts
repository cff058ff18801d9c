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
import { createLogger } from '../../telemetry/logger.ts';

const log = createLogger('schema-registry');

export interface ConfluentSchemaRegistryOptions {
  /** Base URL, e.g. `http://127.0.0.1:8081` or Apicurio's `http://127.0.0.1:8080/apis/ccompat/v7` (`schema.registry.url`). */
  url: string;
  /**
   * The compatibility level set on subjects this app registers first.
   * Default BACKWARD (Confluent's default). When given explicitly, a subject
   * already set to another level is refused at registration (so an operator
   * notices); when defaulted, such a subject is accepted as it is (another
   * team's producer may own it) and a warning is logged.
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
  readonly #strictCompatibility: boolean;
  readonly #url: string;
  readonly #auth: { username: string; password: string } | undefined;
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
    this.#strictCompatibility = options.compatibility !== undefined;
    this.#url = options.url.replace(/\/+$/, '');
    this.#auth = options.auth;
  }

  /**
   * Registers without the client's compatibility-level check: the client
   * refuses any subject whose level differs from the one it expects, which
   * would stop this app on a subject another producer registered first.
   * The registry still enforces the subject's own level.
   */
  async #registerAsIs(subject: string, text: string): Promise<number> {
    const headers: Record<string, string> = { 'Content-Type': 'application/vnd.schemaregistry.v1+json' };
    if (this.#auth)
      headers.Authorization = `Basic ${Buffer.from(`${this.#auth.username}:${this.#auth.password}`).toString('base64')}`;
    let response: Response;
    try {
      response = await fetch(`${this.#url}/subjects/${encodeURIComponent(subject)}/versions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ schema: text }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new SerdeError(
        'CTR_SERDE_REGISTRY',
        `cannot register subject "${subject}" in ${this.name}: ${reasonOf(error)}`,
        { cause: error, retriable: true },
      );
    }
    const body = (await response.json().catch(() => ({}))) as { id?: unknown; message?: unknown };
    if (response.ok && typeof body.id === 'number') return body.id;
    const why = `HTTP ${response.status}${typeof body.message === 'string' ? `: ${body.message}` : ''}`;
    if (response.status >= 400 && response.status < 500)
      throw new SerdeError(
        'CTR_SERDE_SCHEMA',
        `${this.name} refused the schema for subject "${subject}" (${why})`,
      );
    throw new SerdeError(
      'CTR_SERDE_REGISTRY',
      `cannot register subject "${subject}" in ${this.name} (${why})`,
      { retriable: true },
    );
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
        if (this.#strictCompatibility) {
          throw new SerdeError(
            'CTR_SERDE_SCHEMA',
            `subject "${subject}" in ${this.name}: ${reasonOf(error)}`,
            {
              cause: error,
            },
          );
        }
        log.warn(
          { subject, registry: this.name },
          `subject "${subject}" has another compatibility level than ${this.#compatibility}: registering under the subject's own level (${reasonOf(error)})`,
        );
        const id = await this.#registerAsIs(subject, text);
        this.#ids.set(`${subject}\u0000${text}`, id);
        this.#schemas.set(id, schema);
        return id;
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

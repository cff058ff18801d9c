/**
 * The schema registry integration tests use: a real Confluent-compatible
 * registry (Apicurio Registry from Maven Central, in memory; see
 * deploy/schema-registry/launcher.ts).
 *
 * - CTR_SCHEMA_REGISTRY_URL set: that registry is used as is (a developer may
 *   keep one running with `node --import tsx deploy/schema-registry/registry.ts start`).
 * - else each test process starts its own on a free port of 127.0.0.1 (about
 *   2 s) and kills it when the process exits: no state shared between test
 *   files running in parallel, nothing left running after CI. Tests still
 *   use unique subjects (unique topic names).
 */
import { startRegistry } from '../../deploy/schema-registry/launcher.ts';

export interface TestSchemaRegistry {
  /** Base URL of the Confluent-compatible API, e.g. `http://127.0.0.1:43117/apis/ccompat/v7`. */
  url: string;
  /** The JVM's pid, or undefined when CTR_SCHEMA_REGISTRY_URL named an outside registry. */
  pid: number | undefined;
  /** True when CTR_SCHEMA_REGISTRY_URL named a running registry. */
  reused: boolean;
  /** ms from spawn to ready (0 when reused). */
  startMs: number;
}

let cached: Promise<TestSchemaRegistry> | undefined;

/** The registry of this test process (started once, then shared by every caller in the process). */
export function testSchemaRegistry(
  onProgress: (line: string) => void = () => {},
): Promise<TestSchemaRegistry> {
  cached ??= (async () => {
    const outside = process.env.CTR_SCHEMA_REGISTRY_URL;
    if (outside) return { url: outside.replace(/\/+$/, ''), pid: undefined, reused: true, startMs: 0 };
    const registry = await startRegistry({ killOnExit: true, onProgress });
    return { url: registry.url, pid: registry.pid, reused: false, startMs: registry.startMs };
  })();
  return cached;
}

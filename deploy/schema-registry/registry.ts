/**
 * `node --import tsx deploy/schema-registry/registry.ts fetch|start`:
 * - fetch: build the local Apicurio Registry from Maven Central (CI runs it
 *   before the tests so no test pays for the download);
 * - start [--port 8081]: run one in the foreground until Ctrl-C, for the demo
 *   or development; point the app at it with
 *   `schema.registry.url=http://127.0.0.1:8081/apis/ccompat/v7` (or
 *   CTR_SCHEMA_REGISTRY_URL). Its storage is in memory.
 */
import { Command } from 'commander';
import { ensureRegistryApp, startRegistry } from './launcher.ts';

const program = new Command('schema-registry').description(
  'A local Confluent-compatible schema registry (Apicurio, in memory)',
);
program
  .command('fetch')
  .description('build it from Maven Central (once)')
  .action(async () => {
    console.log(await ensureRegistryApp((line) => console.error(line)));
  });
program
  .command('start')
  .option('--port <port>', 'port on 127.0.0.1', '8081')
  .description('run it in the foreground')
  .action(async (flags: { port: string }) => {
    const registry = await startRegistry({
      port: Number(flags.port),
      killOnExit: true,
      onProgress: (line) => console.error(line),
    });
    console.log(registry.url);
    const stop = () => process.exit(0);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    setInterval(() => {}, 1 << 30);
  });
program.parseAsync().catch((error: unknown) => {
  console.error(`schema-registry: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

/**
 * The `ctr-streams` command line: a thin registry of commands, one file each
 * under commands/. Run with `node --import tsx src/cli/main.ts <command>` or
 * `bin/ctr-streams.js <command>`.
 */
import { Command } from 'commander';
import { registerDemo } from './commands/demo.ts';
import { registerProduceEvents } from './commands/produce-events.ts';
import { registerOperationsCommands } from './commands/operations.ts';

const program = new Command()
  .name('ctr-streams')
  .description(
    'A Kafka Streams-style stream processor and the real-time CTR recommendation pipeline built on it.',
  )
  .showHelpAfterError();

registerDemo(program);
registerProduceEvents(program);
registerOperationsCommands(program);

await program.parseAsync(process.argv);

/** `ctr-streams docs configuration`: prints docs/configuration.md, generated from the config table. */
import { Argument, type Command } from 'commander';
import { renderConfigDocs } from '../../streams/config.ts';

export function registerDocs(program: Command): void {
  program
    .command('docs')
    .addArgument(new Argument('<what>', 'which reference').choices(['configuration']))
    .description(
      'print a generated reference (configuration: every setting with its type, default, unit, env var)',
    )
    .action(() => {
      process.stdout.write(renderConfigDocs());
    });
}

/**
 * How every operations command ends: success exits 0; a failure prints ONE
 * line to stderr (`ctr-streams <command>: <message> [<code>]`) and sets the
 * exit code from the error (see errors.ts). The stack and the cause chain
 * are printed only with --verbose, because operators read the line and
 * scripts read the exit code; the stack is for us.
 */
import type { Command } from 'commander';
import { exitCodeOf } from './errors.ts';

/** Adds the options every operations command shares: --verbose. */
export function withCommonOptions(command: Command): Command {
  return command.option('-v, --verbose', 'print the stack and cause chain of an error, and debug logs');
}

/** The one-line form of an error: its message (a ConfigError's problems joined by "; ") and its code. */
export function oneLine(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const problems = (error as { problems?: ReadonlyArray<{ name: string; message: string; source?: string }> })
    .problems;
  const text = problems
    ? `invalid configuration: ${problems.map((p) => `${p.name}: ${p.message}${p.source ? ` (from ${p.source})` : ''}`).join('; ')}`
    : error.message.replace(/\s*\n\s*/g, '; ');
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('CTR_') ? `${text} [${code}]` : text;
}

function verboseText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    parts.push(
      depth === 0
        ? String((current as Error).stack ?? current)
        : `caused by: ${String((current as Error).stack ?? current)}`,
    );
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

/**
 * Wraps a command's action: runs it, and on error prints one line (or the
 * stack with --verbose) and sets process.exitCode. Never throws.
 * @param name the command as the user typed it, e.g. `reset`
 */
export function commandAction<A extends unknown[]>(
  name: string,
  action: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    // commander passes (...positionals, options, command)
    const options = args[args.length - 2] as { verbose?: boolean } | undefined;
    if (options?.verbose && process.env.CTR_LOG_LEVEL === undefined) {
      const { setLogLevel } = await import('../telemetry/index.ts');
      setLogLevel('debug');
    }
    try {
      await action(...args);
    } catch (error) {
      process.stderr.write(`ctr-streams ${name}: ${oneLine(error)}\n`);
      if (options?.verbose) process.stderr.write(`${verboseText(error)}\n`);
      process.exitCode = exitCodeOf(error);
    }
  };
}

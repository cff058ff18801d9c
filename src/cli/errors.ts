/**
 * Typed errors of the command line. Every CLI failure is a CliError with a
 * stable code and the process exit code it maps to, so scripts can branch on
 * `$?` without parsing messages:
 *
 * | exit | meaning |
 * | --- | --- |
 * | 0 | done |
 * | 1 | the operation failed (broker, store, model, ...) |
 * | 2 | bad usage: unknown topology, bad option value, missing file |
 * | 3 | refused on purpose: the application still has live members, a diff found breaking changes, the model registry's latest version moved during training |
 */
import { StreamsError, type StreamsErrorContext } from '../streams/errors.ts';

export const CLI_ERROR_CODES = [
  'CTR_CLI_USAGE',
  'CTR_CLI_UNKNOWN_TOPOLOGY',
  'CTR_CLI_GROUP_ACTIVE',
  'CTR_CLI_STORE_NOT_FOUND',
  'CTR_CLI_INCOMPATIBLE',
  'CTR_CLI_REGISTRY_MOVED',
  'CTR_CLI_FAILED',
] as const;

export type CliErrorCode = (typeof CLI_ERROR_CODES)[number];

/** Process exit codes (see the table above). */
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3 } as const;

const EXIT_OF: Record<CliErrorCode, number> = {
  CTR_CLI_USAGE: EXIT.usage,
  CTR_CLI_UNKNOWN_TOPOLOGY: EXIT.usage,
  CTR_CLI_STORE_NOT_FOUND: EXIT.usage,
  CTR_CLI_GROUP_ACTIVE: EXIT.refused,
  CTR_CLI_INCOMPATIBLE: EXIT.refused,
  CTR_CLI_REGISTRY_MOVED: EXIT.refused,
  CTR_CLI_FAILED: EXIT.failed,
};

export class CliError extends StreamsError {
  declare readonly code: CliErrorCode;
  /** The process exit code this error ends the command with. */
  readonly exitCode: number;

  constructor(code: CliErrorCode, message: string, context: StreamsErrorContext = {}) {
    super(code, message, context);
    this.exitCode = EXIT_OF[code];
  }
}

/** The exit code for any error: a CliError's own, 2 for a ConfigError (bad settings), else 1. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'CTR_CONFIG' || code === 'CTR_TELEMETRY_CONFIG' || code === 'commander.invalidArgument')
    return EXIT.usage;
  return EXIT.failed;
}

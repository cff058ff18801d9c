/**
 * The one error a bad configuration raises: it lists EVERY bad field at
 * once, so an operator fixes a config file in one round trip instead of one
 * restart per typo.
 */
import { StreamsError } from './errors.ts';

/** One bad field: the setting's dotted name and what is wrong with it. */
export interface ConfigProblem {
  /** The setting, e.g. `commit.interval.ms`. */
  name: string;
  /** e.g. `expected integer >= 0, got "5s"`. */
  message: string;
  /** Where the bad value came from: `object`, a file path, or an env var name. */
  source?: string;
}

/**
 * Thrown by the config loader when one or more settings are invalid, missing
 * or unknown. `code` is `CTR_CONFIG`; the message has one line per problem:
 * `commit.interval.ms: expected integer >= 0, got "5s" (from env CTR_COMMIT_INTERVAL_MS)`.
 */
export class ConfigError extends StreamsError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  ${p.name}: ${p.message}${p.source ? ` (from ${p.source})` : ''}`);
    super(
      'CTR_CONFIG',
      `invalid streams configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    );
    this.problems = problems;
  }
}

/**
 * Times on the command line: an ISO-8601 date-time (`2026-11-23T12:00:00Z`;
 * without a zone it is UTC, as Kafka's `--to-datetime` takes local-less
 * times), milliseconds since the epoch, or a duration back from now
 * (`-15m`, `-2h`, `-1d`, `-30s`).
 */
import { CliError } from './errors.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** @returns ms since the epoch. @throws CliError CTR_CLI_USAGE naming the option */
export function parseTime(option: string, text: string, nowMs = Date.now()): number {
  const t = text.trim();
  const ago = /^-(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(t);
  if (ago) return nowMs - Number(ago[1]) * UNIT_MS[ago[2]!]!;
  if (/^\d+$/.test(t)) return Number(t);
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(t) ? t : `${t}Z`;
  const ms = Date.parse(iso);
  if (/^\d{4}-\d\d-\d\d/.test(t) && Number.isFinite(ms)) return ms;
  throw new CliError(
    'CTR_CLI_USAGE',
    `${option} expects an ISO date-time (2026-11-23T12:00:00Z), ms since the epoch, or a duration ago (-15m), got "${text}"`,
  );
}

/** Command-line options of the benchmarks: `--name value`. */

/** The value after `--<name>`, or `fallback` when the option is absent. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

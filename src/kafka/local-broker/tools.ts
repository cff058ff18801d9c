/**
 * Checks for the external tools the local broker needs, so that a missing one
 * is named with its fix instead of surfacing as `spawn java ENOENT`.
 */
import { spawnSync } from 'node:child_process';
import { ToolMissingError } from '../errors.ts';

const FIXES: Record<'java' | 'mvn', string> = {
  java: 'install a Java 17+ runtime (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`; macOS: `brew install openjdk@17`), or set JAVA_HOME',
  mvn: 'install Apache Maven 3.6+ (Debian/Ubuntu: `apt-get install maven`; macOS: `brew install maven`); it fetches the broker jars from Maven Central',
};

/** Returns the command to run for `tool`, honouring JAVA_HOME for java. */
export function toolCommand(tool: 'java' | 'mvn'): string {
  if (tool === 'java' && process.env.JAVA_HOME) return `${process.env.JAVA_HOME}/bin/java`;
  return tool;
}

/** Throws ToolMissingError if `tool` cannot be run; returns its version banner otherwise. */
export function requireTool(tool: 'java' | 'mvn'): string {
  const args = tool === 'java' ? ['-version'] : ['-v'];
  const result = spawnSync(toolCommand(tool), args, { encoding: 'utf8' });
  if (result.error || result.status !== 0) throw new ToolMissingError(tool, FIXES[tool]);
  return `${result.stdout}${result.stderr}`.trim().split('\n')[0] ?? tool;
}

/** The Java major version from `java -version` output (e.g. 17), or undefined if unparsable. */
export function javaMajorVersion(banner: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(banner);
  if (!match) return undefined;
  const first = Number(match[1]);
  // Java 8 and older report "1.8.0_x"
  return first === 1 ? Number(match[2]) : first;
}

/**
 * The project's structured logger. Every layer logs through `createLogger`,
 * so one place decides the format (JSON lines) and the level
 * (`CTR_LOG_LEVEL`, default `info`; `silent` in tests unless asked).
 */
import { pino, destination, stdTimeFunctions, type Logger as PinoLogger } from 'pino';
// Side effect: registers the global proxy MeterProvider before any module that logs creates
// instruments at load time (see meter-proxy.ts).
import './meter-proxy.ts';

export type Logger = PinoLogger;

const defaultLevel = process.env.CTR_LOG_LEVEL ?? (process.env.NODE_TEST_CONTEXT ? 'silent' : 'info');

const root: Logger = pino(
  {
    level: defaultLevel,
    base: { pid: process.pid },
    timestamp: stdTimeFunctions.isoTime,
    // logs go to stderr so that commands can print results on stdout
  },
  destination(2),
);

// pino children copy their parent's level when created and do not follow
// later changes, and most loggers here are created when a module loads, before
// a command has parsed --log-level. So every child is remembered (weakly:
// per-task loggers come and go) and setLogLevel updates them all.
const children = new Set<WeakRef<Logger>>();

/** A child logger tagged with the component that logs (e.g. `kafka`, `task`). */
export function createLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  const child = root.child({ component, ...bindings });
  children.add(new WeakRef(child));
  return child;
}

/** Changes the level of every logger, including those created earlier. */
export function setLogLevel(level: string): void {
  root.level = level;
  for (const ref of children) {
    const child = ref.deref();
    if (child) child.level = level;
    else children.delete(ref);
  }
}

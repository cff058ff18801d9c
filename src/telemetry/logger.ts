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

/** A child logger tagged with the component that logs (e.g. `kafka`, `task`). */
export function createLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return root.child({ component, ...bindings });
}

/** Changes the level of every logger (children follow their root). */
export function setLogLevel(level: string): void {
  root.level = level;
}

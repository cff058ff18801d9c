/** Option parsers shared by the commands: each names the option in its error. */
import { InvalidArgumentError } from 'commander';

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new InvalidArgumentError(`${name} must be a positive integer, got "${value}"`);
    return n;
  };
}

export function nonNegativeNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a number >= 0, got "${value}"`);
    return n;
  };
}

export function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${name} must be a number > 0, got "${value}"`);
    return n;
  };
}

/** The default bootstrap: env CTR_KAFKA_BOOTSTRAP, else the local broker. */
export function defaultBootstrap(): string {
  return process.env.CTR_KAFKA_BOOTSTRAP ?? '127.0.0.1:9092';
}

/**
 * Errors of the model layer (src/ml). Every error is a StreamsError with a
 * stable code from ML_ERROR_CODES, so callers (topologies, the CLI) can react
 * to a code rather than parse a message.
 */
import { StreamsError, type StreamsErrorContext } from '../streams/errors.ts';

export const ML_ERROR_CODES = [
  'CTR_ML_BACKEND',
  'CTR_ML_SHAPE',
  'CTR_ML_MODEL_FORMAT',
  'CTR_ML_REGISTRY',
  'CTR_ML_OVERLOADED',
  'CTR_ML_CLOSED',
  'CTR_ML_WORKER',
  'CTR_ML_TRAINING',
] as const;

export type MlErrorCode = (typeof ML_ERROR_CODES)[number];

export interface MlErrorContext extends StreamsErrorContext {
  /** Model version concerned, when one is. */
  version?: string;
}

/** Base of every error thrown by src/ml. */
export class MlError extends StreamsError {
  readonly version: string | undefined;
  constructor(code: MlErrorCode, message: string, context: MlErrorContext = {}) {
    super(code, message, context);
    this.version = context.version;
  }
}

/** No usable tensor backend (or the one asked for by config failed to start). */
export class BackendError extends MlError {
  constructor(message: string, context: MlErrorContext = {}) {
    super('CTR_ML_BACKEND', message, context);
  }
}

/** An input whose shape or length disagrees with the model or feature spec. */
export class ShapeError extends MlError {
  constructor(message: string, context: MlErrorContext = {}) {
    super('CTR_ML_SHAPE', message, context);
  }
}

/** A model file that cannot be read: missing tensor, wrong size, unknown format version. */
export class ModelFormatError extends MlError {
  constructor(message: string, context: MlErrorContext = {}) {
    super('CTR_ML_MODEL_FORMAT', message, context);
  }
}

/** A registry operation that failed: unknown version, no "latest", write failure. */
export class RegistryError extends MlError {
  constructor(message: string, context: MlErrorContext = {}) {
    super('CTR_ML_REGISTRY', message, context);
  }
}

/** The autobatcher's queue is full: retriable, the caller should back off and retry. */
export class OverloadedError extends MlError {
  constructor(message: string, context: MlErrorContext = {}) {
    super('CTR_ML_OVERLOADED', message, { retriable: true, ...context });
  }
}

/** A call on a scorer, pool or autobatcher that was closed. */
export class ClosedError extends MlError {
  constructor(message: string, context: MlErrorContext = {}) {
    super('CTR_ML_CLOSED', message, context);
  }
}

/** A scoring worker failed or died. */
export class WorkerError extends MlError {
  constructor(message: string, context: MlErrorContext = {}) {
    super('CTR_ML_WORKER', message, { retriable: true, ...context });
  }
}

/** Training could not proceed (no examples, non-finite loss, ...). */
export class TrainingError extends MlError {
  constructor(message: string, context: MlErrorContext = {}) {
    super('CTR_ML_TRAINING', message, context);
  }
}

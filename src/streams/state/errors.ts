/**
 * Errors of the state stores. Each names the store (and its path or changelog
 * partition when known), so a message alone tells an operator what broke.
 */
import { StreamsError, type StreamsErrorContext } from '../errors.ts';

export const STATE_ERROR_CODES = [
  'CTR_STORE_CLOSED',
  'CTR_STORE_CORRUPTED',
  'CTR_STORE_LOCKED',
  'CTR_STORE_IO',
] as const;
// Restore failures (reading the changelog, applying a batch) are the runtime's RestoreError
// (CTR_RESTORE, runtime/errors.ts): the restore loop lives there.
export type StateErrorCode = (typeof STATE_ERROR_CODES)[number];

/** A store used before `init`, after `close`, or while it is being wiped. */
export class StoreClosedError extends StreamsError {
  static readonly code = 'CTR_STORE_CLOSED';
  constructor(message: string, context: StreamsErrorContext = {}) {
    super(StoreClosedError.code, message, context);
  }
}

/**
 * The persistent data cannot be trusted: LevelDB reports corruption, the files
 * cannot be opened, or the store's metadata (format, position) is unreadable.
 * The runtime reacts by `wipe()` and a full restore from the changelog.
 */
export class StoreCorruptedError extends StreamsError {
  static readonly code = 'CTR_STORE_CORRUPTED';
  /** The store's directory on disk. */
  readonly path: string;
  constructor(message: string, path: string, context: StreamsErrorContext = {}) {
    super(StoreCorruptedError.code, message, context);
    this.path = path;
  }
}

/**
 * Another process (or another open store object) holds the LevelDB lock of the
 * store's directory. Retriable: the previous owner may still be closing.
 */
export class StoreLockedError extends StreamsError {
  static readonly code = 'CTR_STORE_LOCKED';
  readonly path: string;
  constructor(message: string, path: string, context: StreamsErrorContext = {}) {
    super(StoreLockedError.code, message, { retriable: true, ...context });
    this.path = path;
  }
}

/** Any other failure of the storage engine (disk full, I/O error). */
export class StoreIoError extends StreamsError {
  static readonly code = 'CTR_STORE_IO';
  readonly path: string | undefined;
  constructor(message: string, path: string | undefined, context: StreamsErrorContext = {}) {
    super(StoreIoError.code, message, context);
    this.path = path;
  }
}

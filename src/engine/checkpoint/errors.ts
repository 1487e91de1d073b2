// The one error type of checkpoint I/O. Every message names the file, says what is wrong
// in plain words and what to do about it; `code` lets callers branch without parsing text.

export type CheckpointErrorCode =
  /** The file ends before the data its header promises (an interrupted download or copy). */
  | 'truncated'
  /** The file is damaged or not the format its name says: bad header, bad JSON, bad offsets. */
  | 'malformed'
  /** A pickle asks for something other than tensors (code execution): refused, never run. */
  | 'unsafe-pickle'
  /** A well-formed file that uses something this reader does not handle (dtype, legacy format, sharding). */
  | 'unsupported'
  /** The file or folder is not there. */
  | 'not-found'
  /** The caller passed tensors that cannot be written (shape and data disagree, unknown dtype). */
  | 'invalid-argument';

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  readonly code: CheckpointErrorCode;
  /** The file (or folder) concerned, as the caller named it, when there is one. */
  readonly file: string | undefined;

  constructor(code: CheckpointErrorCode, message: string, options: { file?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.file = options.file;
  }
}

export function isCheckpointError(e: unknown, code?: CheckpointErrorCode): e is CheckpointError {
  return e instanceof CheckpointError && (code === undefined || e.code === code);
}

/** "512 bytes", "3.1 kB", "17.6 MB", "1.2 GB" (decimal units, as file browsers show). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

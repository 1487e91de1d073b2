// Crash-safe file writes for the engine: settings, manifests, checkpoints' sidecar JSON, run logs.
//
// writeFileAtomic: a reader sees either the old file or the complete new one, never a torn write —
// the data goes to a temporary file in the same folder (same file system, so the rename is atomic),
// is fsynced, renamed over the target, and the folder is fsynced so the rename itself survives a
// power cut (where the platform lets us open a folder; Windows does not, and there NTFS journals it).
//
// appendLine: for append-only logs such as metrics.jsonl. Each line goes out in one write and is
// fsynced. If a previous append was cut short (the process died mid-write, leaving no final newline),
// the next line starts on a fresh line so only the torn line is lost, never a good one.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** What writeFileAtomic accepts: the whole content at once, or a stream of chunks (for large files). */
export type AtomicData = string | Uint8Array | Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;

export interface WriteAtomicOptions {
  /** File mode for a new file (default 0o666 minus the umask). */
  mode?: number;
}

/**
 * Write `data` to `path` atomically: temp file in the same folder, write, fsync, rename, fsync the folder.
 * The folder must exist. On any error the temp file is removed, the target is left as it was
 * (absent or with its old content), and the error is rethrown.
 */
export async function writeFileAtomic(path: string, data: AtomicData, options: WriteAtomicOptions = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', options.mode ?? 0o666);
    if (typeof data === 'string' || data instanceof Uint8Array) {
      await fh.writeFile(data);
    } else {
      for await (const chunk of data as AsyncIterable<string | Uint8Array>) {
        await fh.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
      }
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await renameWithRetry(tmp, path);
  } catch (e) {
    if (fh) await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fsyncDir(dir);
}

export interface WriteJsonOptions extends WriteAtomicOptions {
  /** Indentation passed to JSON.stringify (default 2; 0 for one line). */
  indent?: number;
}

/** JSON.stringify `value` (with a trailing newline) and write it with writeFileAtomic. */
export async function writeJsonAtomic(path: string, value: unknown, options: WriteJsonOptions = {}): Promise<void> {
  const text = JSON.stringify(value, null, options.indent ?? 2);
  if (text === undefined) throw new TypeError(`writeJsonAtomic(${path}): value is not JSON-serialisable`);
  await writeFileAtomic(path, text + '\n', options);
}

/**
 * Append one line to `path` (created if missing) and fsync it. `line` must not contain a newline
 * (a trailing one is allowed and not doubled). If the file does not end with a newline — a torn
 * earlier append — a newline is written first so the new line stays intact on its own.
 */
export async function appendLine(path: string, line: string): Promise<void> {
  const body = line.endsWith('\n') ? line.slice(0, -1) : line;
  if (body.includes('\n')) throw new RangeError(`appendLine(${path}): the line contains a newline`);
  const fh = await open(path, 'a+');
  try {
    const { size } = await fh.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    // One write call for the whole line: O_APPEND puts it at the end even with other appenders.
    await fh.write(Buffer.from(prefix + body + '\n', 'utf8'));
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** appendLine(path, JSON.stringify(value)): one JSON record per line (JSON Lines). */
export async function appendJsonLine(path: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`appendJsonLine(${path}): value is not JSON-serialisable`);
  await appendLine(path, text);
}

/** SHA-256 of a file's content as lowercase hex, read as a stream (constant memory for any size). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** fsync a folder so a rename or create in it is durable. A no-op where folders cannot be opened (Windows). */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // EISDIR / EPERM / EINVAL on platforms or file systems that do not support it: nothing to do.
  } finally {
    await fh?.close().catch(() => {});
  }
}

/**
 * rename(), retried briefly on the transient EPERM/EACCES/EBUSY that Windows reports while a virus
 * scanner or indexer holds the target open.
 */
export async function renameWithRetry(from: string, to: string): Promise<void> {
  const delays = process.platform === 'win32' ? [10, 50, 100, 250, 500] : [];
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(from, to);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const transient = code === 'EPERM' || code === 'EACCES' || code === 'EBUSY';
      if (!transient || attempt >= delays.length) throw e;
      await new Promise((r) => setTimeout(r, delays[attempt]));
    }
  }
}

// Atomic file replacement: write a temporary file beside the target, fsync it, rename it
// over the target, fsync the folder. A reader (or a crash) sees the old file or the new
// one, never a half-written one; a failed write leaves the target as it was and no
// temporary file behind.
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const CHUNK = 1 << 30; // fs writes take at most 2 GiB at a time

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const len = Math.min(CHUNK, bytes.byteLength - done);
    const { bytesWritten } = await fh.write(bytes, done, len);
    if (bytesWritten <= 0) throw new Error(`write made no progress after ${done} bytes`);
    done += bytesWritten;
  }
}

/** Windows refuses renames while another process (an indexer, an antivirus) holds the target. */
async function renameWithRetry(from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(from, to);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const transient = process.platform === 'win32' && (code === 'EPERM' || code === 'EACCES' || code === 'EBUSY');
      if (!transient || attempt >= 10) throw e;
      await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
    }
  }
}

/** Best effort: makes the rename itself durable where the platform allows fsync on a folder. */
async function syncFolder(folder: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(folder, 'r');
    await fh.sync();
  } catch {
    // Windows cannot open folders this way; some file systems refuse fsync on them.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** Writes `pieces`, in order, as the new contents of `path`, atomically. */
export async function writeFileAtomic(path: string, pieces: Iterable<Uint8Array>): Promise<void> {
  const folder = dirname(path);
  const temp = join(folder, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  let created = false;
  try {
    fh = await open(temp, 'wx');
    created = true;
    for (const piece of pieces) await writeAll(fh, piece);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await renameWithRetry(temp, path);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    if (created) await rm(temp, { force: true }).catch(() => undefined);
    throw e;
  }
  await syncFolder(folder);
}

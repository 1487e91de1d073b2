// Free disk space, for "is there room for the GPU pack / this run?" questions.

import { statfs } from 'node:fs/promises';
import path from 'node:path';

export interface DiskInfo {
  /** The folder asked about. */
  path: string;
  /** Bytes this user may still write there. */
  freeBytes: number;
  totalBytes: number;
}

/** Free space for this user in the file system that holds `dir` (or its nearest existing parent). */
export async function freeDiskBytes(dir: string, fsStatfs: typeof statfs = statfs): Promise<number> {
  return (await diskInfoOrThrow(dir, fsStatfs)).freeBytes;
}

/** Free and total space for `dir`, or null when it cannot be read. */
export async function diskInfo(dir: string, fsStatfs: typeof statfs = statfs): Promise<DiskInfo | null> {
  try {
    return await diskInfoOrThrow(dir, fsStatfs);
  } catch {
    return null;
  }
}

async function diskInfoOrThrow(dir: string, fsStatfs: typeof statfs): Promise<DiskInfo> {
  let at = path.resolve(dir);
  for (;;) {
    try {
      const s = await fsStatfs(at);
      return { path: dir, freeBytes: Number(s.bavail) * Number(s.bsize), totalBytes: Number(s.blocks) * Number(s.bsize) };
    } catch (e) {
      const parent = path.dirname(at);
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || parent === at) throw e;
      at = parent;
    }
  }
}

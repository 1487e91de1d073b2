// sha256 of large model files, memoised per (absolute path, size, mtime) in a small JSON index,
// so a 250 MB teacher is hashed once rather than on every run. A changed size or mtime (a new
// download, an edit) invalidates the entry. A lost or corrupt index only costs a rehash.
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

import { sha256File, writeJsonAtomic } from '../fsutil/atomic';

const INDEX_FORMAT = 'distill-studio/file-sha256-index/1';

interface IndexEntry {
  size: number;
  /** Modification time in nanoseconds, as a decimal string (exact). */
  mtimeNs: string;
  sha256: string;
}

interface IndexFile {
  format: string;
  files: Record<string, IndexEntry>;
}

async function readIndex(indexPath: string): Promise<IndexFile> {
  try {
    const parsed = JSON.parse(await readFile(indexPath, 'utf8')) as Partial<IndexFile>;
    if (parsed && parsed.format === INDEX_FORMAT && parsed.files && typeof parsed.files === 'object') {
      return { format: INDEX_FORMAT, files: parsed.files };
    }
  } catch {
    // Missing or unreadable: start afresh.
  }
  return { format: INDEX_FORMAT, files: {} };
}

/**
 * sha256 (hex) of `file`, looked up in / recorded to the JSON index at `indexPath` (its folder
 * is created if needed). `onHash` is called when the file is actually read (for tests and logs).
 */
export async function memoisedSha256(file: string, indexPath: string, onHash?: (file: string) => void): Promise<{ sha256: string; size: number }> {
  const abs = path.resolve(file);
  const st = await stat(abs, { bigint: true });
  const size = Number(st.size);
  const mtimeNs = st.mtimeNs.toString();
  const index = await readIndex(indexPath);
  const hit = index.files[abs];
  if (hit && hit.size === size && hit.mtimeNs === mtimeNs && /^[0-9a-f]{64}$/.test(hit.sha256)) return { sha256: hit.sha256, size };
  onHash?.(abs);
  const sha256 = await sha256File(abs);
  // The file may have changed while it was read: record the hash only if it did not.
  const after = await stat(abs, { bigint: true });
  if (after.size === st.size && after.mtimeNs === st.mtimeNs) {
    // Re-read just before writing so entries other processes added meanwhile are kept (best effort).
    const latest = await readIndex(indexPath);
    latest.files[abs] = { size, mtimeNs, sha256 };
    await mkdir(path.dirname(indexPath), { recursive: true });
    await writeJsonAtomic(indexPath, latest);
  }
  return { sha256, size };
}

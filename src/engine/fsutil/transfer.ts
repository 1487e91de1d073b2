// Pieces every resumable download shares (Hub files, the GPU pack): a throttled progress
// meter with speed and ETA, and small file probes for partial downloads.
import { readFile, stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

export interface TransferProgress {
  /** Bytes on disk so far, including a resumed earlier attempt. */
  received: number;
  /** Total size, or null when the server did not say. */
  total: number | null;
  /** Speed of this transfer (resumed bytes excluded). */
  bytesPerSecond: number;
  /** Seconds left, or null when the total or the speed is unknown. */
  etaSeconds: number | null;
}

const PROGRESS_INTERVAL_MS = 100;

/** Reports progress at most every 100 ms (and always when forced). */
export class ProgressMeter {
  private t0 = 0;
  private base = -1;
  private lastEmit = 0;

  constructor(private readonly onProgress: ((p: TransferProgress) => void) | undefined) {}

  update(received: number, total: number | null, force: boolean): void {
    if (!this.onProgress) return;
    const now = performance.now();
    if (this.base < 0 || received < this.base) {
      this.base = received; // the speed counts this session's bytes only
      this.t0 = now;
    }
    if (!force && now - this.lastEmit < PROGRESS_INTERVAL_MS) return;
    this.lastEmit = now;
    const seconds = (now - this.t0) / 1000;
    const bytesPerSecond = seconds > 0 ? (received - this.base) / seconds : 0;
    const etaSeconds =
      total !== null && bytesPerSecond > 0 ? Math.max(0, total - received) / bytesPerSecond : total !== null && received >= total ? 0 : null;
    this.onProgress({ received, total, bytesPerSecond, etaSeconds });
  }
}

/** Size of a file, 0 when it does not exist. */
export async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** A small text file's trimmed contents (a saved ETag, say), or null when absent or empty. */
export async function readTrimmed(path: string): Promise<string | null> {
  try {
    const v = (await readFile(path, 'utf8')).trim();
    return v.length > 0 ? v : null;
  } catch {
    return null;
  }
}

// Numbers for humans: "8.1 MB", "3 min 20 s", "82.5 %", "4.4 M parameters".
// Pure functions (no DOM, no Node), used by the interface and the CLI; tested in test/renderer/format.test.ts.
// The interface is English, so grouping and decimals follow en-US ("67,349", "0.5").

const DASH = '—';

const isNum = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 67349 -> "67,349". */
export function formatCount(n: number | null | undefined): string {
  return isNum(n) ? grouped.format(Math.round(n)) : DASH;
}

/** A number with at most `digits` decimals, trailing zeros kept off: 0.5 -> "0.5", 2 -> "2". */
export function formatDecimal(n: number | null | undefined, digits = 2): string {
  if (!isNum(n)) return DASH;
  return new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(n);
}

/** Sizes in decimal units, as file managers show them: 8_100_000 -> "8.1 MB", 512 -> "512 B". */
export function formatBytes(bytes: number | null | undefined): string {
  if (!isNum(bytes)) return DASH;
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = Math.abs(bytes);
  let u = 0;
  while (v >= 999.95 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  const sign = bytes < 0 ? '-' : '';
  if (u === 0) return `${sign}${Math.round(v)} B`;
  return `${sign}${v >= 99.95 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

/** A fraction as a percentage: 0.825 -> "82.5 %". */
export function formatPercent(fraction: number | null | undefined, digits = 1): string {
  if (!isNum(fraction)) return DASH;
  return `${(fraction * 100).toFixed(digits)} %`;
}

/**
 * A duration in seconds: 200 -> "3 min 20 s", 4.25 -> "4.3 s", 3720 -> "1 h 2 min",
 * 90061 -> "1 d 1 h". Two units at most; seconds are dropped from an hour on.
 */
export function formatDuration(seconds: number | null | undefined): string {
  if (!isNum(seconds) || seconds < 0) return DASH;
  if (seconds < 10) return `${seconds < 0.05 ? '0' : seconds.toFixed(1).replace(/\.0$/, '')} s`;
  let s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  return s > 0 ? `${m} min ${s} s` : `${m} min`;
}

/** Time left: "about 3 min 20 s left", or a dash when unknown. */
export function formatEta(seconds: number | null | undefined): string {
  if (!isNum(seconds) || seconds < 0) return DASH;
  if (seconds < 1) return 'almost done';
  return `about ${formatDuration(seconds)} left`;
}

/** Milliseconds for latencies: 0.42 -> "0.42 ms", 3.24 -> "3.2 ms", 15.4 -> "15 ms", 1500 -> "1.5 s". */
export function formatMs(ms: number | null | undefined): string {
  if (!isNum(ms)) return DASH;
  if (ms >= 1000) return formatDuration(ms / 1000);
  if (ms >= 10) return `${Math.round(ms)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** Large counts in words-like units: 4_386_178 -> "4.4 M", 66_955_010 -> "67 M", 950 -> "950". */
export function formatCompact(n: number | null | undefined): string {
  if (!isNum(n)) return DASH;
  const a = Math.abs(n);
  const scale = (v: number, unit: string) => `${v >= 99.95 ? Math.round(v) : v >= 9.995 ? Math.round(v) : v.toFixed(1)} ${unit}`;
  if (a >= 1e9) return scale(n / 1e9, 'B');
  if (a >= 1e6) return scale(n / 1e6, 'M');
  if (a >= 1e4) return scale(n / 1e3, 'k');
  return formatCount(n);
}

/** Parameter counts: "4.4 M parameters". */
export function formatParams(n: number | null | undefined): string {
  return isNum(n) ? `${formatCompact(n)} parameters` : 'unknown size';
}

/** A rate with its unit: bytes -> "3.2 MB/s", otherwise "1,234 sentences/s". */
export function formatRate(rate: number | null | undefined, unit: string): string {
  if (!isNum(rate) || rate <= 0) return DASH;
  if (unit === 'bytes' || unit === 'B') return `${formatBytes(rate)}/s`;
  const v = rate >= 100 ? formatCount(rate) : formatDecimal(rate, rate >= 10 ? 0 : 1);
  return `${v} ${unit}/s`;
}

/** "done of total unit": bytes as sizes ("12 MB of 255 MB"), counts grouped ("1,024 of 67,349 sentences"). */
export function formatProgress(done: number, total: number | null, unit: string): string {
  if (unit === 'bytes' || unit === 'B') return total ? `${formatBytes(done)} of ${formatBytes(total)}` : formatBytes(done);
  return total ? `${formatCount(done)} of ${formatCount(total)} ${unit}` : `${formatCount(done)} ${unit}`;
}

/** A ratio such as "15×" or "2.4×". */
export function formatRatio(r: number | null | undefined): string {
  if (!isNum(r) || r <= 0) return DASH;
  return `${r >= 10 ? Math.round(r) : r.toFixed(1)}×`;
}

/** Learning rates and other small numbers: 3e-4 -> "3e-4", 0.00025 -> "2.5e-4", 0.01 -> "0.01". */
export function formatSmall(n: number | null | undefined): string {
  if (!isNum(n)) return DASH;
  if (n === 0) return '0';
  if (Math.abs(n) >= 0.01) return formatDecimal(n, 4);
  const [mant, exp] = n.toExponential(2).split('e');
  return `${String(Number(mant))}e${Number(exp)}`;
}

/** Loss values: four significant digits. */
export function formatLoss(n: number | null | undefined): string {
  if (!isNum(n)) return DASH;
  return Math.abs(n) >= 1000 ? formatCount(n) : String(Number(n.toPrecision(4)));
}

/** A date and time in the user's locale, e.g. "12 May 2025, 14:03". */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Shortens long paths and Hub ids for headings, keeping the end: "…/models/my-teacher". */
export function shortenMiddle(s: string, max = 48): string {
  if (s.length <= max) return s;
  const keepEnd = Math.ceil(max * 0.6);
  const keepStart = max - keepEnd - 1;
  return `${s.slice(0, keepStart)}…${s.slice(s.length - keepEnd)}`;
}

/** The last path segment of a local path or Hub id. */
export function baseName(p: string): string {
  const parts = p.split(/[\\/]/).filter(Boolean);
  return parts.length ? parts[parts.length - 1] : p;
}

/** A message for anything thrown (Error, string, IPC error objects). */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return stripIpcPrefix(e.message);
  if (typeof e === 'string') return stripIpcPrefix(e);
  if (e && typeof e === 'object' && 'message' in e && typeof (e as { message: unknown }).message === 'string') {
    return stripIpcPrefix((e as { message: string }).message);
  }
  return String(e);
}

/** Electron prefixes errors thrown in handlers with "Error invoking remote method 'x': Error: ". */
function stripIpcPrefix(m: string): string {
  return m.replace(/^Error invoking remote method '[^']+': (?:[A-Za-z]*Error: )?/, '');
}

/** Human names for run statuses. */
export const STATUS_LABEL: Record<string, string> = {
  queued: 'Queued',
  running: 'Running',
  paused: 'Paused',
  completed: 'Completed',
  cancelled: 'Cancelled',
  'early-stopped': 'Stopped early',
  failed: 'Failed',
  interrupted: 'Interrupted',
};

export function formatStatus(status: string): string {
  return STATUS_LABEL[status] ?? status;
}

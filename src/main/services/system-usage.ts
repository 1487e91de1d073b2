// What the computer is busy with while a job runs, for the training monitor: CPU (the whole
// machine, from the difference of os.cpus() times between two calls), memory, and NVIDIA GPUs
// (nvidia-smi, asked at most once per second; none when it is absent or cannot answer).
import os from 'node:os';
import type { SystemUsage } from '../../shared/api';
import { execRunner, nvidiaSmiArgs, type CommandRunner } from '../../engine/hardware/nvidia-smi';

export const USAGE_GPU_FIELDS = ['name', 'utilization.gpu', 'memory.used', 'memory.total'] as const;

export type SystemGpuUsage = SystemUsage['gpus'][number];

export interface SystemUsageDeps {
  cpus?: () => Pick<os.CpuInfo, 'times'>[];
  totalmem?: () => number;
  freemem?: () => number;
  run?: CommandRunner;
  now?: () => number;
  platform?: NodeJS.Platform;
  /** How long nvidia-smi may take (ms). */
  timeoutMs?: number;
  /** How long a GPU answer is reused (ms). */
  gpuCacheMs?: number;
}

interface CpuSample {
  busy: number;
  total: number;
}

const MIB = 1024 * 1024;
const NOT_AVAILABLE = /^\[[^\]]*\]$|^N\/A$/i;

function cpuSample(cpus: Pick<os.CpuInfo, 'times'>[]): CpuSample {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/** Whole-machine CPU use between two samples, 0-100; null when no time passed between them. */
export function cpuPercentBetween(prev: CpuSample, next: CpuSample): number | null {
  const total = next.total - prev.total;
  if (!(total > 0)) return null;
  const pct = ((next.busy - prev.busy) / total) * 100;
  return Math.min(100, Math.max(0, pct));
}

/**
 * Reads `nvidia-smi --query-gpu=name,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits`
 * (memory in MiB). Lines that are not GPUs (warnings, driver errors) are skipped; a value the GPU
 * cannot report ("[N/A]", "[Not Supported]") becomes null.
 */
export function parseGpuUsage(output: string): SystemGpuUsage[] {
  const gpus: SystemGpuUsage[] = [];
  for (const raw of output.replace(/\r/g, '').split('\n')) {
    const parts = raw.split(',').map((p) => p.trim());
    if (parts.length !== USAGE_GPU_FIELDS.length) continue;
    const [name, util, used, total] = parts;
    if (!name || name.startsWith('[') || NOT_AVAILABLE.test(name)) continue;
    const num = (v: string, scale: number): number | null | false => {
      if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * scale;
      return NOT_AVAILABLE.test(v) ? null : false;
    };
    const u = num(util, 1);
    const mu = num(used, MIB);
    const mt = num(total, MIB);
    if (u === false || mu === false || mt === false) continue;
    gpus.push({ name, utilizationPercent: u === null ? null : Math.min(100, u), memoryUsedBytes: mu, memoryTotalBytes: mt });
  }
  return gpus;
}

/** Keeps the previous CPU sample and the last GPU answer between calls. */
export class SystemUsageSampler {
  private prevCpu: CpuSample | null = null;
  private lastCpuPercent = 0;
  private gpuCache: { at: number; gpus: SystemGpuUsage[] } | null = null;
  private gpuInFlight: Promise<SystemGpuUsage[]> | null = null;
  /** The nvidia-smi that answered last time; null until one did. */
  private exe: string | null = null;

  constructor(private readonly deps: SystemUsageDeps = {}) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** CPU use since the previous call (since boot on the first one). */
  cpuPercent(): number {
    const next = cpuSample((this.deps.cpus ?? os.cpus)());
    const pct = cpuPercentBetween(this.prevCpu ?? { busy: 0, total: 0 }, next);
    this.prevCpu = next;
    if (pct !== null) this.lastCpuPercent = pct;
    return this.lastCpuPercent;
  }

  /** The GPUs nvidia-smi reports, asked at most once per `gpuCacheMs`; [] when it is absent or fails. */
  async gpus(): Promise<SystemGpuUsage[]> {
    const cacheMs = this.deps.gpuCacheMs ?? 1000;
    if (this.gpuCache && this.now() - this.gpuCache.at < cacheMs) return this.gpuCache.gpus;
    if (this.gpuInFlight) return this.gpuInFlight;
    this.gpuInFlight = this.queryGpus()
      .catch(() => [] as SystemGpuUsage[])
      .then((gpus) => {
        this.gpuCache = { at: this.now(), gpus };
        return gpus;
      })
      .finally(() => {
        this.gpuInFlight = null;
      });
    return this.gpuInFlight;
  }

  private async queryGpus(): Promise<SystemGpuUsage[]> {
    const run = this.deps.run ?? execRunner;
    const timeoutMs = this.deps.timeoutMs ?? 1500;
    const platform = this.deps.platform ?? process.platform;
    const candidates = this.exe ? [this.exe] : platform === 'linux' ? ['nvidia-smi', '/usr/lib/wsl/lib/nvidia-smi'] : ['nvidia-smi'];
    for (const exe of candidates) {
      try {
        const r = await run(exe, nvidiaSmiArgs(USAGE_GPU_FIELDS), { timeoutMs });
        this.exe = exe;
        if (r.timedOut) return [];
        return parseGpuUsage(r.stdout);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return [];
      }
    }
    return [];
  }

  async sample(): Promise<SystemUsage> {
    const cpuPercent = this.cpuPercent();
    const memoryTotalBytes = (this.deps.totalmem ?? os.totalmem)();
    const free = (this.deps.freemem ?? os.freemem)();
    const gpus = await this.gpus();
    return {
      cpuPercent,
      memoryUsedBytes: Math.max(0, memoryTotalBytes - free),
      memoryTotalBytes,
      gpus,
      at: new Date(this.now()).toISOString(),
    };
  }
}

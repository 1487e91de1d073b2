import { describe, expect, it, vi } from 'vitest';
import type { CommandRunner } from '../../../src/engine/hardware/nvidia-smi';
import { parseGpuUsage, SystemUsageSampler } from '../../../src/main/services/system-usage';

const MIB = 1024 * 1024;

const cpu = (user: number, sys: number, idle: number) => ({ times: { user, nice: 0, sys, idle, irq: 0 } });

function enoent(): Error {
  return Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' });
}

describe('SystemUsageSampler', () => {
  it('computes whole-machine CPU use from the difference of two os.cpus() samples', async () => {
    const samples = [
      [cpu(100, 50, 850), cpu(200, 0, 800)],
      // +300 busy, +100 idle on core 0; +50 busy, +350 idle on core 1: 350 of 800
      [cpu(300, 150, 950), cpu(250, 0, 1150)],
      // no time passed: the previous value is kept
      [cpu(300, 150, 950), cpu(250, 0, 1150)],
    ];
    let i = 0;
    const s = new SystemUsageSampler({ cpus: () => samples[i++]!, totalmem: () => 16e9, freemem: () => 4e9, run: async () => Promise.reject(enoent()) });
    const first = await s.sample();
    expect(first.cpuPercent).toBeCloseTo((350 / 2000) * 100); // since boot
    const second = await s.sample();
    expect(second.cpuPercent).toBeCloseTo((350 / 800) * 100);
    expect((await s.sample()).cpuPercent).toBeCloseTo((350 / 800) * 100);
  });

  it('reports memory from totalmem and freemem, and the time', async () => {
    const s = new SystemUsageSampler({ cpus: () => [cpu(1, 1, 1)], totalmem: () => 16e9, freemem: () => 6e9, now: () => Date.UTC(2025, 4, 12), run: async () => Promise.reject(enoent()) });
    const u = await s.sample();
    expect(u.memoryTotalBytes).toBe(16e9);
    expect(u.memoryUsedBytes).toBe(10e9);
    expect(u.at).toBe('2025-05-12T00:00:00.000Z');
  });

  it('reads GPUs from nvidia-smi with a short timeout, and asks at most once per second', async () => {
    let now = 0;
    const run = vi.fn<CommandRunner>(async () => ({
      stdout: 'NVIDIA H200, 87, 40960, 143771\nNVIDIA GeForce RTX 5060 Ti, [N/A], 1024, 16311\n',
      stderr: '',
      exitCode: 0,
      timedOut: false,
    }));
    const s = new SystemUsageSampler({ cpus: () => [cpu(1, 1, 1)], run, now: () => now, timeoutMs: 1500 });
    const u = await s.sample();
    expect(u.gpus).toEqual([
      { name: 'NVIDIA H200', utilizationPercent: 87, memoryUsedBytes: 40960 * MIB, memoryTotalBytes: 143771 * MIB },
      { name: 'NVIDIA GeForce RTX 5060 Ti', utilizationPercent: null, memoryUsedBytes: 1024 * MIB, memoryTotalBytes: 16311 * MIB },
    ]);
    expect(run).toHaveBeenCalledWith('nvidia-smi', ['--query-gpu=name,utilization.gpu,memory.used,memory.total', '--format=csv,noheader,nounits'], { timeoutMs: 1500 });
    now = 500;
    await s.sample();
    expect(run).toHaveBeenCalledTimes(1);
    now = 1500;
    await s.sample();
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('has no GPUs when nvidia-smi is absent, times out or reports a driver error', async () => {
    const absent = new SystemUsageSampler({ cpus: () => [cpu(1, 1, 1)], platform: 'linux', run: async () => Promise.reject(enoent()) });
    expect((await absent.sample()).gpus).toEqual([]);
    const timedOut = new SystemUsageSampler({ cpus: () => [cpu(1, 1, 1)], run: async () => ({ stdout: '', stderr: '', exitCode: null, timedOut: true }) });
    expect((await timedOut.sample()).gpus).toEqual([]);
    const broken = new SystemUsageSampler({
      cpus: () => [cpu(1, 1, 1)],
      run: async () => ({ stdout: 'Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 550.144\n', stderr: '', exitCode: 18, timedOut: false }),
    });
    expect((await broken.sample()).gpus).toEqual([]);
  });

  it('tries the WSL nvidia-smi on Linux when the one on PATH is absent', async () => {
    const run = vi.fn<CommandRunner>(async (file) => {
      if (file === 'nvidia-smi') throw enoent();
      return { stdout: 'NVIDIA GeForce RTX 4090, 5, 100, 24564\n', stderr: '', exitCode: 0, timedOut: false };
    });
    const s = new SystemUsageSampler({ cpus: () => [cpu(1, 1, 1)], platform: 'linux', run });
    expect((await s.sample()).gpus.map((g) => g.name)).toEqual(['NVIDIA GeForce RTX 4090']);
    expect(run.mock.calls.map((c) => c[0])).toEqual(['nvidia-smi', '/usr/lib/wsl/lib/nvidia-smi']);
  });
});

describe('parseGpuUsage', () => {
  it('skips warnings and malformed lines, and maps unavailable values to null', () => {
    const out = 'WARNING: infoROM is corrupted at gpu 0000:01:00.0\r\nTesla T4, 0, [Not Supported], 15360\r\nbad, x, 1, 2\r\n[N/A], 1, 2, 3\r\n';
    expect(parseGpuUsage(out)).toEqual([{ name: 'Tesla T4', utilizationPercent: 0, memoryUsedBytes: null, memoryTotalBytes: 15360 * MIB }]);
    expect(parseGpuUsage('')).toEqual([]);
    expect(parseGpuUsage('No devices were found')).toEqual([]);
  });
});

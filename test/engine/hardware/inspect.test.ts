import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type si from 'systeminformation';
import { describe, expect, it } from 'vitest';
import { freeDiskBytes, inspectHardware, parseLspci, type InspectDeps } from '../../../src/engine/hardware/inspect';
import { LSPCI, fakeRunner, type SmiCase } from './fixtures';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

type Controller = si.Systeminformation.GraphicsControllerData;

/** Deps for a Linux x64 box with 8 cores and 32 GiB, nvidia-smi answering `smi`. */
function linuxBox(smi: SmiCase, more: Partial<InspectDeps> & { lspci?: string | null; controllers?: Partial<Controller>[] } = {}) {
  const run = fakeRunner({ smi, lspci: more.lspci });
  const deps: InspectDeps = {
    platform: 'linux',
    arch: 'x64',
    run,
    graphics: async () => ({ controllers: (more.controllers ?? []) as Controller[], displays: [] }),
    cpu: async () => ({ model: 'AMD Ryzen 7 7700X 8-Core Processor', cores: 16, physicalCores: 8 }),
    memory: async () => ({ totalBytes: 32 * GiB, freeBytes: 20 * GiB }),
    ...more,
  };
  return { deps, run };
}

describe('inspectHardware with recorded nvidia-smi answers', () => {
  it('RTX 5060 Ti: one NVIDIA GPU with compute capability 12.0 from nvidia-smi', async () => {
    const { deps, run } = linuxBox('rtx-5060-ti', { lspci: LSPCI.rtx5060ti });
    const h = await inspectHardware(deps);
    expect(h.platform).toBe('linux');
    expect(h.cpu).toEqual({ model: 'AMD Ryzen 7 7700X 8-Core Processor', cores: 16, physicalCores: 8 });
    expect(h.gpus).toEqual([
      {
        vendor: 'NVIDIA',
        name: 'NVIDIA GeForce RTX 5060 Ti',
        vramBytes: 16311 * MiB,
        usedBytes: 1024 * MiB,
        driver: '576.88',
        computeCapability: '12.0',
        computeCapabilitySource: 'nvidia-smi',
        architecture: 'Blackwell',
        source: 'nvidia-smi',
        index: 0,
      },
    ]); // lspci saw the same card: not listed twice
    expect(h.notes).toEqual([]);
    expect(h.nvidiaSmi).toEqual({ status: 'ok' });
    expect(run.calls[0]).toEqual({
      file: 'nvidia-smi',
      args: ['--query-gpu=index,name,compute_cap,driver_version,memory.total,memory.used', '--format=csv,noheader,nounits'],
    });
  });

  it('H100, H200 and four A100s', async () => {
    expect((await inspectHardware(linuxBox('h100').deps)).gpus[0]).toMatchObject({ name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', architecture: 'Hopper' });
    expect((await inspectHardware(linuxBox('h200').deps)).gpus[0]).toMatchObject({ name: 'NVIDIA H200', vramBytes: 143771 * MiB });
    const multi = await inspectHardware(linuxBox('multi-gpu').deps);
    expect(multi.gpus.map((g) => [g.index, g.computeCapability])).toEqual([
      [0, '8.0'],
      [1, '8.0'],
      [2, '8.0'],
      [3, '8.0'],
    ]);
  });

  it('old driver: asks again without compute_cap and fills it from the table, with a note', async () => {
    const { deps, run } = linuxBox('old-driver-no-compute-cap');
    const h = await inspectHardware(deps);
    const smiCalls = run.calls.filter((c) => c.file === 'nvidia-smi');
    expect(smiCalls.map((c) => c.args[0])).toEqual([
      '--query-gpu=index,name,compute_cap,driver_version,memory.total,memory.used',
      '--query-gpu=index,name,driver_version,memory.total,memory.used',
    ]);
    expect(h.gpus).toHaveLength(2);
    expect(h.gpus[0]).toMatchObject({ name: 'Tesla K80', computeCapability: '3.7', computeCapabilitySource: 'table', architecture: 'Kepler', driver: '470.182.03' });
    expect(h.notes.join(' ')).toMatch(/driver \(470\.182\.03\) is too old to report the GPU's compute capability, so it was looked up by the GPU's name/);
  });

  it('driver/library mismatch: no GPU from nvidia-smi, a note in plain words; lspci still names the card', async () => {
    const h = await inspectHardware(linuxBox('driver-mismatch', { lspci: LSPCI.rtx5060ti }).deps);
    expect(h.nvidiaSmi).toMatchObject({ status: 'driver-error', driverProblem: 'version-mismatch' });
    expect(h.notes[0]).toMatch(/running driver and its libraries have different versions .*restart the computer/);
    expect(h.gpus).toEqual([
      expect.objectContaining({ vendor: 'NVIDIA', name: 'NVIDIA GeForce RTX 5060 Ti', source: 'lspci', computeCapability: '12.0', computeCapabilitySource: 'table', busAddress: '01:00.0' }),
    ]);
  });

  it("couldn't communicate: a note, no GPU entry", async () => {
    const h = await inspectHardware(linuxBox('couldnt-communicate').deps);
    expect(h.gpus).toEqual([]);
    expect(h.nvidiaSmi.status).toBe('driver-error');
    expect(h.notes).toHaveLength(1);
    expect(h.notes[0]).toMatch(/NVIDIA driver is installed but not running/);
  });

  it('no devices: no GPU and no note', async () => {
    const h = await inspectHardware(linuxBox('no-devices').deps);
    expect(h.gpus).toEqual([]);
    expect(h.notes).toEqual([]);
    expect(h.nvidiaSmi.status).toBe('no-devices');
  });

  it('not installed, no lspci: nothing, quietly', async () => {
    const { deps, run } = linuxBox('not-installed', { lspci: null });
    const h = await inspectHardware(deps);
    expect(h.gpus).toEqual([]);
    expect(h.notes).toEqual([]);
    expect(h.nvidiaSmi.status).toBe('not-installed');
    // Linux also looks where WSL keeps it.
    expect(run.calls.map((c) => c.file).sort()).toEqual(['/usr/lib/wsl/lib/nvidia-smi', 'lspci', 'nvidia-smi']);
  });

  it('not installed but lspci shows an NVIDIA card: says the driver is missing', async () => {
    const h = await inspectHardware(linuxBox('not-installed', { lspci: LSPCI.intelIgpu + LSPCI.rtx5060ti }).deps);
    expect(h.gpus.map((g) => [g.vendor, g.name, g.computeCapability])).toEqual([
      ['Intel', 'Intel Iris Xe Graphics', null],
      ['NVIDIA', 'NVIDIA GeForce RTX 5060 Ti', '12.0'],
    ]);
    expect(h.notes).toEqual([
      'An NVIDIA GPU (NVIDIA GeForce RTX 5060 Ti) is installed, but the NVIDIA driver is not (nvidia-smi was not found): install the NVIDIA driver to use it for training.',
    ]);
  });

  it('adds non-NVIDIA GPUs from systeminformation, without duplicates', async () => {
    const h = await inspectHardware(
      linuxBox('rtx-5060-ti', {
        lspci: LSPCI.amd,
        controllers: [
          { vendor: 'Advanced Micro Devices, Inc. [AMD/ATI]', model: 'Navi 31 [Radeon RX 7900 XT/7900 XTX/7900 GRE/7900M]', busAddress: '03:00.0', vram: 24576, vramDynamic: false },
          { vendor: 'NVIDIA Corporation', model: 'GB206 [GeForce RTX 5060 Ti]', busAddress: '01:00.0', vram: 16311, vramDynamic: false },
        ],
      }).deps,
    );
    expect(h.gpus.map((g) => [g.vendor, g.source])).toEqual([
      ['NVIDIA', 'nvidia-smi'],
      ['AMD', 'lspci'],
    ]);
  });

  it('Windows: nvidia-smi and WMI (systeminformation); no lspci', async () => {
    const { deps, run } = linuxBox('rtx-5060-ti', {
      platform: 'win32',
      controllers: [
        { vendor: 'NVIDIA', model: 'NVIDIA GeForce RTX 5060 Ti', vram: 16384, vramDynamic: false, driverVersion: '32.0.15.7688' },
        { vendor: 'Intel Corporation', model: 'Intel(R) UHD Graphics 770', vram: 128, vramDynamic: true },
      ],
    });
    const h = await inspectHardware(deps);
    expect(h.gpus.map((g) => [g.vendor, g.name, g.source, g.vramBytes])).toEqual([
      ['NVIDIA', 'NVIDIA GeForce RTX 5060 Ti', 'nvidia-smi', 16311 * MiB],
      ['Intel', 'Intel(R) UHD Graphics 770', 'systeminformation', null],
    ]);
    expect(run.calls.map((c) => c.file)).toEqual(['nvidia-smi']);
  });

  it('macOS: no nvidia-smi at all', async () => {
    const { deps, run } = linuxBox('rtx-5060-ti', { platform: 'darwin', arch: 'arm64', controllers: [{ vendor: 'Apple', model: 'Apple M3 Pro', vramDynamic: true }] });
    const h = await inspectHardware(deps);
    expect(run.calls).toEqual([]);
    expect(h.nvidiaSmi.status).toBe('not-applicable');
    expect(h.gpus).toEqual([expect.objectContaining({ vendor: 'Apple', name: 'Apple M3 Pro', computeCapability: null })]);
  });

  it('a hanging nvidia-smi is reported, not waited for', async () => {
    const h = await inspectHardware({
      ...linuxBox('h100').deps,
      run: async (file) => {
        if (file === 'lspci') throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
        return { stdout: '', stderr: '', exitCode: null, timedOut: true };
      },
      timeoutMs: 5000,
    });
    expect(h.nvidiaSmi.status).toBe('timeout');
    expect(h.notes[0]).toMatch(/did not answer within 5 s/);
  });

  it('a GPU the table does not know gets a note, not a guess', async () => {
    const h = await inspectHardware(linuxBox('not-installed', { lspci: '01:00.0 "VGA compatible controller [0300]" "NVIDIA Corporation [10de]" "Device [2f04]" -ra1\n' }).deps);
    expect(h.gpus[0]).toMatchObject({ name: 'NVIDIA Device 2f04', computeCapability: null });
    expect(h.notes.some((n) => /compute capability of the NVIDIA Device 2f04 is not known/.test(n))).toBe(true);
  });
});

describe('parseLspci', () => {
  it('keeps display controllers only, with vendor and marketing name', () => {
    const gpus = parseLspci(LSPCI.host + LSPCI.intelIgpu + LSPCI.rtx5060ti + LSPCI.h100 + LSPCI.aspeed + LSPCI.amd);
    expect(gpus.map((g) => [g.busAddress, g.vendor, g.name, g.computeCapability])).toEqual([
      ['00:02.0', 'Intel', 'Intel Iris Xe Graphics', null],
      ['01:00.0', 'NVIDIA', 'NVIDIA GeForce RTX 5060 Ti', '12.0'],
      ['18:00.0', 'NVIDIA', 'NVIDIA H100 SXM5 80GB', '9.0'],
      ['03:00.0', 'ASPEED Technology', 'ASPEED Graphics Family', null],
      ['03:00.0', 'AMD', 'AMD Radeon RX 7900 XT/7900 XTX/7900 GRE/7900M', null],
    ]);
    expect(gpus.every((g) => g.source === 'lspci' && g.vramBytes === null)).toBe(true);
  });
});

describe('disk space and the real machine', () => {
  it('freeDiskBytes reads the nearest existing folder', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'distill-disk-'));
    try {
      const free = await freeDiskBytes(path.join(dir, 'not', 'yet', 'there'));
      expect(free).toBeGreaterThan(0);
      expect(Number.isInteger(free)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('inspects this machine without throwing', async () => {
    const h = await inspectHardware({ diskDirs: [os.tmpdir()] });
    expect(h.platform).toBe(process.platform);
    expect(h.cpu.cores).toBeGreaterThan(0);
    expect(h.cpu.physicalCores).toBeGreaterThan(0);
    expect(h.cpu.model.length).toBeGreaterThan(0);
    expect(h.memory.totalBytes).toBeGreaterThan(0);
    expect(h.memory.freeBytes).toBeLessThanOrEqual(h.memory.totalBytes);
    expect(h.disks?.[0].freeBytes).toBeGreaterThan(0);
    expect(Array.isArray(h.gpus)).toBe(true);
    for (const n of h.notes) expect(n).toMatch(/[.!:)]$/);
  });
});

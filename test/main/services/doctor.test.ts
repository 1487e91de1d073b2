// The engine's doctor report as the renderer sees it.
import { describe, expect, it } from 'vitest';
import type { DoctorReport as EngineDoctorReport } from '../../../src/engine/hardware/decide';
import { makeDoctor, toDoctorReport } from '../../../src/main/services/doctor';

const engineReport = {
  hardware: {
    platform: 'linux',
    arch: 'x64',
    cpu: { model: 'AMD Ryzen 7', cores: 16, physicalCores: 8 },
    memory: { totalBytes: 32e9, freeBytes: 20e9 },
    disks: [{ path: '/home/u/.cache/distill-studio', freeBytes: 5e11, totalBytes: 1e12 }],
    gpus: [{ vendor: 'NVIDIA', name: 'GeForce RTX 5060 Ti', vramBytes: 16e9, driver: '575.57', computeCapability: '12.0', computeCapabilitySource: 'nvidia-smi', architecture: 'Blackwell', source: 'nvidia-smi', index: 0 }],
    notes: ['lspci is not installed'],
    nvidiaSmi: { status: 'ok' },
  },
  availability: {},
  gpuPack: { state: 'not-installed', reason: 'The GPU pack is not installed.' },
  decision: { provider: 'cpu', reasons: ['Your GeForce RTX 5060 Ti needs the GPU pack.'], gpuPack: 'offer', gpu: null, deviceId: 0, verified: true, smoke: null },
  text: '',
} as unknown as EngineDoctorReport;

describe('toDoctorReport', () => {
  it('maps hardware, the cache disk, GPUs, the decision and versions', () => {
    const r = toDoctorReport(engineReport, { cacheDir: '/home/u/.cache/distill-studio', override: 'auto', versions: { app: '0.1.0' } });
    expect(r).toEqual({
      hardware: {
        platform: 'linux',
        arch: 'x64',
        cpu: { model: 'AMD Ryzen 7', cores: 16 },
        memory: { totalBytes: 32e9, freeBytes: 20e9 },
        cacheDisk: { path: '/home/u/.cache/distill-studio', freeBytes: 5e11 },
        gpus: [{ vendor: 'NVIDIA', name: 'GeForce RTX 5060 Ti', vramBytes: 16e9, driver: '575.57', computeCapability: '12.0' }],
        notes: ['lspci is not installed', 'The GPU pack is not installed.'],
      },
      decision: { provider: 'cpu', reasons: ['Your GeForce RTX 5060 Ti needs the GPU pack.'], gpuPack: 'offer', override: 'auto' },
      versions: { app: '0.1.0' },
    });
  });

  it('an unknown cache disk is null, not a guess', () => {
    expect(toDoctorReport(engineReport, { cacheDir: '/elsewhere', override: 'cpu', versions: {} }).hardware.cacheDisk).toEqual({ path: '/elsewhere', freeBytes: null });
  });
});

describe('makeDoctor', () => {
  it('asks the engine with the data folder, the cache folder and the provider setting', async () => {
    const seen: unknown[] = [];
    const doctor = makeDoctor({
      dataDir: '/data',
      cacheDir: () => '/home/u/.cache/distill-studio',
      override: () => 'cuda',
      versions: () => ({ app: '9.9.9' }),
      report: async (deps) => {
        seen.push(deps);
        return engineReport;
      },
    });
    const r = await doctor();
    expect(seen).toEqual([{ dataDir: '/data', inspect: { diskDirs: ['/home/u/.cache/distill-studio'] }, requested: 'cuda' }]);
    expect(r.decision.override).toBe('cuda');
    expect(r.versions.app).toBe('9.9.9');
    expect(r.versions['onnxruntime-node']).toMatch(/^\d+\.\d+\.\d+/);
  });
});

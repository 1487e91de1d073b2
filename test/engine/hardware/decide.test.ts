// The decision table: recorded nvidia-smi answers + availability as providerAvailability()
// reports it + fake smoke results (including the real failure texts ONNX Runtime gives).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type si from 'systeminformation';
import { afterAll, describe, expect, it } from 'vitest';
import { ORT_CUDA12_LINUX_X64, type CudaBuildSupport } from '../../../src/engine/hardware/cuda-support';
import { decideProvider, doctorReport, type DecideInput, type Decision, type SmokeRunner } from '../../../src/engine/hardware/decide';
import { inspectHardware, type HardwareInfo } from '../../../src/engine/hardware/inspect';
import {
  CUDA_PROVIDER_LIB,
  ProviderError,
  SHARED_PROVIDER_LIB,
  explainFailure,
  providerAvailability,
  type Availability,
  type ProviderName,
  type SmokeResult,
} from '../../../src/engine/runtime/providers';
import type { GpuInfo as SharedGpuInfo, ProviderDecision } from '../../../src/shared/api';
import { LSPCI, fakeRunner, type SmiCase } from './fixtures';

const GiB = 1024 ** 3;

async function machine(
  smi: SmiCase,
  opts: { platform?: NodeJS.Platform; arch?: string; lspci?: string | null; controllers?: Partial<si.Systeminformation.GraphicsControllerData>[]; smiText?: string } = {},
): Promise<HardwareInfo> {
  const run = fakeRunner({ smi, lspci: opts.lspci ?? null });
  return inspectHardware({
    platform: opts.platform ?? 'linux',
    arch: opts.arch ?? 'x64',
    run: opts.smiText
      ? async (file) => {
          if (file === 'lspci') throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
          return { stdout: opts.smiText!, stderr: '', exitCode: 0, timedOut: false };
        }
      : run,
    graphics: async () => ({ controllers: (opts.controllers ?? []) as si.Systeminformation.GraphicsControllerData[], displays: [] }),
    cpu: async () => ({ model: 'AMD Ryzen 7 7700X 8-Core Processor', cores: 16, physicalCores: 8 }),
    memory: async () => ({ totalBytes: 32 * GiB, freeBytes: 20 * GiB }),
  });
}

/** Availability exactly as providerAvailability() words it, for a pack that is there or not. */
function availability(pack: 'installed' | 'missing' | 'incomplete' | 'no-cuda-build', platform: NodeJS.Platform = 'linux', arch = 'x64'): Availability {
  const dir = '/opt/distill/ort-bin';
  const files = pack === 'installed' ? [CUDA_PROVIDER_LIB, SHARED_PROVIDER_LIB] : pack === 'incomplete' ? [CUDA_PROVIDER_LIB] : [];
  return providerAvailability({
    platform,
    arch,
    ortBinDir: dir,
    exists: (f) => files.some((n) => f === path.join(dir, n)),
    supportedBackends: () => (pack === 'no-cuda-build' ? ['cpu'] : platform === 'win32' ? ['cpu', 'dml'] : ['cpu', 'cuda']),
  });
}

const RAW = {
  noKernel:
    "Non-zero status code returned while running MatMul node. Name:'mm' Status Message: CUDA error cudaErrorNoKernelImageForDevice:no kernel image is available for execution on the device",
  cudnn:
    "Failed to load library libonnxruntime_providers_cuda.so with error: libcudnn.so.9: cannot open shared object file: No such file or directory",
  driver: 'CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version ; GPU=0 ; hostname=box',
};

const fail = (provider: ProviderName, stage: 'session' | 'run', raw: string) =>
  new ProviderError(stage === 'session' ? 'session-failed' : 'run-failed', provider, explainFailure(provider, stage, raw), raw);

/** Smoke results per provider; records the calls. */
function smokes(results: Partial<Record<ProviderName, 'pass' | Error>>): SmokeRunner & { calls: { provider: ProviderName; deviceId: number }[] } {
  const calls: { provider: ProviderName; deviceId: number }[] = [];
  const fn = (async (provider: ProviderName, { deviceId }: { deviceId: number }): Promise<SmokeResult> => {
    calls.push({ provider, deviceId });
    const r = results[provider] ?? (provider === 'cpu' ? 'pass' : new Error(`no fake smoke result for ${provider}`));
    if (r instanceof Error) throw r;
    return { ok: true, provider, ms: 42, maxDiff: 1e-7 };
  }) as unknown as SmokeRunner & { calls: typeof calls };
  fn.calls = calls;
  return fn;
}

async function decide(
  hardware: HardwareInfo,
  avail: Availability,
  smoke: SmokeRunner,
  extra: Partial<DecideInput> = {},
): Promise<Decision> {
  return decideProvider({ hardware, availability: avail, requested: 'auto', smoke, ...extra });
}

describe('decideProvider: NVIDIA on Linux x64 (auto)', () => {
  it('RTX 5060 Ti, pack installed, smoke passes: the GPU, with the sentence that says so', async () => {
    const smoke = smokes({ cuda: 'pass' });
    const d = await decide(await machine('rtx-5060-ti'), availability('installed'), smoke);
    expect(d).toMatchObject({ provider: 'cuda', gpuPack: 'installed', verified: true, deviceId: 0, capability: 'native' });
    expect(d.reasons).toEqual(['Your NVIDIA GeForce RTX 5060 Ti (compute capability 12.0, Blackwell) is supported and passed a test run: training will use the GPU.']);
    expect(smoke.calls).toEqual([{ provider: 'cuda', deviceId: 0 }]);
    expect(d.override).toBe('auto');
    expect(d.overrideHonoured).toBeUndefined();
  });

  it('a Decision and its GPU fit the shared API contract (src/shared/api.ts) as they are', async () => {
    const d = await decide(await machine('rtx-5060-ti'), availability('installed'), smokes({ cuda: 'pass' }));
    const shared: ProviderDecision = d;
    const gpu: SharedGpuInfo = d.gpu!;
    expect(shared).toMatchObject({ provider: 'cuda', gpuPack: 'installed', override: 'auto' });
    expect(gpu.computeCapability).toBe('12.0');
  });

  it('RTX 5060 Ti, pack missing: the CPU for now, and offer the pack with its size', async () => {
    const smoke = smokes({});
    const d = await decide(await machine('rtx-5060-ti'), availability('missing'), smoke, { gpuPack: { installed: false, downloadBytes: 312_000_000 } });
    expect(d).toMatchObject({ provider: 'cpu', gpuPack: 'offer', verified: true });
    expect(d.reasons).toEqual([
      'Your NVIDIA GeForce RTX 5060 Ti (compute capability 12.0, Blackwell) can speed up training, but it needs the GPU pack (CUDA provider files, about 312 MB): download it from Settings, or keep using the CPU.',
      'Until then, training will use the CPU (8 cores).',
    ]);
    expect(smoke.calls.map((c) => c.provider)).toEqual(['cpu']); // nothing to test on the GPU yet
  });

  it('pack missing and size unknown: "a few hundred MB"; an incomplete pack says so', async () => {
    const d = await decide(await machine('h100'), availability('missing'), smokes({}));
    expect(d.reasons[0]).toMatch(/needs the GPU pack \(CUDA provider files, a few hundred MB\): download it from Settings, or keep using the CPU\.$/);
    const inc = await decide(await machine('h100'), availability('incomplete'), smokes({}), { gpuPack: { installed: true } });
    expect(inc.gpuPack).toBe('offer');
    expect(inc.reasons[0]).toMatch(/which is incomplete: download it from Settings/);
  });

  it('pack installed but cuDNN missing: the CPU, with the loader message in plain words', async () => {
    const d = await decide(await machine('rtx-5060-ti'), availability('installed'), smokes({ cuda: fail('cuda', 'session', RAW.cudnn) }));
    expect(d).toMatchObject({ provider: 'cpu', gpuPack: 'installed', verified: true });
    expect(d.reasons).toEqual([
      'Your NVIDIA GeForce RTX 5060 Ti (compute capability 12.0, Blackwell) did not pass a test run with CUDA.',
      'The CUDA provider could not load libcudnn.so.9: install cuDNN 9 or keep using the CPU.',
      'Training will use the CPU (8 cores).',
    ]);
    expect(d.failure?.error.code).toBe('session-failed');
  });

  it("a provider that starts but fails at run() with 'no kernel image': the CPU with that reason", async () => {
    const d = await decide(await machine('rtx-5060-ti'), availability('installed'), smokes({ cuda: fail('cuda', 'run', RAW.noKernel) }));
    expect(d.provider).toBe('cpu');
    expect(d.failure?.error.code).toBe('run-failed');
    expect(d.reasons[1]).toMatch(/compute capability is not supported by this ONNX Runtime build \(no kernel image\), so CUDA cannot run on this GPU; use the CPU instead\./);
    expect(d.reasons[2]).toBe('Training will use the CPU (8 cores).');
  });

  it('a driver too old for the CUDA 13 pack: update the driver (no GPU test that would fail anyway)', async () => {
    const smoke = smokes({ cuda: 'pass' });
    const d = await decide(await machine('h100'), availability('installed'), smoke, { gpuPack: { installed: true, cudaMajor: 13 } });
    expect(d).toMatchObject({ provider: 'cpu', gpuPack: 'installed' });
    expect(d.reasons[0]).toBe(
      'Your NVIDIA H100 80GB HBM3 (compute capability 9.0, Hopper) needs a newer NVIDIA driver for the CUDA 13 build of ONNX Runtime: version 580 or newer is required and 550.54.15 is installed. Update the NVIDIA driver, or keep using the CPU.',
    );
    expect(smoke.calls.map((c) => c.provider)).toEqual(['cpu']);
  });

  it('the same H100 with the CUDA 12 pack: the GPU', async () => {
    const d = await decide(await machine('h100'), availability('installed'), smokes({ cuda: 'pass' }), { gpuPack: { installed: true, cudaMajor: 12 } });
    expect(d.provider).toBe('cuda');
  });

  it('H200: the GPU', async () => {
    const d = await decide(await machine('h200'), availability('installed'), smokes({ cuda: 'pass' }));
    expect(d.reasons[0]).toBe('Your NVIDIA H200 (compute capability 9.0, Hopper) is supported and passed a test run: training will use the GPU.');
  });

  it('four A100s: one is used, and the reasons say which', async () => {
    const smoke = smokes({ cuda: 'pass' });
    const d = await decide(await machine('multi-gpu'), availability('installed'), smoke);
    expect(d.provider).toBe('cuda');
    expect(d.reasons).toContain('This computer has 4 NVIDIA GPUs; training uses one: GPU 0 (NVIDIA A100-SXM4-80GB).');
    expect(smoke.calls[0]).toEqual({ provider: 'cuda', deviceId: 0 });
  });

  it('an old display GPU next to a new one: the supported one is tested and used', async () => {
    const hw = await machine('rtx-5060-ti', {
      smiText: '0, NVIDIA GeForce GTX 750 Ti, 5.0, 570.133.07, 2048, 300\n1, NVIDIA GeForce RTX 4090, 8.9, 570.133.07, 24564, 3\n',
    });
    const smoke = smokes({ cuda: 'pass' });
    const d = await decide(hw, availability('installed'), smoke);
    expect(d).toMatchObject({ provider: 'cuda', deviceId: 1 });
    expect(d.gpu?.name).toBe('NVIDIA GeForce RTX 4090');
    expect(smoke.calls[0]).toEqual({ provider: 'cuda', deviceId: 1 });
  });

  it('Kepler (Tesla K80, old driver, capability from the table): too old, the CPU, no pack offered', async () => {
    const smoke = smokes({});
    const d = await decide(await machine('old-driver-no-compute-cap'), availability('missing'), smoke);
    expect(d).toMatchObject({ provider: 'cpu', gpuPack: 'not-needed', capability: 'too-old' });
    expect(d.reasons).toEqual([
      'Your Tesla K80 (compute capability 3.7, Kepler) is too old for the CUDA build of ONNX Runtime, which needs compute capability 5.0 or newer: training will use the CPU (8 cores).',
      'This computer has 2 NVIDIA GPUs; training uses one: GPU 0 (Tesla K80).',
    ]);
    expect(smoke.calls.map((c) => c.provider)).toEqual(['cpu']);
  });

  it('a supported GPU on a driver too old for any CUDA 12 build: update the driver', async () => {
    // Driver 470 rejects compute_cap; the retry names the card and the table gives 8.6.
    const retry = await inspectHardware({
      platform: 'linux',
      arch: 'x64',
      run: async (file, args) => {
        if (file === 'lspci') throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
        const stdout = args[0].includes('compute_cap') ? 'Field "compute_cap" is not a valid field to query.\n\n' : '0, NVIDIA GeForce RTX 3080, 470.182.03, 10240, 200\n';
        return { stdout, stderr: '', exitCode: args[0].includes('compute_cap') ? 2 : 0, timedOut: false };
      },
      graphics: async () => null,
      cpu: async () => ({ model: 'x', cores: 8, physicalCores: 8 }),
      memory: async () => ({ totalBytes: GiB, freeBytes: GiB }),
    });
    const d = await decide(retry, availability('missing'), smokes({}));
    expect(d.gpuPack).toBe('offer');
    expect(d.reasons[0]).toBe(
      'Your NVIDIA GeForce RTX 3080 (compute capability 8.6, Ampere) needs a newer NVIDIA driver for the CUDA build of ONNX Runtime: version 525 or newer is required and 470.182.03 is installed. Update the NVIDIA driver, or keep using the CPU.',
    );
  });

  it('Maxwell with the CUDA 12 table, pack missing: not supported, nothing to download', async () => {
    const hw = await machine('h100', { smiText: '0, NVIDIA GeForce GTX 970, 5.2, 535.183.01, 4096, 1\n' });
    const d = await decide(hw, availability('missing'), smokes({}), { supportedComputeCapabilities: ORT_CUDA12_LINUX_X64 });
    expect(d).toMatchObject({ provider: 'cpu', gpuPack: 'not-needed', capability: 'no-kernels' });
    expect(d.reasons[0]).toBe(
      'Your NVIDIA GeForce GTX 970 (compute capability 5.2, Maxwell) is not supported by the CUDA 12 build of ONNX Runtime: it has GPU code for compute capability 6.0 to 9.0 and 12.0 only. Training will use the CPU (8 cores).',
    );
  });

  it('Maxwell with the pack installed: the smoke test still decides, and its failure is explained with the prediction', async () => {
    const hw = await machine('h100', { smiText: '0, NVIDIA GeForce GTX 970, 5.2, 535.183.01, 4096, 1\n' });
    const smoke = smokes({ cuda: fail('cuda', 'run', RAW.noKernel) });
    const d = await decide(hw, availability('installed'), smoke, { supportedComputeCapabilities: ORT_CUDA12_LINUX_X64 });
    expect(smoke.calls.map((c) => c.provider)).toEqual(['cuda', 'cpu']);
    expect(d.provider).toBe('cpu');
    expect(d.reasons[0]).toBe(
      'Your NVIDIA GeForce GTX 970 (compute capability 5.2, Maxwell) did not pass a test run with CUDA (the CUDA 12 build of ONNX Runtime has GPU code for compute capability 6.0 to 9.0 and 12.0 only).',
    );
  });

  it('a GPU only the PTX of a build covers: used, with a word about the slow first start', async () => {
    const ptxBuild: CudaBuildSupport = { ...ORT_CUDA12_LINUX_X64, sass: ['8.0'], ptx: ['9.0'] };
    const d = await decide(await machine('rtx-5060-ti'), availability('installed'), smokes({ cuda: 'pass' }), { supportedComputeCapabilities: ptxBuild });
    expect(d).toMatchObject({ provider: 'cuda', capability: 'jit' });
    expect(d.reasons[1]).toMatch(/first run may take a few extra minutes/);
  });

  it('a GPU the table does not know: offered the pack, "a test run after the download will tell"', async () => {
    const hw = await machine('h100', { smiText: '0, NVIDIA Graphics Device, [N/A], 580.65.06, 32607, 0\n' });
    const d = await decide(hw, availability('missing'), smokes({}));
    expect(d).toMatchObject({ gpuPack: 'offer', capability: 'unknown' });
    expect(d.reasons[0]).toMatch(/^Your NVIDIA Graphics Device may be able to speed up training \(a test run after the download will tell\), but it needs the GPU pack/);
  });

  it('an unexpected exception from the smoke test is reported, not thrown', async () => {
    const d = await decide(await machine('h200'), availability('installed'), smokes({ cuda: new TypeError('boom') }));
    expect(d.provider).toBe('cpu');
    expect(d.reasons[1]).toBe('The test run with CUDA failed unexpectedly (boom): keep using the CPU, and please report this.');
  });

  it('an ONNX Runtime without CUDA: the CPU, nothing to download', async () => {
    const d = await decide(await machine('h200'), availability('no-cuda-build'), smokes({}));
    expect(d).toMatchObject({ provider: 'cpu', gpuPack: 'not-needed' });
    expect(d.reasons).toEqual(['This ONNX Runtime build has no CUDA support.', 'Training will use the CPU (8 cores).']);
  });
});

describe('decideProvider: no usable NVIDIA GPU', () => {
  it('no GPU at all', async () => {
    const d = await decide(await machine('no-devices'), availability('missing'), smokes({}));
    expect(d).toMatchObject({ provider: 'cpu', gpuPack: 'not-needed', gpu: null, verified: true });
    expect(d.reasons).toEqual(['No NVIDIA GPU was found: training will use the CPU (8 cores).']);
  });

  it('nvidia-smi not installed, an AMD card: says why the AMD card is not used', async () => {
    const d = await decide(await machine('not-installed', { lspci: LSPCI.amd + LSPCI.aspeed }), availability('missing'), smokes({}));
    expect(d.reasons).toEqual([
      'No NVIDIA GPU was found: training will use the CPU (8 cores).',
      'The AMD Radeon RX 7900 XT/7900 XTX/7900 GRE/7900M cannot be used for training on Linux: Distill Studio uses NVIDIA GPUs there.',
    ]);
  });

  it("the driver can't be reached: the driver's problem first, then the CPU", async () => {
    const d = await decide(await machine('couldnt-communicate'), availability('installed'), smokes({ cuda: 'pass' }));
    expect(d.provider).toBe('cpu');
    expect(d.reasons[0]).toMatch(/^The NVIDIA driver is installed but not running/);
    expect(d.reasons[1]).toBe('No usable NVIDIA GPU was found: training will use the CPU (8 cores).');
  });

  it('driver/library mismatch with the card visible to lspci: restart first, no test on a broken driver', async () => {
    const smoke = smokes({ cuda: 'pass' });
    const d = await decide(await machine('driver-mismatch', { lspci: LSPCI.rtx5060ti }), availability('installed'), smoke);
    expect(d.provider).toBe('cpu');
    expect(d.gpu?.name).toBe('NVIDIA GeForce RTX 5060 Ti');
    expect(d.reasons[0]).toMatch(/different versions .*restart the computer, then the GPU can be used\.$/);
    expect(d.reasons[1]).toBe('Until the driver works, training will use the CPU (8 cores).');
    expect(smoke.calls.map((c) => c.provider)).toEqual(['cpu']);
  });

  it('macOS', async () => {
    const hw = await machine('not-installed', { platform: 'darwin', arch: 'arm64', controllers: [{ vendor: 'Apple', model: 'Apple M3 Pro', vramDynamic: true }] });
    const d = await decide(hw, availability('missing', 'darwin', 'arm64'), smokes({}));
    expect(d.reasons).toEqual(['No NVIDIA GPU was found: training will use the CPU (8 cores).', 'Training on the GPU is not available on macOS.']);
  });

  it('a broken CPU runtime is reported (verified: false) rather than thrown', async () => {
    const mismatch = new ProviderError('mismatch', 'cpu', 'The CPU results of a tiny test model are wrong: ONNX Runtime is not working correctly on this computer; please report this.');
    const d = await decide(await machine('no-devices'), availability('missing'), smokes({ cpu: mismatch }));
    expect(d).toMatchObject({ provider: 'cpu', verified: false });
    expect(d.reasons).toContain(mismatch.message);
  });
});

describe('decideProvider: Windows (DirectML)', () => {
  const win = () => machine('rtx-5060-ti', { platform: 'win32', controllers: [{ vendor: 'NVIDIA', model: 'NVIDIA GeForce RTX 5060 Ti', vram: 16384 }] });

  it('auto on Windows tests DirectML on the GPU', async () => {
    const smoke = smokes({ dml: 'pass' });
    const d = await decide(await win(), availability('missing', 'win32'), smoke);
    expect(d).toMatchObject({ provider: 'dml', gpuPack: 'not-needed', verified: true });
    expect(d.reasons).toEqual(['Your NVIDIA GeForce RTX 5060 Ti passed a test run with DirectML: training will use the GPU.']);
    expect(smoke.calls).toEqual([{ provider: 'dml', deviceId: 0 }]);
  });

  it('DirectML failing falls back to the CPU with its reason', async () => {
    const err = fail('dml', 'session', 'DXGI_ERROR_UNSUPPORTED (0x887A0004)');
    const d = await decide(await win(), availability('missing', 'win32'), smokes({ dml: err }));
    expect(d.provider).toBe('cpu');
    expect(d.reasons).toEqual([
      'Your NVIDIA GeForce RTX 5060 Ti did not pass a test run with DirectML.',
      err.message,
      'Training will use the CPU (8 cores).',
    ]);
  });
});

describe('decideProvider: explicit requests', () => {
  it("'cpu' is honoured without testing the GPU, and mentions a GPU that could be used", async () => {
    const smoke = smokes({ cuda: 'pass' });
    const d = await decideProvider({ hardware: await machine('rtx-5060-ti'), availability: availability('installed'), requested: 'cpu', smoke });
    expect(d).toMatchObject({ provider: 'cpu', override: 'cpu', overrideHonoured: true, gpuPack: 'installed' });
    expect(d.reasons).toEqual(['You chose the CPU: training will use the CPU (8 cores).', 'Your NVIDIA GeForce RTX 5060 Ti could be used instead: choose Automatic to test it.']);
    expect(smoke.calls.map((c) => c.provider)).toEqual(['cpu']);
  });

  it("'cuda' without an NVIDIA GPU is not honoured, and says so", async () => {
    const d = await decideProvider({ hardware: await machine('no-devices'), availability: availability('installed'), requested: 'cuda', smoke: smokes({}) });
    expect(d).toMatchObject({ provider: 'cpu', override: 'cuda', overrideHonoured: false });
    expect(d.reasons[0]).toBe('You asked for CUDA, but no NVIDIA GPU was found: training will use the CPU (8 cores).');
  });

  it("'cuda' on a GPU predicted too old is still put to the test when the pack is there", async () => {
    const smoke = smokes({ cuda: fail('cuda', 'run', RAW.noKernel) });
    const d = await decideProvider({ hardware: await machine('old-driver-no-compute-cap'), availability: availability('installed'), requested: 'cuda', smoke });
    expect(smoke.calls[0]).toEqual({ provider: 'cuda', deviceId: 0 });
    expect(d).toMatchObject({ provider: 'cpu', override: 'cuda', overrideHonoured: false });
    expect(d.reasons[0]).toMatch(/^You asked for CUDA, but your Tesla K80 \(compute capability 3\.7, Kepler\) did not pass a test run with CUDA/);
  });

  it("'cuda' that works is honoured", async () => {
    const d = await decideProvider({ hardware: await machine('h200'), availability: availability('installed'), requested: 'cuda', smoke: smokes({ cuda: 'pass' }) });
    expect(d).toMatchObject({ provider: 'cuda', override: 'cuda', overrideHonoured: true });
  });

  it("'dml' on Linux: the CPU, with availability's reason", async () => {
    const d = await decideProvider({ hardware: await machine('h200'), availability: availability('installed'), requested: 'dml', smoke: smokes({}) });
    expect(d).toMatchObject({ provider: 'cpu', override: 'dml', overrideHonoured: false });
    expect(d.reasons[0]).toBe('You asked for DirectML, but DirectML is only available on Windows; this computer runs Linux.');
  });

  it("'cuda' on Windows: CUDA is Linux-only here", async () => {
    const hw = await machine('rtx-5060-ti', { platform: 'win32' });
    const d = await decideProvider({ hardware: hw, availability: availability('missing', 'win32'), requested: 'cuda', smoke: smokes({}) });
    expect(d).toMatchObject({ provider: 'cpu', gpuPack: 'not-needed', overrideHonoured: false });
    expect(d.reasons[0]).toBe('You asked for CUDA, but CUDA is only supported on Linux (x64) in Distill Studio; this computer runs Windows.');
  });

  it('an unknown request throws', async () => {
    await expect(decideProvider({ hardware: await machine('h200'), availability: availability('installed'), requested: 'tpu' as never, smoke: smokes({}) })).rejects.toThrow(
      /unknown execution provider 'tpu'/,
    );
  });
});

describe('doctorReport', () => {
  const temp = mkdtempSync(path.join(os.tmpdir(), 'distill-doctor-'));
  afterAll(() => rmSync(temp, { recursive: true, force: true }));

  it('on this machine: a real inspection, a real CPU smoke test, reasons in the text', async () => {
    const r = await doctorReport({ dataDir: temp });
    expect(r.decision.reasons.length).toBeGreaterThan(0);
    for (const reason of r.decision.reasons) expect(reason).toMatch(/^[A-Z(].*[.)]$/);
    expect(r.decision.verified).toBe(true);
    expect(r.decision.smoke?.ok).toBe(true);
    if (!r.hardware.gpus.some((g) => g.vendor === 'NVIDIA')) {
      expect(r.decision.provider).toBe('cpu');
      expect(r.decision.reasons[0]).toMatch(/training will use the CPU \(\d+ cores?\)/);
    }
    expect(r.gpuPack?.state).toMatch(/not-installed|external|unsupported-platform/);
    expect(r.text).toContain('Distill Studio doctor');
    expect(r.text).toContain(`Processor:    ${r.hardware.cpu.model}`);
    expect(r.text).toMatch(/Decision:\s+CPU \(test run passed in \d+ ms\)/);
    expect(r.text).toContain(`Why:\n  - ${r.decision.reasons[0]}`);
    expect(r.text).toContain('GPU pack:');
  });

  it('with a recorded GPU: the GPU line, the pack, the decision and why', async () => {
    const hardware = await machine('rtx-5060-ti');
    const r = await doctorReport({ hardware, availability: availability('missing'), smoke: smokes({}) });
    expect(r.decision.gpuPack).toBe('offer');
    expect(r.text).toContain('GPUs:         [0] NVIDIA GeForce RTX 5060 Ti, compute capability 12.0 (Blackwell), 15.9 GiB memory, driver 576.88 (nvidia-smi)');
    expect(r.text).toContain('Decision:     CPU (test run passed in 42 ms); the GPU pack can be downloaded');
    expect(r.text).toContain('  - Until then, training will use the CPU (8 cores).');
  });

  it('a failed GPU test shows its raw details for bug reports', async () => {
    const r = await doctorReport({ hardware: await machine('rtx-5060-ti'), availability: availability('installed'), smoke: smokes({ cuda: fail('cuda', 'run', RAW.noKernel) }) });
    expect(r.text).toContain('Details (for a bug report):');
    expect(r.text).toContain('cudaErrorNoKernelImageForDevice');
  });
});

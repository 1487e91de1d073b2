import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  CUDA_PROVIDER_LIB,
  SHARED_PROVIDER_LIB,
  ProviderError,
  chooseProvider,
  defaultOrtBinDir,
  explainFailure,
  explainKnownFailure,
  ortCreateSession,
  providerAvailability,
  sessionOptionsFor,
  smokeTest,
  type Availability,
  type CreateSession,
  type ProviderName,
  type ProviderSession,
} from '../../../src/engine/runtime/providers';
import { erf, smokeModel } from '../../../src/engine/runtime/smoke-model';

const linuxX64 = process.platform === 'linux' && process.arch === 'x64';

/** Availability with the given GPU providers marked usable (for injected fake sessions). */
function availableAs(...ps: ProviderName[]): Availability {
  const st = (p: ProviderName) => ({ provider: p, available: p === 'cpu' || ps.includes(p), reason: `test says ${p}` });
  return { cpu: st('cpu'), cuda: st('cuda'), dml: st('dml') };
}

function epName(options: ort.InferenceSession.SessionOptions): string {
  const ep = options.executionProviders?.[0];
  return typeof ep === 'string' ? ep : (ep?.name ?? 'cpu');
}

interface FakeBehaviour {
  failCreate?: string;
  failRun?: string;
  /** Added to every output value. */
  perturb?: number;
  /** Replace outputs with NaN. */
  nan?: boolean;
}

/**
 * A session factory: providers listed in `fakes` get a fake built on a real CPU session
 * (so "working" fakes return real numbers); the rest get real ONNX Runtime sessions.
 */
function factory(fakes: Partial<Record<ProviderName, FakeBehaviour>>) {
  const log = { created: [] as string[], released: [] as string[], options: [] as ort.InferenceSession.SessionOptions[] };
  const create: CreateSession = async (bytes, options) => {
    const name = epName(options) as ProviderName;
    log.options.push(options);
    const fake = fakes[name];
    if (!fake) {
      const s = await ortCreateSession(bytes, options);
      log.created.push(name);
      return { run: (f) => s.run(f), release: async () => { log.released.push(name); await s.release?.(); } };
    }
    if (fake.failCreate) throw new Error(fake.failCreate);
    const real = await ortCreateSession(bytes, sessionOptionsFor('cpu'));
    log.created.push(name);
    const session: ProviderSession = {
      async run(feeds) {
        if (fake.failRun) throw new Error(fake.failRun);
        const out = await real.run(feeds);
        const res: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
        for (const [k, v] of Object.entries(out)) {
          const data = Float32Array.from(v.data as Float32Array, (x) => (fake.nan ? NaN : x + (fake.perturb ?? 0)));
          res[k] = { data, dims: v.dims };
        }
        return res;
      },
      async release() {
        log.released.push(name);
        await real.release?.();
      },
    };
    return session;
  };
  return { create, log };
}

async function rejection(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ProviderError);
    return e as ProviderError;
  }
  throw new Error('expected a ProviderError, but the promise resolved');
}

const NO_KERNEL =
  '[ONNXRuntimeError] : 1 : FAIL : CUDA error cudaErrorNoKernelImageForDevice:no kernel image is available for execution on the device';
const NO_CUDNN =
  'Failed to load library libonnxruntime_providers_cuda.so with error: libcudnn.so.9: cannot open shared object file: No such file or directory';

describe('sessionOptionsFor', () => {
  it('lists only the chosen provider, with threads and full optimisation', () => {
    expect(sessionOptionsFor('cpu', { threads: 2 })).toEqual({ executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
    expect(sessionOptionsFor('cuda')).toEqual({ executionProviders: [{ name: 'cuda', deviceId: 0 }], graphOptimizationLevel: 'all' });
    expect(sessionOptionsFor('dml', { deviceId: 1, threads: 4 })).toEqual({
      executionProviders: [{ name: 'dml', deviceId: 1 }],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: 4,
    });
  });

  it('rejects bad numbers', () => {
    expect(() => sessionOptionsFor('cpu', { threads: 0 })).toThrow(/threads/);
    expect(() => sessionOptionsFor('cpu', { threads: 1.5 })).toThrow(/threads/);
    expect(() => sessionOptionsFor('cuda', { deviceId: -1 })).toThrow(/deviceId/);
    expect(() => sessionOptionsFor('tpu' as ProviderName)).toThrow(/unknown execution provider/);
  });
});

describe('providerAvailability', () => {
  it.runIf(linuxX64)('on this Linux box: CPU yes, CUDA no because the provider library is missing, DirectML no', () => {
    const binDir = defaultOrtBinDir();
    expect(binDir).toMatch(/onnxruntime-node[\\/]bin[\\/]napi-v6[\\/]linux[\\/]x64$/);
    const a = providerAvailability();
    expect(a.cpu).toEqual({ provider: 'cpu', available: true, reason: 'The CPU is always available.' });
    expect(a.cuda.available).toBe(false);
    expect(a.cuda.reason).toBe(
      `The GPU pack is not installed: the CUDA provider library (libonnxruntime_providers_cuda.so) was not found in ${binDir}.`,
    );
    expect(a.dml).toEqual({ provider: 'dml', available: false, reason: 'DirectML is only available on Windows; this computer runs Linux.' });
  });

  it('names every folder it looked in, and finds a GPU pack in an extra folder', () => {
    const files = new Set<string>();
    const base = { platform: 'linux' as const, arch: 'x64', ortBinDir: '/ort/bin', extraDirs: ['/data/gpu-pack'], exists: (f: string) => files.has(f), supportedBackends: () => ['cpu', 'cuda'] };
    expect(providerAvailability(base).cuda.reason).toBe(
      'The GPU pack is not installed: the CUDA provider library (libonnxruntime_providers_cuda.so) was not found in /ort/bin or /data/gpu-pack.',
    );
    files.add(path.join('/data/gpu-pack', CUDA_PROVIDER_LIB));
    expect(providerAvailability(base).cuda).toMatchObject({ available: false, reason: expect.stringMatching(/GPU pack is incomplete: .*libonnxruntime_providers_shared\.so is missing/) });
    files.add(path.join('/data/gpu-pack', SHARED_PROVIDER_LIB));
    expect(providerAvailability(base).cuda).toEqual({
      provider: 'cuda',
      available: true,
      reason: `The CUDA provider library was found in ${path.join('/data/gpu-pack')}.`,
      libraryDir: '/data/gpu-pack',
    });
  });

  it('explains platform, processor and build limits', () => {
    const none = () => false;
    const win = providerAvailability({ platform: 'win32', arch: 'x64', exists: none, supportedBackends: () => ['cpu', 'dml'] });
    expect(win.cuda).toMatchObject({ available: false, reason: 'CUDA is only supported on Linux (x64) in Distill Studio; this computer runs Windows.' });
    expect(win.dml.available).toBe(true);
    const winNoDml = providerAvailability({ platform: 'win32', arch: 'arm64', exists: none, supportedBackends: () => ['cpu'] });
    expect(winNoDml.dml).toMatchObject({ available: false, reason: 'This ONNX Runtime build has no DirectML support.' });
    const arm = providerAvailability({ platform: 'linux', arch: 'arm64', exists: () => true, supportedBackends: () => ['cpu', 'cuda'] });
    expect(arm.cuda.reason).toBe("CUDA is only supported on x64 processors; this computer's processor is arm64.");
    const mac = providerAvailability({ platform: 'darwin', arch: 'arm64', exists: none });
    expect(mac.cuda.reason).toMatch(/this computer runs macOS/);
    expect(mac.dml.reason).toBe('DirectML is only available on Windows; this computer runs macOS.');
    const noCuda = providerAvailability({ platform: 'linux', arch: 'x64', exists: () => true, supportedBackends: () => ['cpu'] });
    expect(noCuda.cuda).toMatchObject({ available: false, reason: 'This ONNX Runtime build has no CUDA support.' });
  });
});

describe('smoke model', () => {
  it('has an accurate float64 reference', () => {
    expect(erf(0)).toBe(0);
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(-1)).toBeCloseTo(-0.8427007929497149, 14);
    expect(erf(2.4)).toBeCloseTo(0.999311486103355, 14);
    expect(erf(3)).toBeCloseTo(0.9999779095030014, 14);
    const m = smokeModel();
    expect(m.dims).toEqual([8, 64]);
    const probs = m.reference.probs;
    for (let r = 0; r < 8; r++) expect(probs.slice(r * 64, r * 64 + 64).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // The model is not degenerate: hidden values spread over (-1, 1), probabilities are not uniform.
    expect(Math.max(...m.reference.hidden)).toBeGreaterThan(0.8);
    expect(Math.min(...m.reference.hidden)).toBeLessThan(-0.8);
    expect(Math.max(...probs)).toBeGreaterThan(0.1);
  });
});

describe('smokeTest', () => {
  it('really runs the model on the CPU and matches the float64 reference', async () => {
    const { create, log } = factory({});
    const r = await smokeTest('cpu', { createSession: create, threads: 1 });
    expect(r).toMatchObject({ ok: true, provider: 'cpu' });
    expect(r.ms).toBeGreaterThan(0);
    expect(r.maxDiff).toBeLessThan(1e-5);
    expect(log.created).toEqual(['cpu']);
    expect(log.released).toEqual(['cpu']);
    expect(log.options[0]).toEqual({ executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
    // and with the default (real) factory
    await expect(smokeTest('cpu')).resolves.toMatchObject({ ok: true, provider: 'cpu' });
  });

  it.runIf(linuxX64)('refuses CUDA on this box before creating any session', async () => {
    const { create, log } = factory({});
    const e = await rejection(smokeTest('cuda', { createSession: create }));
    expect(e).toMatchObject({ code: 'unavailable', provider: 'cuda' });
    expect(e.message).toMatch(/^CUDA cannot be used: The GPU pack is not installed: the CUDA provider library \(libonnxruntime_providers_cuda\.so\) was not found/);
    expect(log.created).toEqual([]);
  });

  it('maps a missing cuDNN at session creation', async () => {
    const { create, log } = factory({ cuda: { failCreate: NO_CUDNN } });
    const e = await rejection(smokeTest('cuda', { createSession: create, availability: availableAs('cuda') }));
    expect(e.code).toBe('session-failed');
    expect(e.provider).toBe('cuda');
    expect(e.message).toBe('The CUDA provider could not load libcudnn.so.9: install cuDNN 9 or keep using the CPU.');
    expect(e.detail).toBe(NO_CUDNN);
    expect(log.released).toEqual(['cpu']);
  });

  it("maps 'no kernel image' at run()", async () => {
    const { create, log } = factory({ cuda: { failRun: NO_KERNEL } });
    const e = await rejection(smokeTest('cuda', { createSession: create, availability: availableAs('cuda'), deviceId: 1 }));
    expect(e).toMatchObject({ code: 'run-failed', provider: 'cuda', detail: NO_KERNEL });
    expect(e.message).toBe(
      "Your GPU's compute capability is not supported by this ONNX Runtime build (no kernel image), so CUDA cannot run on this GPU; use the CPU instead.",
    );
    expect(log.options[1].executionProviders).toEqual([{ name: 'cuda', deviceId: 1 }]);
    expect(log.released).toEqual(['cpu', 'cuda']); // the failing session is released too
  });

  it('catches a provider that returns wrong numbers', async () => {
    const { create } = factory({ cuda: { perturb: 3e-3 } });
    const e = await rejection(smokeTest('cuda', { createSession: create, availability: availableAs('cuda') }));
    expect(e).toMatchObject({ code: 'mismatch', provider: 'cuda' });
    expect(e.message).toMatch(/^The CUDA provider gives different numbers from the CPU on a tiny test model \(off by 3\.0e-3 in 'hidden', allowed 1\.0e-4\)/);
    expect(e.message).toMatch(/cannot be trusted: use the CPU instead\.$/);
    expect(e.detail).toMatch(/largest relative difference/);
    // tiny float noise is accepted
    const ok = factory({ cuda: { perturb: 2e-6 } });
    const r = await smokeTest('cuda', { createSession: ok.create, availability: availableAs('cuda') });
    expect(r).toMatchObject({ ok: true, provider: 'cuda' });
    expect(r.maxDiff).toBeGreaterThan(1e-6);
    expect(r.maxDiff).toBeLessThan(1e-5);
  });

  it('treats NaN outputs and missing outputs as mismatches', async () => {
    const nan = factory({ dml: { nan: true } });
    const e = await rejection(smokeTest('dml', { createSession: nan.create, availability: availableAs('dml') }));
    expect(e).toMatchObject({ code: 'mismatch', provider: 'dml' });
    expect(e.message).toMatch(/off by an invalid value/);
    const missing: CreateSession = async (bytes, options) => {
      if (epName(options) === 'cpu') return ortCreateSession(bytes, options);
      return { run: async () => ({}) };
    };
    const e2 = await rejection(smokeTest('dml', { createSession: missing, availability: availableAs('dml') }));
    expect(e2.code).toBe('mismatch');
    expect(e2.detail).toBe("output 'hidden': expected 512 values, got none");
  });

  it('checks the CPU itself against the reference', async () => {
    const { create } = factory({ cpu: { perturb: 1e-2 } });
    const e = await rejection(smokeTest('cpu', { createSession: create }));
    expect(e).toMatchObject({ code: 'mismatch', provider: 'cpu' });
    expect(e.message).toMatch(/^The CPU results of a tiny test model are wrong/);
  });

  it('maps DirectML failures', async () => {
    const { create } = factory({ dml: { failCreate: 'D3D12CreateDevice failed: DXGI_ERROR_UNSUPPORTED (0x887A0004)' } });
    const e = await rejection(smokeTest('dml', { createSession: create, availability: availableAs('dml') }));
    expect(e).toMatchObject({ code: 'session-failed', provider: 'dml' });
    expect(e.message).toBe(
      'Your graphics card or its driver does not support DirectML (DirectX 12 is needed): update the graphics driver or keep using the CPU.',
    );
  });

  it('gives a generic sentence plus the raw message for unknown failures, without probing fakes', async () => {
    const { create } = factory({ cuda: { failCreate: 'something odd' } });
    const e = await rejection(smokeTest('cuda', { createSession: create, availability: availableAs('cuda') }));
    expect(e.message).toBe('ONNX Runtime could not start the CUDA provider (see the details): keep using the CPU, or check your drivers.');
    expect(e.detail).toBe('something odd');
  });

  it('adds the loader log to a bare "Failed to load shared library" error', async () => {
    const bare = 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library';
    const { create } = factory({ cuda: { failCreate: bare } });
    const probed: string[] = [];
    const e = await rejection(
      smokeTest('cuda', {
        createSession: create,
        availability: availableAs('cuda'),
        probeLoadLog: async (p, options) => {
          probed.push(`${p}:${JSON.stringify(options.executionProviders)}`);
          return `[E:onnxruntime] ${NO_CUDNN}`;
        },
      }),
    );
    expect(probed).toEqual(['cuda:[{"name":"cuda","deviceId":0}]']);
    expect(e.message).toBe('The CUDA provider could not load libcudnn.so.9: install cuDNN 9 or keep using the CPU.');
    expect(e.detail).toContain(bare);
    expect(e.detail).toContain(NO_CUDNN);
  });

  it.runIf(linuxX64)('with real ONNX Runtime and no GPU pack: session-failed, explained from the captured loader log', async () => {
    const e = await rejection(smokeTest('cuda', { availability: availableAs('cuda') }));
    expect(e).toMatchObject({ code: 'session-failed', provider: 'cuda' });
    expect(e.detail).toMatch(/Failed to load shared library/);
    expect(e.detail).toMatch(/libonnxruntime_providers_shared\.so: cannot open shared object file/);
    expect(e.message).toBe(
      'The GPU pack is missing or incomplete (libonnxruntime_providers_shared.so could not be loaded): install the GPU pack or keep using the CPU.',
    );
  });

  it.runIf(process.platform !== 'win32')('with real ONNX Runtime, DirectML outside Windows: not in this build', async () => {
    const e = await rejection(smokeTest('dml', { availability: availableAs('dml') }));
    expect(e).toMatchObject({ code: 'session-failed', provider: 'dml' });
    expect(e.message).toBe('This ONNX Runtime build does not include the DirectML provider: keep using the CPU.');
    expect(e.detail).toMatch(/backend not found/);
    expect(e.detail).not.toMatch(/ONNX Runtime log/); // a known cause: no loader probe
  });
});

describe('explainFailure', () => {
  it('maps known ONNX Runtime messages to plain sentences', () => {
    const cases: [ProviderName, string, RegExp][] = [
      ['cuda', 'CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version', /NVIDIA driver is too old/],
      ['cuda', 'CUDA failure 100: no CUDA-capable device is detected', /No usable NVIDIA GPU was found/],
      ['cuda', 'libcublasLt.so.12: cannot open shared object file: No such file or directory', /could not load libcublasLt\.so\.12: install the CUDA 12 runtime/],
      ['cuda', 'libcuda.so.1: cannot open shared object file', /NVIDIA driver is not installed \(libcuda\.so\.1/],
      ['cuda', 'CUDA failure 2: out of memory', /GPU ran out of memory/],
      ['cuda', '\x1b[1;31mlibcudnn_graph.so.9: cannot open shared object file\x1b[m', /could not load libcudnn_graph\.so\.9: install cuDNN 9/],
      ['dml', 'DXGI_ERROR_DEVICE_REMOVED', /stopped responding/],
      ['dml', 'no available backend found. ERR: [dml] backend not found.', /^This ONNX Runtime build does not include the DirectML provider: keep using the CPU\.$/],
    ];
    for (const [p, raw, want] of cases) expect(explainKnownFailure(p, raw)).toMatch(want);
    expect(explainKnownFailure('cuda', 'weird')).toBeUndefined();
    expect(explainFailure('dml', 'run', 'weird')).toBe(
      'The DirectML provider started but failed while running a tiny test model (see the details): keep using the CPU, or check your drivers.',
    );
  });
});

describe('chooseProvider', () => {
  it.runIf(linuxX64)("'auto' on this box: CPU, after a real smoke test, with reasons for skipping the GPUs", async () => {
    const c = await chooseProvider('auto', { threads: 1 });
    expect(c.provider).toBe('cpu');
    expect(c.fallbackFrom).toBeUndefined();
    expect(c.smoke).toMatchObject({ ok: true, provider: 'cpu' });
    expect(c.reasons).toHaveLength(3);
    expect(c.reasons[0]).toMatch(/^CUDA was not tried: The GPU pack is not installed: the CUDA provider library \(libonnxruntime_providers_cuda\.so\) was not found in /);
    expect(c.reasons[1]).toBe('DirectML was not tried: DirectML is only available on Windows; this computer runs Linux.');
    expect(c.reasons[2]).toMatch(/^The CPU passed the smoke test \(\d+ ms\)\.$/);
  });

  it("'auto' takes a CUDA that passes, and skips one that fails", async () => {
    const good = factory({ cuda: {} });
    const c = await chooseProvider('auto', { createSession: good.create, availability: availableAs('cuda') });
    expect(c.provider).toBe('cuda');
    expect(c.reasons).toEqual([expect.stringMatching(/^CUDA passed the smoke test \(\d+ ms\)\.$/)]);
    expect(c.fallbackFrom).toBeUndefined();

    const bad = factory({ cuda: { failRun: NO_KERNEL }, dml: {} });
    const d = await chooseProvider('auto', { createSession: bad.create, availability: availableAs('cuda', 'dml') });
    expect(d.provider).toBe('dml'); // DirectML (a fake that works) comes next
    expect(d.fallbackFrom?.provider).toBe('cuda');
    expect(d.fallbackFrom?.error.code).toBe('run-failed');
    expect(d.reasons).toEqual([
      expect.stringMatching(/no kernel image/),
      expect.stringMatching(/^DirectML passed the smoke test \(\d+ ms\)\.$/),
    ]);
  });

  it("'auto' falls back to the CPU and says why", async () => {
    const { create } = factory({ cuda: { failRun: NO_KERNEL } });
    const c = await chooseProvider('auto', { createSession: create, availability: availableAs('cuda') });
    expect(c.provider).toBe('cpu');
    expect(c.fallbackFrom?.provider).toBe('cuda');
    expect(c.fallbackFrom?.error).toBeInstanceOf(ProviderError);
    expect(c.reasons).toEqual([
      "Your GPU's compute capability is not supported by this ONNX Runtime build (no kernel image), so CUDA cannot run on this GPU; use the CPU instead.",
      'DirectML was not tried: test says dml',
      expect.stringMatching(/^Training will use the CPU \(it passed the smoke test in \d+ ms\)\.$/),
    ]);
  });

  it('an explicit request that fails throws, unless fallback is asked for', async () => {
    const { create } = factory({ cuda: { failCreate: NO_CUDNN } });
    const deps = { createSession: create, availability: availableAs('cuda') };
    const e = await rejection(chooseProvider('cuda', deps));
    expect(e).toMatchObject({ code: 'session-failed', provider: 'cuda', detail: NO_CUDNN });

    const c = await chooseProvider('cuda', { ...deps, fallback: true });
    expect(c.provider).toBe('cpu');
    expect(c.fallbackFrom).toEqual({ provider: 'cuda', error: expect.any(ProviderError) });
    expect(c.reasons).toEqual([
      'The CUDA provider could not load libcudnn.so.9: install cuDNN 9 or keep using the CPU.',
      expect.stringMatching(/^Training will use the CPU/),
    ]);

    const wrong = factory({ dml: { perturb: 0.5 } });
    const m = await rejection(chooseProvider('dml', { createSession: wrong.create, availability: availableAs('dml') }));
    expect(m.code).toBe('mismatch');
  });

  it.runIf(linuxX64)("an explicit 'cuda' on this box: unavailable, or CPU with fallback", async () => {
    const e = await rejection(chooseProvider('cuda'));
    expect(e).toMatchObject({ code: 'unavailable', provider: 'cuda' });
    const c = await chooseProvider('cuda', { fallback: true });
    expect(c.provider).toBe('cpu');
    expect(c.fallbackFrom?.error.code).toBe('unavailable');
    expect(c.reasons[0]).toMatch(/^CUDA cannot be used: The GPU pack is not installed/);
  });

  it("'cpu' runs the CPU smoke test; a broken CPU has nothing to fall back to", async () => {
    const c = await chooseProvider('cpu');
    expect(c).toMatchObject({ provider: 'cpu', reasons: [expect.stringMatching(/^The CPU passed the smoke test/)] });
    const { create } = factory({ cpu: { nan: true } });
    const e = await rejection(chooseProvider('auto', { createSession: create, availability: availableAs() }));
    expect(e).toMatchObject({ code: 'mismatch', provider: 'cpu' });
    await expect(chooseProvider('tpu' as ProviderName)).rejects.toThrow(/unknown execution provider 'tpu'/);
  });
});

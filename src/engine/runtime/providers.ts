// Execution-provider selection that a user can trust.
//
// ONNX Runtime does not fall back by itself when a GPU provider is broken: a CUDA session
// can be created and then fail at run() ("no kernel image is available ..."), or fail at
// creation because a library is missing ("libcudnn.so.9: cannot open shared object
// file"), or - worst - run and return wrong numbers. So a provider is used only after a
// small model ran on it and matched the CPU, and every failure carries a sentence a
// non-expert can act on.
//
// Session options list only the chosen provider. ONNX Runtime still places nodes that the
// provider has no kernel for on its built-in CPU provider (its default per-node fallback);
// what it never does is move a whole session to the CPU when the provider fails.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import {
  PROVIDER_LABEL,
  ProviderError,
  errorText,
  explainFailure,
  explainKnownFailure,
  type FailureStage,
  type ProviderName,
} from './provider-errors';
import { smokeModel } from './smoke-model';

export { PROVIDER_LABEL, ProviderError, explainFailure, explainKnownFailure };
export type { ProviderErrorCode, ProviderName } from './provider-errors';

export const PROVIDER_NAMES: readonly ProviderName[] = ['cpu', 'cuda', 'dml'];

/** The CUDA provider library that the GPU pack installs (with its shared bridge library). */
export const CUDA_PROVIDER_LIB = 'libonnxruntime_providers_cuda.so';
export const SHARED_PROVIDER_LIB = 'libonnxruntime_providers_shared.so';

// --- session options -----------------------------------------------------------------

export interface SessionOptionsRequest {
  /** Intra-op threads (ONNX Runtime's default when omitted). */
  threads?: number;
  /** GPU index for cuda / dml (default 0). */
  deviceId?: number;
}

/** Session options that run on `provider` (and nothing else: see the file comment). */
export function sessionOptionsFor(provider: ProviderName, opts: SessionOptionsRequest = {}): ort.InferenceSession.SessionOptions {
  const { threads, deviceId = 0 } = opts;
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
    throw new RangeError(`threads must be a positive integer, got ${threads}`);
  }
  if (!(Number.isInteger(deviceId) && deviceId >= 0)) throw new RangeError(`deviceId must be a non-negative integer, got ${deviceId}`);
  let ep: ort.InferenceSession.ExecutionProviderConfig;
  switch (provider) {
    case 'cpu': ep = 'cpu'; break;
    case 'cuda': ep = { name: 'cuda', deviceId }; break;
    case 'dml': ep = { name: 'dml', deviceId }; break;
    default: throw new Error(`unknown execution provider '${provider as string}'`);
  }
  const options: ort.InferenceSession.SessionOptions = { executionProviders: [ep], graphOptimizationLevel: 'all' };
  if (threads !== undefined) options.intraOpNumThreads = threads;
  return options;
}

// --- availability --------------------------------------------------------------------

export interface ProviderStatus {
  provider: ProviderName;
  available: boolean;
  /** Plain-language explanation: why it cannot be used, or where it was found. */
  reason: string;
  /** cuda: the directory where the provider libraries were found. */
  libraryDir?: string;
}

export type Availability = Record<ProviderName, ProviderStatus>;

export interface AvailabilityDeps {
  platform?: NodeJS.Platform;
  arch?: string;
  /** onnxruntime-node's binary folder (default: bin/napi-v6/<platform>/<arch> of the installed package). */
  ortBinDir?: string;
  /** More folders to look for the GPU pack in. */
  extraDirs?: string[];
  exists?: (file: string) => boolean;
  /** Backends compiled into the binding (default: ort.listSupportedBackends()). */
  supportedBackends?: () => string[];
}

const requireHere = createRequire(import.meta.url);

/** Path of onnxruntime-node's entry module (dist/index.js). */
function ortEntry(): string {
  return requireHere.resolve('onnxruntime-node');
}

/** onnxruntime-node's native binary folder for a platform. */
export function defaultOrtBinDir(platform: string = process.platform, arch: string = process.arch): string {
  return path.join(path.dirname(path.dirname(ortEntry())), 'bin', 'napi-v6', platform, arch);
}

function bindingBackends(): string[] {
  try {
    return ort.listSupportedBackends().map((b) => b.name);
  } catch {
    return [];
  }
}

/** Which providers this onnxruntime-node build and platform can use at all (no session is created). */
export function providerAvailability(deps: AvailabilityDeps = {}): Availability {
  const platform = deps.platform ?? process.platform;
  const arch = deps.arch ?? process.arch;
  const exists = deps.exists ?? existsSync;
  const backends = (deps.supportedBackends ?? bindingBackends)();
  const compiledIn = (name: string) => backends.length === 0 || backends.includes(name);

  const cpu: ProviderStatus = { provider: 'cpu', available: true, reason: 'The CPU is always available.' };

  let cuda: ProviderStatus;
  if (platform !== 'linux') {
    cuda = { provider: 'cuda', available: false, reason: `CUDA is only supported on Linux (x64) in Distill Studio; this computer runs ${platformLabel(platform)}.` };
  } else if (arch !== 'x64') {
    cuda = { provider: 'cuda', available: false, reason: `CUDA is only supported on x64 processors; this computer's processor is ${arch}.` };
  } else if (!compiledIn('cuda')) {
    cuda = { provider: 'cuda', available: false, reason: 'This ONNX Runtime build has no CUDA support.' };
  } else {
    const dirs = [deps.ortBinDir ?? defaultOrtBinDir(platform, arch), ...(deps.extraDirs ?? [])];
    const withCuda = dirs.find((d) => exists(path.join(d, CUDA_PROVIDER_LIB)));
    if (!withCuda) {
      cuda = {
        provider: 'cuda',
        available: false,
        reason: `The GPU pack is not installed: the CUDA provider library (${CUDA_PROVIDER_LIB}) was not found in ${dirs.join(' or ')}.`,
      };
    } else if (!exists(path.join(withCuda, SHARED_PROVIDER_LIB))) {
      cuda = {
        provider: 'cuda',
        available: false,
        reason: `The GPU pack is incomplete: ${CUDA_PROVIDER_LIB} is in ${withCuda} but ${SHARED_PROVIDER_LIB} is missing there.`,
      };
    } else {
      cuda = { provider: 'cuda', available: true, reason: `The CUDA provider library was found in ${withCuda}.`, libraryDir: withCuda };
    }
  }

  let dml: ProviderStatus;
  if (platform !== 'win32') {
    dml = { provider: 'dml', available: false, reason: `DirectML is only available on Windows; this computer runs ${platformLabel(platform)}.` };
  } else if (!compiledIn('dml')) {
    dml = { provider: 'dml', available: false, reason: 'This ONNX Runtime build has no DirectML support.' };
  } else {
    dml = { provider: 'dml', available: true, reason: 'DirectML is included with ONNX Runtime on Windows.' };
  }
  return { cpu, cuda, dml };
}

function platformLabel(p: string): string {
  return ({ linux: 'Linux', win32: 'Windows', darwin: 'macOS' } as Record<string, string>)[p] ?? p;
}

// --- smoke test ----------------------------------------------------------------------

/** The part of an InferenceSession the smoke test uses (so tests can inject fakes). */
export interface ProviderSession {
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, { readonly data: unknown; readonly dims: readonly number[] }>>;
  release?(): Promise<void>;
}

export type CreateSession = (bytes: Uint8Array, options: ort.InferenceSession.SessionOptions) => Promise<ProviderSession>;

/** The real factory: onnxruntime-node. */
export const ortCreateSession: CreateSession = (bytes, options) => ort.InferenceSession.create(bytes, options);

export interface SmokeDeps extends AvailabilityDeps, SessionOptionsRequest {
  /** Session factory (default: onnxruntime-node). Used for the CPU reference and the provider. */
  createSession?: CreateSession;
  /** Precomputed availability (default: providerAvailability(deps)). */
  availability?: Availability;
  /** Allowed |a - b| / max(1, |b|) (default 1e-4). */
  tolerance?: number;
  /**
   * Captures ONNX Runtime's loader log for a provider whose session could not be created:
   * its JavaScript error often says only "Failed to load shared library" while the missing
   * library (libcudnn.so.9, ...) is only logged. Default: a child process with the real
   * onnxruntime-node when createSession is not injected; `false` turns it off.
   */
  probeLoadLog?: ((provider: ProviderName, options: ort.InferenceSession.SessionOptions) => Promise<string>) | false;
}

export interface SmokeResult {
  ok: true;
  provider: ProviderName;
  /** Milliseconds to create the provider's session and run the test model on it. */
  ms: number;
  /** Largest relative difference from the reference that was seen. */
  maxDiff: number;
}

export const DEFAULT_TOLERANCE = 1e-4;

/**
 * Runs a small model (MatMul, Add, LayerNormalization, Erf, Softmax on (8, 64) float32) on
 * the CPU and on `provider`, and compares them. The CPU itself is checked against a
 * float64 JavaScript reference. Throws a ProviderError when the provider cannot be trusted.
 */
export async function smokeTest(provider: ProviderName, deps: SmokeDeps = {}): Promise<SmokeResult> {
  const availability = deps.availability ?? providerAvailability(deps);
  const status = availability[provider];
  if (!status.available) {
    throw new ProviderError('unavailable', provider, `${PROVIDER_LABEL[provider]} cannot be used: ${status.reason}`, status.reason);
  }
  const create = deps.createSession ?? ortCreateSession;
  const tolerance = deps.tolerance ?? DEFAULT_TOLERANCE;
  const model = smokeModel();

  // The CPU, checked against the float64 reference.
  const cpu = await runModel('cpu', create, deps);
  const cpuDiff = compare(cpu.outputs, model.reference, model.outputNames);
  if (!(cpuDiff.max <= tolerance)) {
    throw new ProviderError(
      'mismatch',
      'cpu',
      `The CPU results of a tiny test model are wrong (off by ${fmt(cpuDiff.max)} in '${cpuDiff.where}', allowed ${fmt(tolerance)}): ` +
        'ONNX Runtime is not working correctly on this computer; please report this.',
      cpuDiff.detail,
    );
  }
  if (provider === 'cpu') return { ok: true, provider, ms: cpu.ms, maxDiff: cpuDiff.max };

  const dev = await runModel(provider, create, deps);
  const cpuAsReference = Object.fromEntries(model.outputNames.map((n) => [n, Float64Array.from(cpu.outputs[n] as ArrayLike<number>)]));
  const diff = compare(dev.outputs, cpuAsReference, model.outputNames);
  if (!(diff.max <= tolerance)) {
    throw new ProviderError(
      'mismatch',
      provider,
      `The ${PROVIDER_LABEL[provider]} provider gives different numbers from the CPU on a tiny test model ` +
        `(off by ${fmt(diff.max)} in '${diff.where}', allowed ${fmt(tolerance)}), so its results cannot be trusted: use the CPU instead.`,
      diff.detail,
    );
  }
  return { ok: true, provider, ms: dev.ms, maxDiff: diff.max };
}

async function runModel(
  provider: ProviderName,
  create: CreateSession,
  deps: SmokeDeps,
): Promise<{ outputs: Record<string, unknown>; ms: number }> {
  const model = smokeModel();
  const options = sessionOptionsFor(provider, deps);
  const t0 = performance.now();
  let session: ProviderSession;
  try {
    session = await create(model.bytes, options);
  } catch (e) {
    throw await failure(provider, 'session', e, deps, options);
  }
  try {
    const feeds = { [model.inputName]: new ort.Tensor('float32', model.input, model.dims) };
    let out: Awaited<ReturnType<ProviderSession['run']>>;
    try {
      out = await session.run(feeds);
    } catch (e) {
      throw await failure(provider, 'run', e, deps, options);
    }
    const outputs: Record<string, unknown> = {};
    for (const name of model.outputNames) outputs[name] = out[name]?.data;
    return { outputs, ms: performance.now() - t0 };
  } finally {
    await session.release?.().catch(() => undefined);
  }
}

async function failure(
  provider: ProviderName,
  stage: FailureStage,
  e: unknown,
  deps: SmokeDeps,
  options: ort.InferenceSession.SessionOptions,
): Promise<ProviderError> {
  let detail = errorText(e);
  if (stage === 'session' && provider !== 'cpu' && !explainKnownFailure(provider, detail.replace(/Failed to load shared library/gi, ''))) {
    const probe = deps.probeLoadLog === undefined ? (deps.createSession ? undefined : probeLoadLogInChild) : deps.probeLoadLog || undefined;
    if (probe) {
      const log = await probe(provider, options).catch(() => '');
      if (log.trim()) detail += `\n--- ONNX Runtime log ---\n${log.trim()}`;
    }
  }
  return new ProviderError(stage === 'session' ? 'session-failed' : 'run-failed', provider, explainFailure(provider, stage, detail), detail);
}

/**
 * Creates a session for `provider` in a child process and returns what ONNX Runtime logged
 * (its loader errors go to stderr from native code, not into the JavaScript error).
 */
export function probeLoadLogInChild(_provider: ProviderName, options: ort.InferenceSession.SessionOptions, timeoutMs = 30_000): Promise<string> {
  const script =
    `const ort = require(${JSON.stringify(ortEntry())});` +
    `ort.InferenceSession.create(new Uint8Array([0]), ${JSON.stringify({ executionProviders: options.executionProviders })})` +
    `.then(() => process.exit(0), (e) => { process.stderr.write('\\n' + e.message + '\\n'); process.exit(1); });`;
  return new Promise((resolve) => {
    let log = '';
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => child.kill(), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    child.on('error', () => {
      clearTimeout(timer);
      resolve(log);
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve(log.replace(/\x1b\[[0-9;]*m/g, '')); // eslint-disable-line no-control-regex
    });
  });
}

function compare(
  actual: Record<string, unknown>,
  expected: Record<string, Float64Array>,
  names: string[],
): { max: number; where: string; detail: string } {
  let max = 0;
  let where = '';
  let detail = '';
  for (const name of names) {
    const want = expected[name];
    const got = actual[name];
    if (!got || typeof (got as ArrayLike<number>).length !== 'number' || (got as ArrayLike<number>).length !== want.length) {
      const len = got && typeof (got as ArrayLike<number>).length === 'number' ? (got as ArrayLike<number>).length : 'none';
      return { max: Infinity, where: name, detail: `output '${name}': expected ${want.length} values, got ${len}` };
    }
    const a = got as ArrayLike<number>;
    for (let i = 0; i < want.length; i++) {
      let d = Math.abs(Number(a[i]) - want[i]) / Math.max(1, Math.abs(want[i]));
      if (Number.isNaN(d)) d = Infinity; // NaN or a non-number output counts as the worst
      if (d > max) {
        max = d;
        where = name;
        detail = `largest relative difference ${d} at ${name}[${i}]: got ${a[i]}, expected ${want[i]}`;
      }
    }
  }
  return { max, where, detail };
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toExponential(1) : 'an invalid value');

// --- choice ---------------------------------------------------------------------------

export type ProviderRequest = 'auto' | ProviderName;

export interface ChooseDeps extends SmokeDeps {
  /** For an explicit request that fails: use the CPU instead of throwing. */
  fallback?: boolean;
}

export interface ProviderChoice {
  provider: ProviderName;
  /** What was tried and why, one plain sentence each, in order. */
  reasons: string[];
  /** The provider that was wanted (explicitly, or found available by 'auto') but failed its smoke test. */
  fallbackFrom?: { provider: ProviderName; error: ProviderError };
  smoke: SmokeResult;
}

/**
 * Picks the provider to train on. 'auto' tries cuda (Linux x64), then dml (Windows), then
 * the CPU, each accepted only after a passing smoke test. An explicit request that fails
 * throws its ProviderError unless `fallback` is set, in which case the CPU is used and the
 * reason recorded.
 */
export async function chooseProvider(requested: ProviderRequest, deps: ChooseDeps = {}): Promise<ProviderChoice> {
  if (requested !== 'auto' && !PROVIDER_NAMES.includes(requested)) {
    throw new Error(`unknown execution provider '${requested as string}' (use auto, cpu, cuda or dml)`);
  }
  const availability = deps.availability ?? providerAvailability(deps);
  const d: SmokeDeps = { ...deps, availability };
  const reasons: string[] = [];
  let fallbackFrom: ProviderChoice['fallbackFrom'];

  const candidates: ProviderName[] = requested === 'auto' ? ['cuda', 'dml'] : requested === 'cpu' ? [] : [requested];
  for (const p of candidates) {
    const label = PROVIDER_LABEL[p];
    if (requested === 'auto' && !availability[p].available) {
      reasons.push(`${label} was not tried: ${availability[p].reason}`);
      continue;
    }
    try {
      const smoke = await smokeTest(p, d);
      reasons.push(`${label} passed the smoke test (${smoke.ms.toFixed(0)} ms).`);
      return { provider: p, reasons, fallbackFrom, smoke };
    } catch (e) {
      if (!(e instanceof ProviderError)) throw e;
      if (requested !== 'auto' && !deps.fallback) throw e;
      reasons.push(e.message);
      fallbackFrom ??= { provider: p, error: e };
    }
  }

  const smoke = await smokeTest('cpu', d); // a failing CPU has nothing to fall back to: it throws
  reasons.push(fallbackFrom ? `Training will use the CPU (it passed the smoke test in ${smoke.ms.toFixed(0)} ms).` : `The CPU passed the smoke test (${smoke.ms.toFixed(0)} ms).`);
  return { provider: 'cpu', reasons, fallbackFrom, smoke };
}

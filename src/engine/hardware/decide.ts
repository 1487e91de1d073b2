// Which execution provider to train on, decided from what the hardware is, what ONNX Runtime
// can load, and a smoke run - and said in sentences a non-expert understands.
//
// The reference user lost hours to an RTX 5060 Ti (compute capability 12.0) that their
// PyTorch had no kernels for. Here the order is:
//   1. find out: inspectHardware() (GPU name, compute capability, driver) and
//      providerAvailability() (is the GPU pack there, is this Linux x64 / Windows);
//   2. decide: is the GPU known to be covered by the GPU build (cuda-support.ts), is the
//      driver new enough, is the pack installed;
//   3. prove: a GPU is used only after the smoke test (a small model run on it and compared
//      with the CPU) passes; any failure falls back to the CPU with the reason;
//   4. say why: every outcome carries plain sentences, most important first.
// decideProvider never throws for a provider problem: it returns the CPU and the reasons.

import {
  PROVIDER_LABEL,
  PROVIDER_NAMES,
  ProviderError,
  defaultOrtBinDir,
  providerAvailability,
  smokeTest,
  type Availability,
  type AvailabilityDeps,
  type ProviderName,
  type ProviderRequest,
  type SmokeResult,
} from '../runtime/providers';
import { formatBytes, gpuPackStatus, onnxRuntimeVersion, type GpuPackStatus } from '../gpu-pack/gpu-pack';
import { capabilityStatus, compareDriverVersions, describeCoverage, ortCudaSupport, type CapabilityStatus, type CudaBuildSupport } from './cuda-support';
import { inspectHardware, type GpuInfo, type HardwareInfo, type InspectDeps } from './inspect';

/** Runs the smoke test for a provider on a GPU; may throw ProviderError. */
export type SmokeRunner = (provider: ProviderName, options: { deviceId: number }) => Promise<SmokeResult>;

export interface GpuPackInfo {
  /** The CUDA provider libraries are next to ONNX Runtime. */
  installed: boolean;
  /** CUDA major of the installed pack (from its manifest), when known. */
  cudaMajor?: number | null;
  /** Download size, when known (for "about N MB"). */
  downloadBytes?: number | null;
}

export interface DecideInput {
  hardware: HardwareInfo;
  /** From providerAvailability(). */
  availability: Availability;
  requested: ProviderRequest;
  /** Default: the real smokeTest with `availability`. */
  smoke?: SmokeRunner;
  /** What the CUDA build covers (default: ortCudaSupport(gpuPack.cudaMajor), see cuda-support.ts). */
  supportedComputeCapabilities?: CudaBuildSupport;
  /** Default: installed = availability.cuda.available, CUDA major unknown. */
  gpuPack?: GpuPackInfo;
}

export type GpuPackAdvice =
  /** Nothing to download: no NVIDIA GPU, not Linux x64, or a GPU the pack cannot serve. */
  | 'not-needed'
  /** An NVIDIA GPU that the pack should serve, and the pack is missing: offer the download. */
  | 'offer'
  | 'installed';

export interface Decision {
  provider: ProviderName;
  /** Plain sentences, most important first. */
  reasons: string[];
  gpuPack: GpuPackAdvice;
  /** The GPU the decision is about (the one used, or the best candidate); null when none. */
  gpu: GpuInfo | null;
  /** Device index for cuda/dml (nvidia-smi order; run with CUDA_DEVICE_ORDER=PCI_BUS_ID so CUDA agrees). */
  deviceId: number;
  /** The chosen provider passed its smoke test. */
  verified: boolean;
  smoke: SmokeResult | null;
  /** How the CUDA build's table rates the GPU ('unknown': its compute capability is not known). */
  capability?: CapabilityStatus | 'unknown';
  /** A GPU provider that was tried and failed. */
  failure?: { provider: ProviderName; error: ProviderError };
  /** What was asked for: 'auto', or the user's override (same meaning as ProviderDecision.override in src/shared/api.ts). */
  override: ProviderRequest;
  /** For an override: whether the provider asked for is the one used (and passed its test run). */
  overrideHonoured?: boolean;
}

/** Decides the provider (see the file comment). Throws only for an unknown `requested` value. */
export async function decideProvider(input: DecideInput): Promise<Decision> {
  const { hardware, availability, requested } = input;
  if (requested !== 'auto' && !PROVIDER_NAMES.includes(requested)) {
    throw new Error(`unknown execution provider '${requested as string}' (use auto, cpu, cuda or dml)`);
  }
  const smoke: SmokeRunner = input.smoke ?? ((provider, { deviceId }) => smokeTest(provider, { availability, deviceId }));
  const ctx: Ctx = {
    hardware,
    availability,
    requested,
    smoke,
    pack: { installed: input.gpuPack?.installed ?? availability.cuda.available, cudaMajor: input.gpuPack?.cudaMajor ?? null, downloadBytes: input.gpuPack?.downloadBytes ?? null },
    build: input.supportedComputeCapabilities ?? ortCudaSupport(input.gpuPack?.cudaMajor ?? null),
  };
  let d: Decision;
  if (requested === 'cpu') d = await chosenCpu(ctx);
  else if (requested === 'dml' || (requested === 'auto' && hardware.platform === 'win32')) d = await viaDirectML(ctx);
  else d = await viaCuda(ctx);
  d.override = requested;
  if (requested !== 'auto') d.overrideHonoured = d.provider === requested && d.verified;
  return d;
}

interface Ctx {
  hardware: HardwareInfo;
  availability: Availability;
  requested: ProviderRequest;
  smoke: SmokeRunner;
  pack: Required<GpuPackInfo>;
  build: CudaBuildSupport;
}

// --- the CPU --------------------------------------------------------------------------------------

function cpuSentence(h: HardwareInfo): string {
  const n = h.cpu.physicalCores > 0 ? h.cpu.physicalCores : h.cpu.cores;
  return `training will use the CPU (${n} ${n === 1 ? 'core' : 'cores'})`;
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The CPU decision: runs the CPU smoke test and completes the reasons. */
async function onCpu(ctx: Ctx, base: Omit<Decision, 'provider' | 'verified' | 'smoke' | 'deviceId' | 'override'> & { deviceId?: number }): Promise<Decision> {
  const d: Decision = { deviceId: 0, ...base, provider: 'cpu', verified: false, smoke: null, override: ctx.requested };
  try {
    d.smoke = await ctx.smoke('cpu', { deviceId: 0 });
    d.verified = true;
  } catch (e) {
    const err = asProviderError(e, 'cpu');
    d.reasons.push(err.message);
  }
  return d;
}

async function chosenCpu(ctx: Ctx): Promise<Decision> {
  const reasons = [`You chose the CPU: ${cpuSentence(ctx.hardware)}.`];
  const { gpu, advice } = cudaOutlook(ctx);
  if (gpu && ctx.availability.cuda.available && advice === 'installed') {
    reasons.push(`Your ${gpu.name} could be used instead: choose Automatic to test it.`);
  }
  return onCpu(ctx, { reasons, gpuPack: advice, gpu });
}

// --- DirectML (Windows) ------------------------------------------------------------------------------

async function viaDirectML(ctx: Ctx): Promise<Decision> {
  const { hardware, availability } = ctx;
  const asked = ctx.requested === 'dml' ? 'You asked for DirectML, but ' : '';
  const gpus = hardware.gpus.filter((g) => !/basic (render|display)|remote display|virtual/i.test(g.name));
  const gpu = gpus.find((g) => g.vendor === 'NVIDIA' || g.vendor === 'AMD') ?? gpus[0] ?? null;
  if (!availability.dml.available) {
    const why = asked ? `${asked}${lowerFirst(availability.dml.reason)}` : availability.dml.reason;
    return onCpu(ctx, { reasons: [why, `${cap(cpuSentence(hardware))}.`], gpuPack: 'not-needed', gpu });
  }
  if (!gpu) {
    return onCpu(ctx, { reasons: [`${asked ? asked + 'n' : 'N'}o graphics card was found for DirectML: ${cpuSentence(hardware)}.`], gpuPack: 'not-needed', gpu: null });
  }
  const deviceId = 0;
  try {
    const result = await ctx.smoke('dml', { deviceId });
    return {
      provider: 'dml',
      reasons: [`Your ${gpu.name} passed a test run with DirectML: training will use the GPU.`],
      gpuPack: 'not-needed',
      gpu,
      deviceId,
      verified: true,
      smoke: result,
      override: ctx.requested,
    };
  } catch (e) {
    const error = asProviderError(e, 'dml');
    return onCpu(ctx, {
      reasons: [`Your ${gpu.name} did not pass a test run with DirectML.`, error.message, `${cap(cpuSentence(hardware))}.`],
      gpuPack: 'not-needed',
      gpu,
      failure: { provider: 'dml', error },
    });
  }
}

// --- CUDA (Linux x64) ---------------------------------------------------------------------------------

interface Candidate {
  gpu: GpuInfo;
  status: CapabilityStatus | 'unknown';
  /** False: older than the build needs; null: unknown. */
  driverOk: boolean | null;
}

function assess(gpu: GpuInfo, build: CudaBuildSupport): Candidate {
  const status = gpu.computeCapability ? capabilityStatus(gpu.computeCapability, build) : 'unknown';
  const cmp = gpu.driver ? compareDriverVersions(gpu.driver, build.minDriverLinux) : null;
  return { gpu, status, driverOk: cmp === null ? null : cmp >= 0 };
}

const RANK: Record<Candidate['status'], number> = { native: 0, jit: 1, unknown: 2, 'no-kernels': 3, 'too-old': 4 };

/** The NVIDIA GPU to use: the first (lowest index) of the best-rated ones. */
function bestCandidate(ctx: Ctx): { best: Candidate | null; all: Candidate[] } {
  const all = ctx.hardware.gpus.filter((g) => g.vendor === 'NVIDIA').map((g) => assess(g, ctx.build));
  const sorted = [...all].sort((a, b) => RANK[a.status] - RANK[b.status] || (a.gpu.index ?? 99) - (b.gpu.index ?? 99));
  return { best: sorted[0] ?? null, all };
}

/** What the pack means for this machine, without running anything (for the 'cpu' request and the doctor). */
function cudaOutlook(ctx: Ctx): { gpu: GpuInfo | null; advice: GpuPackAdvice } {
  const { best } = bestCandidate(ctx);
  const linuxX64 = ctx.hardware.platform === 'linux' && ctx.hardware.arch === 'x64';
  if (!best || !linuxX64) return { gpu: best?.gpu ?? null, advice: ctx.pack.installed && linuxX64 ? 'installed' : 'not-needed' };
  if (ctx.pack.installed) return { gpu: best.gpu, advice: 'installed' };
  const useful = best.status === 'native' || best.status === 'jit' || best.status === 'unknown';
  return { gpu: best.gpu, advice: useful && cudaCouldLoad(ctx) ? 'offer' : 'not-needed' };
}

/** CUDA is unavailable only because the pack is missing (not: wrong OS, no CUDA in this build). */
function cudaCouldLoad(ctx: Ctx): boolean {
  return ctx.availability.cuda.available || /GPU pack/i.test(ctx.availability.cuda.reason);
}

function describeGpu(c: Candidate): string {
  const g = c.gpu;
  if (!g.computeCapability) return `Your ${g.name}`;
  return `Your ${g.name} (compute capability ${g.computeCapability}${g.architecture ? `, ${g.architecture}` : ''})`;
}

async function viaCuda(ctx: Ctx): Promise<Decision> {
  const { hardware, availability, build } = ctx;
  const explicit = ctx.requested === 'cuda';
  const asked = explicit ? 'You asked for CUDA, but ' : '';
  const cpu = cpuSentence(hardware);
  const { best, all } = bestCandidate(ctx);

  if (!best) {
    const reasons: string[] = [];
    const driverNotes = hardware.nvidiaSmi.status === 'driver-error' || hardware.nvidiaSmi.status === 'timeout';
    if (driverNotes) reasons.push(...hardware.notes.filter((n) => /NVIDIA|nvidia-smi/.test(n)));
    reasons.push(`${asked ? asked + 'n' : 'N'}o ${driverNotes ? 'usable ' : ''}NVIDIA GPU was found: ${cpu}.`);
    const others = hardware.gpus.filter((g) => g.vendor !== 'NVIDIA' && !/ASPEED|Matrox|virtio|QXL|VMware|Cirrus|bochs|Red Hat/i.test(`${g.vendor} ${g.name}`));
    if (others.length > 0 && hardware.platform === 'linux') {
      reasons.push(`The ${others.map((g) => g.name).join(' and ')} cannot be used for training on Linux: Distill Studio uses NVIDIA GPUs there.`);
    } else if (hardware.platform === 'darwin') {
      reasons.push('Training on the GPU is not available on macOS.');
    }
    return onCpu(ctx, { reasons, gpuPack: 'not-needed', gpu: null, capability: undefined });
  }

  const gpu = best.gpu;
  const deviceId = gpu.index ?? 0;
  const who = describeGpu(best);
  const reasons: string[] = [];
  if (all.length > 1) {
    reasons.push(`This computer has ${all.length} NVIDIA GPUs; training uses one: GPU ${deviceId} (${gpu.name}).`);
  }
  const base = { gpu, deviceId, capability: best.status };

  // Not Linux x64, or an ONNX Runtime without CUDA: nothing to download would change that.
  if (!availability.cuda.available && !cudaCouldLoad(ctx)) {
    reasons.unshift(`${asked}${asked ? lowerFirst(availability.cuda.reason) : availability.cuda.reason}`);
    reasons.push(`${cap(cpu)}.`);
    return onCpu(ctx, { ...base, reasons, gpuPack: 'not-needed' });
  }

  // Seen by lspci or systeminformation but not by nvidia-smi: the driver is missing or broken.
  if (gpu.source !== 'nvidia-smi' && hardware.nvidiaSmi.status !== 'ok') {
    const driverNotes = hardware.notes.filter((n) => /driver|nvidia-smi/i.test(n));
    reasons.unshift(
      ...(asked ? [`${asked}the NVIDIA driver is not working.`] : []),
      ...(driverNotes.length > 0 ? driverNotes : [`${who} was found, but the NVIDIA driver does not answer: install or repair the NVIDIA driver.`]),
      `Until the driver works, ${cpu}.`,
    );
    return onCpu(ctx, { ...base, reasons, gpuPack: ctx.pack.installed ? 'installed' : 'not-needed' });
  }

  const packAdvice: GpuPackAdvice = ctx.pack.installed ? 'installed' : 'offer';
  const tryAnyway = explicit && availability.cuda.available; // an explicit request is always put to the test

  if (best.status === 'too-old' && !tryAnyway) {
    reasons.unshift(
      `${who} is too old for ${build.label}, which needs compute capability ${build.minimum} or newer: ${cpu}.`,
    );
    if (asked) reasons.unshift(`${asked}it cannot run on this GPU.`);
    return onCpu(ctx, { ...base, reasons, gpuPack: ctx.pack.installed ? 'installed' : 'not-needed' });
  }
  if (best.status === 'no-kernels' && !ctx.pack.installed) {
    reasons.unshift(`${who} is not supported by ${build.label}: it has GPU code for compute capability ${describeCoverage(build)} only. ${cap(cpu)}.`);
    return onCpu(ctx, { ...base, reasons, gpuPack: 'not-needed' });
  }
  if (best.driverOk === false && !tryAnyway) {
    reasons.unshift(
      `${who} needs a newer NVIDIA driver for ${build.label}: version ${majorOf(build.minDriverLinux)} or newer is required and ${gpu.driver} is installed. ` +
        `Update the NVIDIA driver, or keep using the CPU.`,
      `Until then, ${cpu}.`,
    );
    return onCpu(ctx, { ...base, reasons, gpuPack: packAdvice });
  }
  if (!ctx.pack.installed || !availability.cuda.available) {
    const size = ctx.pack.downloadBytes ? `about ${formatBytes(ctx.pack.downloadBytes)}` : 'a few hundred MB';
    const can = best.status === 'unknown' ? 'may be able to speed up training (a test run after the download will tell)' : 'can speed up training';
    const incomplete = ctx.pack.installed && /incomplete/i.test(availability.cuda.reason);
    reasons.unshift(
      `${asked}${asked ? lowerFirst(who) : who} ${can}, but it needs the GPU pack (CUDA provider files, ${size})${incomplete ? ', which is incomplete' : ''}: ` +
        'download it from Settings, or keep using the CPU.',
      `Until then, ${cpu}.`,
    );
    return onCpu(ctx, { ...base, reasons, gpuPack: 'offer' });
  }

  // The pack is in place: the smoke run decides.
  try {
    const result = await ctx.smoke('cuda', { deviceId });
    const headline =
      best.status === 'native' || best.status === 'jit'
        ? `${who} is supported and passed a test run: training will use the GPU.`
        : `${who} passed a test run: training will use the GPU.`;
    reasons.unshift(headline);
    if (best.status === 'jit') reasons.push('The first run may take a few extra minutes while the driver prepares GPU code for it.');
    if (best.status === 'no-kernels' || best.status === 'too-old') {
      reasons.push(`(${build.label} was not expected to have GPU code for it, but the test run worked.)`);
    }
    return { ...base, provider: 'cuda', reasons, gpuPack: 'installed', verified: true, smoke: result, override: ctx.requested };
  } catch (e) {
    const error = asProviderError(e, 'cuda');
    const predicted =
      best.status === 'no-kernels' || best.status === 'too-old'
        ? ` (${build.label} has GPU code for compute capability ${describeCoverage(build)} only)`
        : '';
    reasons.unshift(`${asked}${asked ? lowerFirst(who) : who} did not pass a test run with CUDA${predicted}.`, error.message, `${cap(cpu)}.`);
    return onCpu(ctx, { ...base, reasons, gpuPack: 'installed', failure: { provider: 'cuda', error } });
  }
}

function asProviderError(e: unknown, provider: ProviderName): ProviderError {
  if (e instanceof ProviderError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new ProviderError(
    'run-failed',
    provider,
    `The test run with ${PROVIDER_LABEL[provider]} failed unexpectedly (${msg.split('\n')[0]}): keep using the CPU, and please report this.`,
    msg,
  );
}

function lowerFirst(s: string): string {
  // "Your" -> "your", "The" -> "the"; names stay: "CUDA", "NVIDIA", "DirectML".
  return /^[A-Z][a-z]+\b/.test(s) ? s.charAt(0).toLowerCase() + s.slice(1) : s;
}

function majorOf(driver: string): string {
  return driver.split('.')[0];
}

// --- the doctor ---------------------------------------------------------------------------------------

export interface DoctorDeps {
  /** Precomputed hardware (default: inspectHardware(inspect)). */
  hardware?: HardwareInfo;
  inspect?: InspectDeps;
  /** Precomputed availability (default: providerAvailability(availabilityDeps)). */
  availability?: Availability;
  availabilityDeps?: AvailabilityDeps;
  /** The app's data folder: where the GPU pack is kept. Without it the pack's state comes from availability only. */
  dataDir?: string;
  ortBinDir?: string;
  requested?: ProviderRequest;
  smoke?: SmokeRunner;
  supportedComputeCapabilities?: CudaBuildSupport;
}

export interface DoctorReport {
  hardware: HardwareInfo;
  availability: Availability;
  gpuPack: GpuPackStatus | null;
  decision: Decision;
  /** Multi-line, for people (`distill-studio doctor`). */
  text: string;
}

/** Everything `distill-studio doctor` prints: hardware, GPU pack, providers, the decision and why. */
export async function doctorReport(deps: DoctorDeps = {}): Promise<DoctorReport> {
  const dirs = deps.dataDir ? [deps.dataDir] : undefined;
  const hardware = deps.hardware ?? (await inspectHardware({ diskDirs: dirs, ...deps.inspect }));
  const ortBinDir = deps.ortBinDir ?? deps.availabilityDeps?.ortBinDir;
  const availability =
    deps.availability ??
    providerAvailability({ platform: hardware.platform, arch: hardware.arch, ...deps.availabilityDeps, ...(ortBinDir ? { ortBinDir } : {}) });
  let pack: GpuPackStatus | null = null;
  if (deps.dataDir) {
    pack = await gpuPackStatus({ dataDir: deps.dataDir, ortBinDir: ortBinDir ?? defaultOrtBinDir(), platform: hardware.platform, arch: hardware.arch }).catch(() => null);
  }
  const installed = pack ? pack.state === 'installed' || pack.state === 'external' : availability.cuda.available;
  const decision = await decideProvider({
    hardware,
    availability,
    requested: deps.requested ?? 'auto',
    smoke: deps.smoke,
    supportedComputeCapabilities: deps.supportedComputeCapabilities,
    gpuPack: { installed, cudaMajor: pack?.cudaMajor ?? null },
  });
  return { hardware, availability, gpuPack: pack, decision, text: formatDoctor(hardware, availability, pack, decision) };
}

export function formatDoctor(h: HardwareInfo, availability: Availability, pack: GpuPackStatus | null, d: Decision): string {
  const out: string[] = [];
  const row = (label: string, value: string) => out.push(`${`${label}:`.padEnd(14)}${value}`);
  const more = (value: string) => out.push(`${''.padEnd(14)}${value}`);
  const os = ({ linux: 'Linux', win32: 'Windows', darwin: 'macOS' } as Record<string, string>)[h.platform] ?? h.platform;

  out.push('Distill Studio doctor');
  row('Computer', `${os} ${h.arch}`);
  row('Processor', `${h.cpu.model} (${h.cpu.cores} logical, ${h.cpu.physicalCores} physical cores)`);
  row('Memory', `${gib(h.memory.totalBytes)} (${gib(h.memory.freeBytes)} available)`);
  for (const [i, disk] of (h.disks ?? []).entries()) {
    const v = `${gib(disk.freeBytes)} free in ${disk.path}`;
    if (i === 0) row('Disk', v);
    else more(v);
  }
  if (h.gpus.length === 0) row('GPUs', 'none found');
  h.gpus.forEach((g, i) => {
    const parts = [g.name];
    if (g.computeCapability) parts.push(`compute capability ${g.computeCapability}${g.architecture ? ` (${g.architecture})` : ''}${g.computeCapabilitySource === 'table' ? ' from the table of GPUs' : ''}`);
    if (g.vramBytes) parts.push(`${gib(g.vramBytes)} memory`);
    if (g.driver) parts.push(`driver ${g.driver}`);
    (i === 0 ? (v: string) => row('GPUs', v) : more)(`${g.index !== undefined ? `[${g.index}] ` : ''}${parts.join(', ')} (${g.source})`);
  });
  let ortVersion = '';
  try {
    ortVersion = onnxRuntimeVersion();
  } catch {
    ortVersion = 'unknown';
  }
  row('ONNX Runtime', ortVersion);
  if (pack) row('GPU pack', `${pack.state}: ${pack.reason}${pack.cudaMajor ? ` (CUDA ${pack.cudaMajor})` : ''}`);
  for (const [i, p] of (['cpu', 'cuda', 'dml'] as const).entries()) {
    const s = availability[p];
    (i === 0 ? (v: string) => row('Providers', v) : more)(`${PROVIDER_LABEL[p]}: ${s.available ? 'available' : 'not available'} - ${s.reason}`);
  }
  const proof = d.verified && d.smoke ? ` (test run passed in ${d.smoke.ms.toFixed(0)} ms)` : d.verified ? '' : ' (NOT verified: its test run failed)';
  row('Decision', `${PROVIDER_LABEL[d.provider]}${proof}${d.gpuPack === 'offer' ? '; the GPU pack can be downloaded' : ''}`);
  out.push('Why:');
  for (const r of d.reasons) out.push(`  - ${r}`);
  const notes = h.notes.filter((n) => !d.reasons.includes(n));
  if (notes.length > 0) {
    out.push('Notes:');
    for (const n of notes) out.push(`  - ${n}`);
  }
  if (d.failure?.error.detail) {
    out.push('Details (for a bug report):');
    for (const line of d.failure.error.detail.split('\n').slice(0, 20)) out.push(`  ${line}`);
  }
  return out.join('\n');
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

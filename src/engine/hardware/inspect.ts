// What this computer has: processor, memory, free disk space, graphics cards, and, for NVIDIA
// GPUs, the compute capability that decides whether the GPU build of ONNX Runtime can run on
// them. Sources, most trusted first:
//   - nvidia-smi (NVIDIA driver's tool): name, compute capability, driver, memory; validated
//     line by line (see nvidia-smi.ts), retried without compute_cap for old drivers;
//   - lspci -mm -nn (Linux, when installed): every display controller with its PCI vendor, so an
//     NVIDIA card whose driver is missing or broken is still seen and named;
//   - systeminformation.graphics(): Windows (WMI) and macOS graphics, and Linux as a fallback.
// Every source is optional: a missing tool is normal and adds nothing; a broken one adds a note
// in plain words. Nothing here throws for missing hardware.

import { statfs } from 'node:fs/promises';
import os from 'node:os';
import si from 'systeminformation';
import { diskInfo, type DiskInfo } from './disk';
import { architectureName, lookupComputeCapability } from './gpu-table';
import {
  NVIDIA_SMI_FIELDS,
  NVIDIA_SMI_FIELDS_NO_CC,
  execRunner,
  explainDriverProblem,
  nvidiaSmiArgs,
  parseNvidiaSmi,
  type CommandRunner,
  type DriverProblem,
  type NvidiaSmiGpu,
} from './nvidia-smi';

export { freeDiskBytes, type DiskInfo } from './disk';

export type GpuSource = 'nvidia-smi' | 'systeminformation' | 'lspci';

export interface GpuInfo {
  /** 'NVIDIA', 'AMD', 'Intel', 'Apple', or the vendor name as the source gave it. */
  vendor: string;
  name: string;
  /** Dedicated GPU memory; null when unknown or shared with the system. */
  vramBytes: number | null;
  driver: string | null;
  /** NVIDIA only: "12.0"; null when unknown. */
  computeCapability: string | null;
  /** Where the compute capability came from: nvidia-smi, or the table of known GPUs by name. */
  computeCapabilitySource: 'nvidia-smi' | 'table' | null;
  /** NVIDIA architecture name from the compute capability ("Blackwell"). */
  architecture: string | null;
  /** Where this GPU was found. */
  source: GpuSource;
  /** nvidia-smi's GPU index (PCI bus order). */
  index?: number;
  /** Memory in use now (nvidia-smi). */
  usedBytes?: number | null;
  /** PCI address ("01:00.0") when known. */
  busAddress?: string;
}

export type NvidiaSmiStatus =
  /** Answered with at least one GPU. */
  | 'ok'
  | 'no-devices'
  | 'not-installed'
  | 'driver-error'
  | 'timeout'
  | 'unreadable'
  /** Not run (macOS). */
  | 'not-applicable';

export interface HardwareInfo {
  platform: NodeJS.Platform;
  arch: string;
  cpu: { model: string; /** Logical processors. */ cores: number; physicalCores: number };
  memory: { totalBytes: number; /** Available to programs without swapping. */ freeBytes: number };
  disks?: DiskInfo[];
  gpus: GpuInfo[];
  /** Plain sentences about what could not be found or looks wrong. */
  notes: string[];
  nvidiaSmi: { status: NvidiaSmiStatus; driverProblem?: DriverProblem; /** Its output when it was not usable. */ detail?: string };
}

export interface InspectDeps {
  platform?: NodeJS.Platform;
  arch?: string;
  /** Runs nvidia-smi and lspci (default: execFile with a timeout). */
  run?: CommandRunner;
  /** Per-command timeout (default 10 000 ms). */
  timeoutMs?: number;
  /** systeminformation.graphics() (default: the real one); return null to skip. */
  graphics?: () => Promise<si.Systeminformation.GraphicsData | null>;
  cpu?: () => Promise<HardwareInfo['cpu']>;
  memory?: () => Promise<HardwareInfo['memory']>;
  /** Folders whose free space to report (the data folder, the runs folder). */
  diskDirs?: string[];
  /** statfs (default: node:fs/promises). */
  statfs?: typeof statfs;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Looks at the hardware. Never throws for missing tools or hardware; see `notes`. */
export async function inspectHardware(deps: InspectDeps = {}): Promise<HardwareInfo> {
  const platform = deps.platform ?? process.platform;
  const arch = deps.arch ?? process.arch;
  const run = deps.run ?? execRunner;
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const notes: string[] = [];

  const [cpu, memory, nvidia, lspci, graphics, disks] = await Promise.all([
    (deps.cpu ?? defaultCpu)().catch(() => fallbackCpu()),
    (deps.memory ?? defaultMemory)().catch(() => ({ totalBytes: os.totalmem(), freeBytes: os.freemem() })),
    platform === 'darwin' ? Promise.resolve(notApplicable()) : queryNvidiaSmi(run, timeoutMs, platform),
    platform === 'linux' ? queryLspci(run, timeoutMs) : Promise.resolve(null),
    (deps.graphics ?? defaultGraphics)().catch(() => null),
    deps.diskDirs ? Promise.all(deps.diskDirs.map((d) => diskInfo(d, deps.statfs ?? statfs))) : Promise.resolve(undefined),
  ]);

  notes.push(...nvidia.notes);
  const gpus: GpuInfo[] = [...nvidia.gpus];
  const nvidiaFromSmi = nvidia.gpus.length > 0;
  const others: GpuInfo[] = [...(lspci ?? []), ...fromSystemInformation(graphics)];
  for (const g of others) {
    if (g.vendor === 'NVIDIA' && nvidiaFromSmi) continue; // nvidia-smi already described them, better
    if (gpus.some((have) => sameGpu(have, g))) continue;
    gpus.push(g);
  }

  // NVIDIA cards seen without a working nvidia-smi: say why they cannot be used yet.
  const unseen = gpus.filter((g) => g.vendor === 'NVIDIA' && g.source !== 'nvidia-smi');
  if (unseen.length > 0) {
    const names = unseen.map((g) => g.name).join(', ');
    if (nvidia.status === 'not-installed' && platform !== 'darwin') {
      notes.push(`An NVIDIA GPU (${names}) is installed, but the NVIDIA driver is not (nvidia-smi was not found): install the NVIDIA driver to use it for training.`);
    } else if (nvidia.status === 'no-devices') {
      notes.push(`An NVIDIA GPU (${names}) is installed, but the NVIDIA driver does not see it: reinstall the NVIDIA driver or check that the GPU is enabled.`);
    }
  }
  for (const g of gpus) {
    if (g.vendor === 'NVIDIA' && g.computeCapability === null) {
      notes.push(`The compute capability of the ${g.name} is not known (it is not in Distill Studio's table of GPUs), so whether it can be used is decided by a test run.`);
    }
  }

  const info: HardwareInfo = { platform, arch, cpu, memory, gpus, notes, nvidiaSmi: nvidia.smi };
  if (disks) info.disks = disks.filter((d): d is DiskInfo => d !== null);
  return info;
}

// --- nvidia-smi ----------------------------------------------------------------------------------

interface NvidiaResult {
  gpus: GpuInfo[];
  notes: string[];
  status: NvidiaSmiStatus;
  smi: HardwareInfo['nvidiaSmi'];
}

function notApplicable(): NvidiaResult {
  return { gpus: [], notes: [], status: 'not-applicable', smi: { status: 'not-applicable' } };
}

/** Runs nvidia-smi (and the retry without compute_cap) and turns its answer into GPUs and notes. */
export async function queryNvidiaSmi(run: CommandRunner, timeoutMs: number, platform: NodeJS.Platform = process.platform): Promise<NvidiaResult> {
  const candidates = platform === 'linux' ? ['nvidia-smi', '/usr/lib/wsl/lib/nvidia-smi'] : ['nvidia-smi'];
  let exe: string | null = null;
  let first: Awaited<ReturnType<CommandRunner>> | null = null;
  let startError: NodeJS.ErrnoException | null = null;
  for (const c of candidates) {
    try {
      first = await run(c, nvidiaSmiArgs(NVIDIA_SMI_FIELDS), { timeoutMs });
      exe = c;
      break;
    } catch (e) {
      startError = e as NodeJS.ErrnoException;
      if (startError.code !== 'ENOENT') break;
    }
  }
  const result = (status: NvidiaSmiStatus, notes: string[] = [], gpus: GpuInfo[] = [], extra: Partial<HardwareInfo['nvidiaSmi']> = {}): NvidiaResult => ({
    gpus,
    notes,
    status,
    smi: { status, ...extra },
  });

  if (!first || !exe) {
    if (!startError || startError.code === 'ENOENT') return result('not-installed');
    return result('unreadable', [`nvidia-smi could not be started (${startError.code ?? startError.message}).`], [], { detail: String(startError.message) });
  }
  if (first.timedOut) {
    return result('timeout', [`nvidia-smi did not answer within ${Math.round(timeoutMs / 1000)} s: the NVIDIA driver may be stuck; restart the computer.`]);
  }

  let fields: readonly string[] = NVIDIA_SMI_FIELDS;
  let answer = first;
  let parsed = parseNvidiaSmi(first.stdout + '\n' + first.stderr, fields);
  const notes: string[] = [];
  if (parsed.kind === 'invalid-field' && parsed.field === 'compute_cap') {
    fields = NVIDIA_SMI_FIELDS_NO_CC;
    try {
      answer = await run(exe, nvidiaSmiArgs(fields), { timeoutMs });
    } catch (e) {
      return result('unreadable', [`nvidia-smi could not be started again (${(e as Error).message}).`]);
    }
    if (answer.timedOut) {
      return result('timeout', [`nvidia-smi did not answer within ${Math.round(timeoutMs / 1000)} s: the NVIDIA driver may be stuck; restart the computer.`]);
    }
    parsed = parseNvidiaSmi(answer.stdout + '\n' + answer.stderr, fields);
  }

  switch (parsed.kind) {
    case 'gpus': {
      if (parsed.gpus.length === 0) return result('no-devices');
      const gpus = parsed.gpus.map((g) => fromNvidiaSmi(g));
      if (fields === NVIDIA_SMI_FIELDS_NO_CC) {
        const driver = gpus[0]?.driver;
        notes.push(
          `This NVIDIA driver${driver ? ` (${driver})` : ''} is too old to report the GPU's compute capability, so it was looked up by the GPU's name. ` +
            'A newer driver is needed to train on the GPU anyway.',
        );
      }
      for (const line of parsed.other) notes.push(`nvidia-smi reported: ${line}`);
      return result('ok', notes, gpus);
    }
    case 'no-devices':
      return result('no-devices');
    case 'driver-error':
      return result('driver-error', [explainDriverProblem(parsed.problem, parsed.text)], [], { driverProblem: parsed.problem, detail: parsed.text });
    case 'invalid-field':
      return result('unreadable', [`nvidia-smi does not know the field "${parsed.field}": the NVIDIA driver is very old; update it to use the GPU.`], [], {
        detail: `${answer.stdout}${answer.stderr}`.trim(),
      });
    case 'unreadable':
      return result('unreadable', [`nvidia-smi gave an answer that could not be read: ${parsed.text.split('\n')[0]}`], [], { detail: parsed.text });
  }
}

function fromNvidiaSmi(g: NvidiaSmiGpu): GpuInfo {
  let cc = g.computeCapability;
  let ccSource: GpuInfo['computeCapabilitySource'] = cc ? 'nvidia-smi' : null;
  if (!cc) {
    cc = lookupComputeCapability(g.name);
    ccSource = cc ? 'table' : null;
  }
  return {
    vendor: 'NVIDIA',
    name: g.name,
    vramBytes: g.vramBytes,
    driver: g.driver,
    computeCapability: cc,
    computeCapabilitySource: ccSource,
    architecture: cc ? architectureName(cc) : null,
    source: 'nvidia-smi',
    index: g.index,
    usedBytes: g.usedBytes,
  };
}

// --- lspci ---------------------------------------------------------------------------------------

/** Display controllers from `lspci -mm -nn`; null when lspci is not installed or fails. */
export async function queryLspci(run: CommandRunner, timeoutMs: number): Promise<GpuInfo[] | null> {
  try {
    const r = await run('lspci', ['-mm', '-nn'], { timeoutMs });
    if (r.timedOut || r.exitCode !== 0) return null;
    return parseLspci(r.stdout);
  } catch {
    return null;
  }
}

const DISPLAY_CLASSES = new Set(['0300', '0301', '0302', '0380']);
const PCI_VENDORS: Record<string, string> = { '10de': 'NVIDIA', '1002': 'AMD', '1022': 'AMD', '8086': 'Intel', '106b': 'Apple' };

/**
 * Parses `lspci -mm -nn`: `01:00.0 "VGA compatible controller [0300]" "NVIDIA Corporation [10de]"
 * "GB206 [GeForce RTX 5060 Ti] [2d04]" -ra1 "Subsystem vendor [1458]" "Device [4190]"`.
 */
export function parseLspci(stdout: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const slot = /^(\S+)/.exec(line)?.[1] ?? '';
    const quoted = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    if (quoted.length < 3) continue;
    const cls = /\[([0-9a-f]{4})\]\s*$/i.exec(quoted[0])?.[1]?.toLowerCase();
    if (!cls || !DISPLAY_CLASSES.has(cls)) continue;
    const vendorId = /\[([0-9a-f]{4})\]\s*$/i.exec(quoted[1])?.[1]?.toLowerCase() ?? '';
    const vendorText = quoted[1].replace(/\s*\[[0-9a-f]{4}\]\s*$/i, '').trim();
    const vendor = PCI_VENDORS[vendorId] ?? normalizeVendor(vendorText);
    const deviceId = /\[([0-9a-f]{4})\]\s*$/i.exec(quoted[2])?.[1]?.toLowerCase();
    let device = quoted[2].replace(/\s*\[[0-9a-f]{4}\]\s*$/i, '').trim();
    // An id that pci.ids does not know yet (a new GPU): "Device [2d04]" -> "Device 2d04".
    if (/^Device$/i.test(device) && deviceId) device = `Device ${deviceId}`;
    // "GB206 [GeForce RTX 5060 Ti]" -> "GeForce RTX 5060 Ti".
    const marketing = /\[([^\]]+)\]/.exec(device)?.[1];
    const model = marketing ?? device;
    const vendorWord = vendor.split(' ')[0].toLowerCase();
    const name = model.toLowerCase().startsWith(vendorWord) ? model : `${vendor} ${model}`;
    const cc = vendor === 'NVIDIA' ? (lookupComputeCapability(name) ?? lookupComputeCapability(device)) : null;
    gpus.push({
      vendor,
      name,
      vramBytes: null,
      driver: null,
      computeCapability: cc,
      computeCapabilitySource: cc ? 'table' : null,
      architecture: cc ? architectureName(cc) : null,
      source: 'lspci',
      busAddress: slot.replace(/^0000:/, ''),
    });
  }
  return gpus;
}

// --- systeminformation -----------------------------------------------------------------------------

async function defaultGraphics(): Promise<si.Systeminformation.GraphicsData | null> {
  return si.graphics();
}

function fromSystemInformation(data: si.Systeminformation.GraphicsData | null): GpuInfo[] {
  if (!data) return [];
  const gpus: GpuInfo[] = [];
  for (const c of data.controllers ?? []) {
    const vendor = normalizeVendor(c.vendor ?? '');
    const model = (c.model ?? '').trim();
    if (!model && !vendor) continue;
    const name = !model ? vendor : model.toLowerCase().startsWith(vendor.toLowerCase()) || vendor === '' ? model : `${vendor} ${model}`;
    const cc = vendor === 'NVIDIA' ? lookupComputeCapability(name) : null;
    const vram = typeof c.vram === 'number' && c.vram > 0 && !c.vramDynamic ? c.vram * 1024 * 1024 : null;
    const g: GpuInfo = {
      vendor: vendor || 'unknown',
      name,
      vramBytes: vram,
      driver: c.driverVersion || null,
      computeCapability: cc,
      computeCapabilitySource: cc ? 'table' : null,
      architecture: cc ? architectureName(cc) : null,
      source: 'systeminformation',
    };
    if (c.busAddress) g.busAddress = c.busAddress.replace(/^0000:/, '');
    gpus.push(g);
  }
  return gpus;
}

export function normalizeVendor(vendor: string): string {
  const v = vendor.trim();
  if (/nvidia/i.test(v)) return 'NVIDIA';
  if (/advanced micro devices|\bamd\b|\bati\b/i.test(v)) return 'AMD';
  if (/intel/i.test(v)) return 'Intel';
  if (/apple/i.test(v)) return 'Apple';
  return v.replace(/,?\s*(Inc\.?|Corporation|Corp\.?|Co\.,? Ltd\.?|Ltd\.?)$/i, '').trim();
}

function sameGpu(a: GpuInfo, b: GpuInfo): boolean {
  if (a.busAddress && b.busAddress) return a.busAddress.toLowerCase() === b.busAddress.toLowerCase();
  if (a.vendor !== b.vendor) return false;
  const norm = (s: string) => s.toLowerCase().replace(/^(nvidia|amd|intel|apple)\s+/, '').replace(/\s+/g, ' ').trim();
  const na = norm(a.name);
  const nb = norm(b.name);
  return na === nb || na.includes(nb) || nb.includes(na);
}

// --- CPU, memory, disk -------------------------------------------------------------------------------

async function defaultCpu(): Promise<HardwareInfo['cpu']> {
  const c = await si.cpu();
  const logical = os.availableParallelism?.() ?? os.cpus().length;
  const model = [c.manufacturer, c.brand].filter((s) => s && s.trim()).join(' ').trim() || os.cpus()[0]?.model?.trim() || 'unknown processor';
  return { model, cores: c.cores || logical, physicalCores: c.physicalCores || c.cores || logical };
}

function fallbackCpu(): HardwareInfo['cpu'] {
  const logical = os.availableParallelism?.() ?? os.cpus().length;
  return { model: os.cpus()[0]?.model?.trim() || 'unknown processor', cores: logical, physicalCores: logical };
}

async function defaultMemory(): Promise<HardwareInfo['memory']> {
  const m = await si.mem();
  return { totalBytes: m.total || os.totalmem(), freeBytes: m.available || m.free || os.freemem() };
}

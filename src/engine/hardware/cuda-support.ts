// Which NVIDIA GPUs the CUDA provider of the GPU pack has code for, and which driver it needs.
//
// A CUDA library carries machine code (SASS, "-real" in CMake) for a list of compute
// capabilities, and optionally PTX ("-virtual") that the driver compiles on first use for
// newer GPUs. NVIDIA's compatibility rules:
//   - SASS for X.Y runs on X.Z with Z >= Y (same major): sm_80 code runs on 8.6, 8.7 and 8.9;
//   - SASS for an architecture-specific target "X.Ya" (sm_90a, sm_120a) runs on X.Y only;
//   - PTX for X.Y can be compiled for any GPU >= X.Y ("X.Ya" PTX again only for X.Y: this is
//     why ORT 1.23.0's 90a-virtual did not run on Blackwell, microsoft/onnxruntime#26245, #26230);
//   - anything else fails at the first kernel launch with "no kernel image is available".
//
// Where the numbers come from (ONNX Runtime's packaging pipelines, the source of the NuGet
// package Microsoft.ML.OnnxRuntime.Gpu.Linux that the GPU pack downloads):
//   - microsoft/onnxruntime PR #31989 / #31992 "[CUDA] Update cuda archs in packaging pipelines"
//     (merged 2026-08-11) sets, for Linux x64, all as "-real" with no PTX (it removed 120-virtual):
//       CUDA 12.8: 60;70;75;80;86;89;90a;120a        CUDA 13.0: 75;80;86;89;90a;120a
//   - before it: PR #29711 (2026-07) added 120 to the CUDA 12.8 build; PR #23309 (1.21, 2025-01)
//     reduced the list to 75;80;90; older releases had 52/60/61/70.
//   - CUDA toolkits: CUDA 12 supports compute capability 5.0 and newer; CUDA 13 dropped
//     Maxwell, Pascal and Volta (< 7.5). Minimum Linux drivers (CUDA toolkit release notes,
//     "CUDA Toolkit and Minimum Required Driver Version"): CUDA 12.x 525.60.13, CUDA 13.x 580.65.06.
// These lists are what the pipelines say, not what a binary was checked to contain, so they
// only predict: a GPU predicted to work is still accepted only after the smoke test passes,
// and a GPU predicted to lack kernels is still tried when the pack is installed (the smoke
// test is cheap and says "no kernel image" plainly if the prediction was right).
//
// Which CUDA major the pack is built for is read from the downloaded library itself
// (DT_NEEDED libcudart.so.12 / .13, see gpu-pack/elf.ts); before the download it is unknown
// (ORT 1.27 made CUDA 13 the default build and deprecated CUDA 12, microsoft/onnxruntime#29032,
// while onnxruntime-node 1.30's install script still calls the package "cuda12"), and the
// prediction then uses both lists.

import { compareComputeCapability, parseComputeCapability, type ComputeCapability } from './gpu-table';

export interface CudaBuildSupport {
  /** Plain name of the build, e.g. "the CUDA 13 build of ONNX Runtime 1.30". */
  label: string;
  /** CUDA major version the provider links against, or null when not known yet. */
  cudaMajor: number | null;
  /** Machine-code targets: "X.Y" (runs on X.Y..X.9) or "X.Ya" (runs on X.Y only). */
  sass: readonly string[];
  /** PTX targets the driver can compile for newer GPUs ("X.Ya": for X.Y only). */
  ptx: readonly string[];
  /** Oldest compute capability the CUDA toolkit of this build supports at all. */
  minimum: string;
  /** Oldest Linux driver for this CUDA major ("525.60.13"). */
  minDriverLinux: string;
  /** Where these numbers come from. */
  source: string;
}

const PIPELINES = 'ONNX Runtime packaging pipelines, microsoft/onnxruntime PR #31989 (2026-08)';

export const ORT_CUDA12_LINUX_X64: CudaBuildSupport = {
  label: 'the CUDA 12 build of ONNX Runtime',
  cudaMajor: 12,
  sass: ['6.0', '7.0', '7.5', '8.0', '8.6', '8.9', '9.0a', '12.0a'],
  ptx: [],
  minimum: '5.0',
  minDriverLinux: '525.60.13',
  source: PIPELINES,
};

export const ORT_CUDA13_LINUX_X64: CudaBuildSupport = {
  label: 'the CUDA 13 build of ONNX Runtime',
  cudaMajor: 13,
  sass: ['7.5', '8.0', '8.6', '8.9', '9.0a', '12.0a'],
  ptx: [],
  minimum: '7.5',
  minDriverLinux: '580.65.06',
  source: PIPELINES,
};

/** Before the pack is downloaded: either build may come; a GPU is predicted to work if one of them covers it. */
export const ORT_CUDA_UNKNOWN_LINUX_X64: CudaBuildSupport = {
  label: 'the CUDA build of ONNX Runtime',
  cudaMajor: null,
  sass: [...new Set([...ORT_CUDA12_LINUX_X64.sass, ...ORT_CUDA13_LINUX_X64.sass])],
  ptx: [],
  minimum: ORT_CUDA12_LINUX_X64.minimum,
  minDriverLinux: ORT_CUDA12_LINUX_X64.minDriverLinux,
  source: PIPELINES,
};

/** The support table for the GPU pack's CUDA major (null: not downloaded yet). */
export function ortCudaSupport(cudaMajor: number | null | undefined): CudaBuildSupport {
  if (cudaMajor === 12) return ORT_CUDA12_LINUX_X64;
  if (cudaMajor === 13) return ORT_CUDA13_LINUX_X64;
  return ORT_CUDA_UNKNOWN_LINUX_X64;
}

/** Compute capabilities of NVIDIA GPUs that exist, for describing ranges in words. */
export const KNOWN_COMPUTE_CAPABILITIES: readonly string[] = [
  '3.0', '3.2', '3.5', '3.7', '5.0', '5.2', '5.3', '6.0', '6.1', '6.2', '7.0', '7.2', '7.5',
  '8.0', '8.6', '8.7', '8.9', '9.0', '10.0', '10.3', '11.0', '12.0', '12.1',
];

export type CapabilityStatus =
  /** Machine code for this GPU is in the build. */
  | 'native'
  /** Only PTX: the driver compiles it on first use (slow start, then fine). */
  | 'jit'
  /** The CUDA toolkit supports the GPU but this build has no code for it. */
  | 'no-kernels'
  /** Older than anything the build's CUDA toolkit supports. */
  | 'too-old';

interface Target {
  cc: ComputeCapability;
  specific: boolean;
}

function target(text: string): Target | null {
  const m = /^(\d{1,2}\.\d)([af]?)$/.exec(text.trim());
  if (!m) return null;
  const cc = parseComputeCapability(m[1]);
  return cc ? { cc, specific: m[2] === 'a' } : null;
}

function sassRuns(t: Target, gpu: ComputeCapability): boolean {
  if (t.specific) return compareComputeCapability(t.cc, gpu) === 0;
  return t.cc.major === gpu.major && gpu.minor >= t.cc.minor;
}

function ptxRuns(t: Target, gpu: ComputeCapability): boolean {
  if (t.specific) return compareComputeCapability(t.cc, gpu) === 0;
  return compareComputeCapability(gpu, t.cc) >= 0;
}

/** What a build offers a GPU of compute capability `cc` ("12.0"). Throws on a malformed `cc`. */
export function capabilityStatus(cc: string, build: CudaBuildSupport): CapabilityStatus {
  const gpu = parseComputeCapability(cc);
  if (!gpu) throw new RangeError(`not a compute capability: '${cc}'`);
  const min = parseComputeCapability(build.minimum);
  if (min && compareComputeCapability(gpu, min) < 0) return 'too-old';
  const targets = (list: readonly string[]) => list.map(target).filter((t): t is Target => t !== null);
  if (targets(build.sass).some((t) => sassRuns(t, gpu))) return 'native';
  if (targets(build.ptx).some((t) => ptxRuns(t, gpu))) return 'jit';
  return 'no-kernels';
}

/** The GPUs a build has machine code for, in words: "6.0 to 9.0, and 12.0". */
export function describeCoverage(build: CudaBuildSupport): string {
  const covered = KNOWN_COMPUTE_CAPABILITIES.map((cc) => capabilityStatus(cc, build) === 'native');
  const runs: string[] = [];
  for (let i = 0; i < covered.length; i++) {
    if (!covered[i]) continue;
    let j = i;
    while (j + 1 < covered.length && covered[j + 1]) j++;
    runs.push(i === j ? KNOWN_COMPUTE_CAPABILITIES[i] : `${KNOWN_COMPUTE_CAPABILITIES[i]} to ${KNOWN_COMPUTE_CAPABILITIES[j]}`);
    i = j;
  }
  if (runs.length === 0) return 'no GPU';
  if (runs.length === 1) return runs[0];
  return `${runs.slice(0, -1).join(', ')} and ${runs[runs.length - 1]}`;
}

/** Compares dotted driver versions ("580.65.06" vs "525.60.13"); null when either is not a version. */
export function compareDriverVersions(a: string, b: string): number | null {
  const pa = /^\d+(\.\d+)*$/.test(a.trim()) ? a.trim().split('.').map(Number) : null;
  const pb = /^\d+(\.\d+)*$/.test(b.trim()) ? b.trim().split('.').map(Number) : null;
  if (!pa || !pb) return null;
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

// Compute capability of NVIDIA GPUs by name, for when nvidia-smi cannot tell us: drivers
// older than R510 reject the compute_cap query field, and a GPU seen only through lspci or
// systeminformation (broken driver) has a name and nothing else.
//
// Source: NVIDIA's "CUDA GPUs - Compute Capability" list (developer.nvidia.com/cuda-gpus),
// checked against the names nvidia-smi prints ("NVIDIA GeForce RTX 5060 Ti", "Tesla K80",
// "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB") and lspci prints ("GA102 [GeForce RTX
// 3090]", "GH100 [H100 SXM5 80GB]"). Rows are tried in order, so a more specific name comes
// before a more general one ("RTX PRO 6000 Blackwell" before "RTX 6000 Ada" before
// "Quadro RTX 6000"). A name that matches nothing gets null: the caller says so rather than guess.

export interface GpuTableRow {
  /** Tested against the GPU's name (case-insensitive patterns). */
  pattern: RegExp;
  /** "major.minor", e.g. "12.0". */
  computeCapability: string;
}

// A model number that is not the start of a longer number ("RTX 5060" but not "RTX 50600").
const n = (s: string) => `${s}(?!\\d)`;
const row = (re: string, computeCapability: string): GpuTableRow => ({ pattern: new RegExp(re, 'i'), computeCapability });

export const GPU_TABLE: readonly GpuTableRow[] = [
  // --- Blackwell (2025): data centre 10.x, Thor 11.0, GeForce / workstation 12.x ------------
  row(`\\bGB10\\b|DGX Spark`, '12.1'),
  row(`\\bG?B300\\b`, '10.3'),
  row(`\\bG?B[12]00\\b`, '10.0'),
  row(`Jetson\\s+(AGX\\s+)?Thor|\\bThor\\b`, '11.0'),
  row(`RTX\\s+PRO\\s+\\d{4}.*Blackwell|Blackwell.*RTX\\s+PRO|RTX\\s+PRO\\s+\\d{4}`, '12.0'),
  row(`RTX\\s*${n('50[5-9]0')}|\\bGB20[2-7]\\b`, '12.0'),

  // --- Hopper (2022) ---------------------------------------------------------------------------
  row(`\\bGH200\\b|\\bGH100\\b|\\bH(100|200|800|20)\\b`, '9.0'),

  // --- Ada Lovelace (2022) -----------------------------------------------------------------------
  row(`RTX\\s+\\d{4}(\\s+SFF)?\\s+Ada|RTX\\s+Ada|Ada\\s+Generation`, '8.9'),
  row(`RTX\\s*${n('40[5-9]0')}|\\bAD10[2-7]\\b`, '8.9'),
  row(`\\bL(4|20|40S?)\\b`, '8.9'),

  // --- Ampere (2020) -------------------------------------------------------------------------------
  row(`Jetson\\s+(AGX\\s+)?Orin|\\bOrin\\b`, '8.7'),
  row(`\\bA(100|30|800)\\b|\\bGA100\\b`, '8.0'),
  row(`\\bA(2|10G?|10M|16|40)\\b|\\bRTX\\s+A\\d{3,4}\\b|\\bA\\d{3,4}\\s+Laptop`, '8.6'),
  row(`RTX\\s*${n('30[5-9]0')}|\\bGA10[2-7]\\b`, '8.6'),

  // --- Turing (2018) ------------------------------------------------------------------------------
  row(`\\bT4\\b|\\bT(400|500|550|600|1000|1200)\\b|\\bTU10[246]\\b|\\bTU11[67]\\b`, '7.5'),
  row(`Quadro\\s+RTX\\s+\\d{4}|TITAN\\s+RTX|RTX\\s*${n('20[5-8]0')}|GTX\\s*${n('16[3-6]0')}|MX\\s*(450|550)\\b`, '7.5'),

  // --- Volta (2017) --------------------------------------------------------------------------------
  row(`Jetson\\s+(AGX\\s+)?Xavier|\\bXavier\\b`, '7.2'),
  row(`\\bV100\\b|TITAN\\s+V\\b|Quadro\\s+GV100|\\bGV100\\b`, '7.0'),

  // --- Pascal (2016) -------------------------------------------------------------------------------
  row(`Jetson\\s+TX2|\\bTX2\\b`, '6.2'),
  row(`\\bP100\\b|Quadro\\s+GP100|\\bGP100\\b`, '6.0'),
  row(`GTX\\s*${n('10[5-8]0')}|GT\\s*1030|TITAN\\s+Xp?\\s*\\(?Pascal|TITAN\\s+Xp\\b|\\bP(4|6|40)\\b|Quadro\\s+P\\d{3,4}|\\bGP10[2-8]\\b|MX\\s*(150|230|250|330|350)\\b`, '6.1'),

  // --- Maxwell (2014) ------------------------------------------------------------------------------
  row(`Jetson\\s+Nano|Jetson\\s+TX1|\\bTX1\\b`, '5.3'),
  row(`GTX\\s*${n('9[5-8]0')}|GTX\\s+TITAN\\s+X\\b|TITAN\\s+X\\b|\\bM(4|6|40|60)\\b|Quadro\\s+M\\d{3,4}|\\bGM20[046]\\b`, '5.2'),
  row(`GTX\\s*${n('7[45]0')}|MX\\s*1[13]0\\b|\\bGM10[78]\\b|Quadro\\s+K(620|1200|2200)\\b|\\bM10\\b`, '5.0'),

  // --- Kepler (2012) -------------------------------------------------------------------------------
  row(`\\bK80\\b|\\bGK210\\b`, '3.7'),
  row(`\\bK(20X?m?|20c|40[cmst]?|6000)\\b|GTX\\s+TITAN(\\s+(Black|Z))?\\b|GTX\\s*${n('7[89]0')}|\\bGK110B?\\b`, '3.5'),
  row(`\\bK(10|520)\\b|GTX\\s*${n('6[5-9]0')}|GTX\\s*${n('7[67]0')}|\\bGK10[467]\\b|Quadro\\s+K\\d{3,4}`, '3.0'),
];

/** The compute capability of a GPU by its name ("NVIDIA GeForce RTX 5060 Ti" -> "12.0"), or null. */
export function lookupComputeCapability(name: string): string | null {
  const clean = name.replace(/\s+/g, ' ').trim();
  if (!clean) return null;
  for (const r of GPU_TABLE) if (r.pattern.test(clean)) return r.computeCapability;
  return null;
}

/** NVIDIA's architecture name for a compute capability ("12.0" -> "Blackwell"), or null. */
export function architectureName(computeCapability: string): string | null {
  const cc = parseComputeCapability(computeCapability);
  if (!cc) return null;
  const { major, minor } = cc;
  if (major === 3) return 'Kepler';
  if (major === 5) return 'Maxwell';
  if (major === 6) return 'Pascal';
  if (major === 7) return minor >= 5 ? 'Turing' : 'Volta';
  if (major === 8) return minor === 9 ? 'Ada Lovelace' : 'Ampere';
  if (major === 9) return 'Hopper';
  if (major === 10 || major === 11 || major === 12) return 'Blackwell';
  return null;
}

export interface ComputeCapability {
  major: number;
  minor: number;
}

/** "8.6" -> {major: 8, minor: 6}; anything else -> null. */
export function parseComputeCapability(text: string): ComputeCapability | null {
  const m = /^(\d{1,2})\.(\d)$/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

/** a < b -> negative, a == b -> 0, a > b -> positive. */
export function compareComputeCapability(a: ComputeCapability, b: ComputeCapability): number {
  return a.major !== b.major ? a.major - b.major : a.minor - b.minor;
}

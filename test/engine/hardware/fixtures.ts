// The recorded nvidia-smi answers (test/fixtures/nvidia-smi) as fake command runners.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CommandResult, CommandRunner } from '../../../src/engine/hardware/nvidia-smi';
import { REPO_ROOT } from '../../support/shared';

export const NVIDIA_SMI_FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'nvidia-smi');

interface CaseSpec {
  stdout?: string;
  exitCode?: number;
  stderr?: string;
  fields?: string[];
  spawnError?: string;
}

const cases = JSON.parse(readFileSync(path.join(NVIDIA_SMI_FIXTURES, 'cases.json'), 'utf8')) as Record<string, CaseSpec>;

export type SmiCase =
  | 'rtx-5060-ti'
  | 'h100'
  | 'h200'
  | 'multi-gpu'
  | 'old-driver-no-compute-cap'
  | 'old-driver-retry'
  | 'driver-mismatch'
  | 'couldnt-communicate'
  | 'no-devices'
  | 'not-installed';

export const ALL_CASES = Object.keys(cases).filter((k) => !k.startsWith('$')) as SmiCase[];

export function caseSpec(name: SmiCase): CaseSpec {
  const c = cases[name];
  if (!c) throw new Error(`no nvidia-smi fixture '${name}'`);
  return c;
}

export function fixtureText(file: string): string {
  return readFileSync(path.join(NVIDIA_SMI_FIXTURES, file), 'utf8');
}

/** What the runner gives for a case, or throws its spawn error. */
export function caseResult(name: SmiCase): CommandResult {
  const c = caseSpec(name);
  if (c.spawnError) {
    const spec = JSON.parse(fixtureText(c.spawnError)) as { code: string; errno: number; syscall: string; path: string; message: string };
    throw Object.assign(new Error(spec.message), spec);
  }
  return { stdout: fixtureText(c.stdout!), stderr: c.stderr ?? '', exitCode: c.exitCode ?? 0, timedOut: false };
}

export interface FakeRunnerOptions {
  /** The nvidia-smi case; 'old-driver-no-compute-cap' answers the retry with 'old-driver-retry'. */
  smi: SmiCase;
  /** lspci -mm -nn output, or null: lspci not installed. */
  lspci?: string | null;
}

/** A CommandRunner answering nvidia-smi from the fixtures and lspci from `lspci`; logs every call. */
export function fakeRunner(options: FakeRunnerOptions): CommandRunner & { calls: { file: string; args: readonly string[] }[] } {
  const calls: { file: string; args: readonly string[] }[] = [];
  const run = (async (file: string, args: readonly string[]) => {
    calls.push({ file, args });
    if (file.endsWith('nvidia-smi')) {
      const query = args.find((a) => a.startsWith('--query-gpu=')) ?? '';
      if (options.smi === 'old-driver-no-compute-cap' && !query.includes('compute_cap')) return caseResult('old-driver-retry');
      return caseResult(options.smi);
    }
    if (file === 'lspci') {
      if (options.lspci === undefined || options.lspci === null) throw Object.assign(new Error('spawn lspci ENOENT'), { code: 'ENOENT', syscall: 'spawn lspci' });
      return { stdout: options.lspci, stderr: '', exitCode: 0, timedOut: false };
    }
    throw Object.assign(new Error(`spawn ${file} ENOENT`), { code: 'ENOENT', syscall: `spawn ${file}` });
  }) as unknown as CommandRunner & { calls: typeof calls };
  run.calls = calls;
  return run;
}

/** lspci -mm -nn lines as lspci prints them. */
export const LSPCI = {
  rtx5060ti:
    '01:00.0 "VGA compatible controller [0300]" "NVIDIA Corporation [10de]" "GB206 [GeForce RTX 5060 Ti] [2d04]" -ra1 "Gigabyte Technology Co., Ltd [1458]" "Device [4190]"\n' +
    '01:00.1 "Audio device [0403]" "NVIDIA Corporation [10de]" "Device [22eb]" -ra1 "Gigabyte Technology Co., Ltd [1458]" "Device [4190]"\n',
  intelIgpu: '00:02.0 "VGA compatible controller [0300]" "Intel Corporation [8086]" "Alder Lake-P GT2 [Iris Xe Graphics] [46a6]" -r0c -p00 "Lenovo [17aa]" "Device [3a2d]"\n',
  amd:
    '03:00.0 "VGA compatible controller [0300]" "Advanced Micro Devices, Inc. [AMD/ATI] [1002]" "Navi 31 [Radeon RX 7900 XT/7900 XTX/7900 GRE/7900M] [744c]" -rc8 "Sapphire Technology Limited [1da2]" "Device [e471]"\n',
  h100: '0000:18:00.0 "3D controller [0302]" "NVIDIA Corporation [10de]" "GH100 [H100 SXM5 80GB] [2330]" -ra1 "NVIDIA Corporation [10de]" "Device [16c1]"\n',
  aspeed: '03:00.0 "VGA compatible controller [0300]" "ASPEED Technology, Inc. [1a03]" "ASPEED Graphics Family [2000]" -r41 -p00 "ASPEED Technology, Inc. [1a03]" "ASPEED Graphics Family [2000]"\n',
  host: '00:00.0 "Host bridge [0600]" "Intel Corporation [8086]" "Device [a700]" -r01 "Lenovo [17aa]" "Device [3a2d]"\n',
};

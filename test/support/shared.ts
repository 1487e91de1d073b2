// Where the tests find ../shared (read-only inputs beside the repo) and the PyTorch oracle.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = path.resolve(REPO_ROOT, '../shared');

/** A path inside ../shared, or null when that file is absent (a fresh clone elsewhere). */
export function sharedPath(...parts: string[]): string | null {
  const p = path.join(SHARED, ...parts);
  return existsSync(p) ? p : null;
}

export const PYTHON = '/usr/bin/python3';
let torchChecked: string | null | undefined;

/** Null when Debian's python3 can import torch; otherwise the reason it cannot. */
export function torchUnavailableReason(): string | null {
  if (torchChecked !== undefined) return torchChecked;
  if (!existsSync(PYTHON)) return (torchChecked = `${PYTHON} not found (apt-get install -y python3-torch)`);
  try {
    execFileSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'pipe', timeout: 60_000 });
    torchChecked = null;
  } catch {
    torchChecked = 'python3-torch is not installed (apt-get install -y python3-torch python3-numpy libopenblas0-pthread)';
  }
  return torchChecked;
}

/** Null when the oracle can run; otherwise why not. */
export function oracleUnavailableReason(): string | null {
  if (!sharedPath('tools', 'oracle', 'kd_reference.py')) return '../shared/tools/oracle is absent';
  return torchUnavailableReason();
}

/** Runs an oracle script with arguments; returns stdout. */
export function runOracle(script: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): string {
  const file = path.join(SHARED, 'tools', 'oracle', script);
  return execFileSync(PYTHON, [file, ...args], {
    cwd: opts.cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: opts.timeoutMs ?? 300_000,
    env: { ...process.env, OMP_NUM_THREADS: '2' },
  });
}

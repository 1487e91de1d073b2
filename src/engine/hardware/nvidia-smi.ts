// Asking nvidia-smi about NVIDIA GPUs, and reading its answer defensively.
//
// The query is `nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total,memory.used
// --format=csv,noheader,nounits`, which prints one line per GPU:
//     0, NVIDIA GeForce RTX 5060 Ti, 12.0, 576.88, 16311, 1024
// (memory in MiB; a value the GPU cannot report is "[N/A]" or "[Not Supported]"). What else it
// prints, all of it on STDOUT:
//   - drivers before R510 do not know compute_cap: 'Field "compute_cap" is not a valid field to
//     query.' (exit 2). We ask again without it and fill the capability from gpu-table.ts.
//   - a broken driver: 'Failed to initialize NVML: Driver/library version mismatch' (+ 'NVML library
//     version: 550.144', exit 18), "NVIDIA-SMI has failed because it couldn't communicate with the
//     NVIDIA driver. ..." (exit 9), 'Failed to initialize NVML: Unknown Error' (containers).
//   - no GPU: 'No devices were found' (exit 6).
//   - warnings mixed with data ("WARNING: infoROM is corrupted at gpu 0000:01:00.0").
// So nothing is trusted because of the exit code: every line must have the right number of
// fields of the right form to become a GPU, and recognised error texts become plain notes.

import { execFile } from 'node:child_process';

export const NVIDIA_SMI_FIELDS = ['index', 'name', 'compute_cap', 'driver_version', 'memory.total', 'memory.used'] as const;
/** The retry for drivers that do not know compute_cap. */
export const NVIDIA_SMI_FIELDS_NO_CC = ['index', 'name', 'driver_version', 'memory.total', 'memory.used'] as const;

export function nvidiaSmiArgs(fields: readonly string[]): string[] {
  return [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits'];
}

// --- running commands ---------------------------------------------------------------------

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** Exit status, or null when the process was killed (timeout). */
  exitCode: number | null;
  timedOut: boolean;
}

/**
 * Runs a program (no shell) and resolves with what it printed, whatever its exit status.
 * Rejects only when it could not be started: err.code 'ENOENT' (not installed), 'EACCES', ...
 */
export type CommandRunner = (file: string, args: readonly string[], options: { timeoutMs: number }) => Promise<CommandResult>;

export const execRunner: CommandRunner = (file, args, { timeoutMs }) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 << 20, windowsHide: true, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
      (error, stdout, stderr) => {
        const e = error as (NodeJS.ErrnoException & { killed?: boolean; signal?: string | null }) | null;
        // A spawn failure has a string code (ENOENT) and no output; an exit status is a number.
        if (e && typeof e.code === 'string' && e.syscall?.startsWith('spawn')) {
          reject(e);
          return;
        }
        const timedOut = Boolean(e?.killed) && e?.signal === 'SIGKILL';
        const exitCode = e ? (typeof e.code === 'number' ? e.code : null) : 0;
        resolve({ stdout: String(stdout ?? ''), stderr: String(stderr ?? ''), exitCode: timedOut ? null : exitCode, timedOut });
      },
    );
  });

// --- parsing -------------------------------------------------------------------------------

export interface NvidiaSmiGpu {
  index: number;
  name: string;
  /** "12.0", or null when the field was not queried or not reported. */
  computeCapability: string | null;
  driver: string | null;
  vramBytes: number | null;
  usedBytes: number | null;
}

export type NvidiaSmiParse =
  | { kind: 'gpus'; gpus: NvidiaSmiGpu[]; /** Lines that were neither data nor known errors (warnings). */ other: string[] }
  | { kind: 'no-devices' }
  | { kind: 'invalid-field'; field: string }
  | { kind: 'driver-error'; problem: DriverProblem; text: string }
  | { kind: 'unreadable'; text: string };

export type DriverProblem = 'version-mismatch' | 'no-communication' | 'nvml-not-found' | 'nvml-error' | 'permission' | 'fallen-off-bus';

const MIB = 1024 * 1024;
const NOT_AVAILABLE = /^\[(N\/A|Not Supported|Unknown Error|Insufficient Permissions|GPU is lost|Requested functionality has been deprecated)\]$|^N\/A$/i;

const DRIVER_ERRORS: ReadonlyArray<[RegExp, DriverProblem]> = [
  [/Driver\/library version mismatch/i, 'version-mismatch'],
  [/couldn't communicate with the NVIDIA driver|could not communicate with the NVIDIA driver/i, 'no-communication'],
  [/NVML Shared Library Not Found|libnvidia-ml\.so.*(not found|cannot open)/i, 'nvml-not-found'],
  [/Insufficient Permissions|Permission denied/i, 'permission'],
  [/GPU is lost|fallen off the bus/i, 'fallen-off-bus'],
  [/Failed to initialize NVML|Unable to determine the device handle|NVML.*error/i, 'nvml-error'],
];

/** Reads nvidia-smi's output for `fields` (stdout and stderr together: it mixes them). */
export function parseNvidiaSmi(output: string, fields: readonly string[] = NVIDIA_SMI_FIELDS): NvidiaSmiParse {
  const text = output.replace(/\r/g, '');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);

  const invalid = /Field "([^"]+)" is not a valid field to query/i.exec(text);
  if (invalid) return { kind: 'invalid-field', field: invalid[1] };

  const gpus: NvidiaSmiGpu[] = [];
  const other: string[] = [];
  for (const line of lines) {
    const gpu = parseLine(line, fields);
    if (gpu) gpus.push(gpu);
    else other.push(line);
  }
  if (gpus.length > 0) return { kind: 'gpus', gpus: gpus.sort((a, b) => a.index - b.index), other };

  for (const [re, problem] of DRIVER_ERRORS) {
    if (re.test(text)) return { kind: 'driver-error', problem, text: lines.join('\n') };
  }
  if (/No devices were found/i.test(text)) return { kind: 'no-devices' };
  if (lines.length === 0) return { kind: 'gpus', gpus: [], other: [] };
  return { kind: 'unreadable', text: lines.join('\n') };
}

/** One CSV line -> a GPU, or null when any field is not of the expected form. */
function parseLine(line: string, fields: readonly string[]): NvidiaSmiGpu | null {
  // nvidia-smi separates fields with ", " and does not quote; GPU names contain no commas.
  const parts = line.split(',').map((p) => p.trim());
  if (parts.length !== fields.length) return null;
  const get = (f: string) => {
    const i = fields.indexOf(f);
    return i < 0 ? undefined : parts[i];
  };
  const index = get('index');
  const name = get('name');
  if (index === undefined || !/^\d{1,3}$/.test(index)) return null;
  if (!name || NOT_AVAILABLE.test(name) || name.startsWith('[')) return null;

  let computeCapability: string | null = null;
  const cc = get('compute_cap');
  if (cc !== undefined) {
    if (/^\d{1,2}\.\d$/.test(cc)) computeCapability = cc;
    else if (!NOT_AVAILABLE.test(cc)) return null;
  }
  let driver: string | null = null;
  const dv = get('driver_version');
  if (dv !== undefined) {
    if (/^\d+(\.\d+){1,3}$/.test(dv)) driver = dv;
    else if (!NOT_AVAILABLE.test(dv)) return null;
  }
  const mib = (v: string | undefined): number | null | false => {
    if (v === undefined) return null;
    if (/^\d+$/.test(v)) return Number(v) * MIB;
    return NOT_AVAILABLE.test(v) ? null : false;
  };
  const total = mib(get('memory.total'));
  const used = mib(get('memory.used'));
  if (total === false || used === false) return null;
  return { index: Number(index), name, computeCapability, driver, vramBytes: total, usedBytes: used };
}

/** A sentence a non-expert can act on, for a driver nvidia-smi could not talk to. */
export function explainDriverProblem(problem: DriverProblem, text: string): string {
  const nvmlVersion = /NVML library version:\s*([\d.]+)/i.exec(text)?.[1];
  switch (problem) {
    case 'version-mismatch':
      return (
        'An NVIDIA GPU driver is installed, but the running driver and its libraries have different versions ' +
        `(${nvmlVersion ? `the libraries are version ${nvmlVersion}; ` : ''}this usually happens after a driver update): ` +
        'restart the computer, then the GPU can be used.'
      );
    case 'no-communication':
      return (
        'The NVIDIA driver is installed but not running (nvidia-smi could not talk to it): ' +
        'restart the computer, or reinstall the NVIDIA driver (on a new kernel, or with Secure Boot on, its module may not load).'
      );
    case 'nvml-not-found':
      return 'nvidia-smi is installed but the NVIDIA driver library (libnvidia-ml) is missing: reinstall the NVIDIA driver.';
    case 'permission':
      return 'This user is not allowed to use the NVIDIA GPU (permission denied): ask an administrator to give access to the GPU devices.';
    case 'fallen-off-bus':
      return 'The NVIDIA GPU stopped responding ("fallen off the bus"): restart the computer; if it happens again, check the card and its power cables.';
    case 'nvml-error':
      return (
        `The NVIDIA driver reported an error (${firstLine(text)}): restart the computer or reinstall the NVIDIA driver; ` +
        'inside a container, start it with GPU access (--gpus all).'
      );
  }
}

function firstLine(text: string): string {
  const l = text.split('\n')[0].trim();
  return l.length > 120 ? `${l.slice(0, 117)}...` : l;
}

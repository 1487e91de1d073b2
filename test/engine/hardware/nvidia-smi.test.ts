import { describe, expect, it } from 'vitest';
import {
  NVIDIA_SMI_FIELDS,
  NVIDIA_SMI_FIELDS_NO_CC,
  execRunner,
  explainDriverProblem,
  nvidiaSmiArgs,
  parseNvidiaSmi,
} from '../../../src/engine/hardware/nvidia-smi';
import { ALL_CASES, caseResult, caseSpec, fixtureText } from './fixtures';

const MiB = 1024 * 1024;

describe('nvidia-smi fixtures', () => {
  it('every recorded case is covered by a test below', () => {
    expect(ALL_CASES.sort()).toEqual(
      [
        'couldnt-communicate',
        'driver-mismatch',
        'h100',
        'h200',
        'multi-gpu',
        'no-devices',
        'not-installed',
        'old-driver-no-compute-cap',
        'old-driver-retry',
        'rtx-5060-ti',
      ].sort(),
    );
  });

  it('rtx-5060-ti: one Blackwell GPU, compute capability 12.0', () => {
    const r = caseResult('rtx-5060-ti');
    expect(r.stdout).toBe('0, NVIDIA GeForce RTX 5060 Ti, 12.0, 576.88, 16311, 1024\n');
    expect(parseNvidiaSmi(r.stdout)).toEqual({
      kind: 'gpus',
      gpus: [{ index: 0, name: 'NVIDIA GeForce RTX 5060 Ti', computeCapability: '12.0', driver: '576.88', vramBytes: 16311 * MiB, usedBytes: 1024 * MiB }],
      other: [],
    });
  });

  it('h100 and h200: Hopper, 9.0', () => {
    const h100 = parseNvidiaSmi(caseResult('h100').stdout);
    const h200 = parseNvidiaSmi(caseResult('h200').stdout);
    expect(h100.kind === 'gpus' && h100.gpus[0]).toMatchObject({ name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', driver: '550.54.15', vramBytes: 81559 * MiB });
    expect(h200.kind === 'gpus' && h200.gpus[0]).toMatchObject({ name: 'NVIDIA H200', computeCapability: '9.0', driver: '570.124.06', vramBytes: 143771 * MiB, usedBytes: 0 });
  });

  it('multi-gpu: four GPUs in index order', () => {
    const p = parseNvidiaSmi(caseResult('multi-gpu').stdout);
    expect(p.kind).toBe('gpus');
    if (p.kind !== 'gpus') return;
    expect(p.gpus.map((g) => g.index)).toEqual([0, 1, 2, 3]);
    expect(new Set(p.gpus.map((g) => g.name))).toEqual(new Set(['NVIDIA A100-SXM4-80GB']));
    expect(p.gpus[2].usedBytes).toBe(61273 * MiB);
  });

  it('old driver: compute_cap is an invalid field (exit 2), and the retry without it parses', () => {
    const first = caseResult('old-driver-no-compute-cap');
    expect(first.exitCode).toBe(2);
    expect(parseNvidiaSmi(first.stdout)).toEqual({ kind: 'invalid-field', field: 'compute_cap' });

    const retryFields = caseSpec('old-driver-retry').fields!;
    expect(retryFields).toEqual([...NVIDIA_SMI_FIELDS_NO_CC]);
    const retry = parseNvidiaSmi(caseResult('old-driver-retry').stdout, retryFields);
    expect(retry).toEqual({
      kind: 'gpus',
      gpus: [0, 1].map((index) => ({ index, name: 'Tesla K80', computeCapability: null, driver: '470.182.03', vramBytes: 11441 * MiB, usedBytes: 0 })),
      other: [],
    });
    // Read with the wrong field list, the same lines are not taken for GPUs.
    expect(parseNvidiaSmi(caseResult('old-driver-retry').stdout, NVIDIA_SMI_FIELDS).kind).toBe('unreadable');
  });

  it('driver/library version mismatch on stdout: a driver error, no GPU', () => {
    const r = caseResult('driver-mismatch');
    expect(r.exitCode).toBe(18);
    const p = parseNvidiaSmi(r.stdout);
    expect(p).toMatchObject({ kind: 'driver-error', problem: 'version-mismatch' });
    if (p.kind !== 'driver-error') return;
    const sentence = explainDriverProblem(p.problem, p.text);
    expect(sentence).toMatch(/restart the computer/);
    expect(sentence).toContain('550.144');
  });

  it("couldn't communicate with the driver (exit 9): a driver error, no GPU", () => {
    const r = caseResult('couldnt-communicate');
    expect(r.exitCode).toBe(9);
    const p = parseNvidiaSmi(r.stdout);
    expect(p).toMatchObject({ kind: 'driver-error', problem: 'no-communication' });
    if (p.kind === 'driver-error') expect(explainDriverProblem(p.problem, p.text)).toMatch(/not running.*restart the computer, or reinstall the NVIDIA driver/);
  });

  it('the same errors with exit code 0 are still errors (the exit code is not trusted)', () => {
    expect(parseNvidiaSmi(fixtureText('driver-mismatch.txt')).kind).toBe('driver-error');
    expect(parseNvidiaSmi(fixtureText('couldnt-communicate.txt')).kind).toBe('driver-error');
  });

  it('no devices were found (exit 6)', () => {
    const r = caseResult('no-devices');
    expect(r.exitCode).toBe(6);
    expect(parseNvidiaSmi(r.stdout)).toEqual({ kind: 'no-devices' });
  });

  it('not installed: the runner throws ENOENT', () => {
    expect(() => caseResult('not-installed')).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'spawn nvidia-smi' }));
  });
});

describe('parseNvidiaSmi validation', () => {
  it('accepts [N/A] memory (unified-memory systems) and keeps the GPU', () => {
    const p = parseNvidiaSmi('0, NVIDIA GB10, 12.1, 580.95.05, [N/A], [N/A]\n');
    expect(p).toMatchObject({ kind: 'gpus', gpus: [{ name: 'NVIDIA GB10', computeCapability: '12.1', vramBytes: null, usedBytes: null }] });
  });

  it('keeps GPU lines and reports warnings mixed into the output', () => {
    const p = parseNvidiaSmi('WARNING: infoROM is corrupted at gpu 0000:01:00.0\n0, NVIDIA GeForce RTX 3090, 8.6, 550.120, 24576, 300\n');
    expect(p).toMatchObject({ kind: 'gpus', gpus: [{ name: 'NVIDIA GeForce RTX 3090' }], other: ['WARNING: infoROM is corrupted at gpu 0000:01:00.0'] });
  });

  it('rejects lines with the wrong number or form of fields', () => {
    for (const bad of [
      '0, NVIDIA GeForce RTX 3090, 8.6, 550.120, 24576\n', // a field missing
      'x, NVIDIA GeForce RTX 3090, 8.6, 550.120, 24576, 300\n', // index not a number
      '0, NVIDIA GeForce RTX 3090, sm_86, 550.120, 24576, 300\n', // capability not X.Y
      '0, NVIDIA GeForce RTX 3090, 8.6, 550.120, 24 GB, 300\n', // units despite nounits
      '0, NVIDIA GeForce RTX 3090, 8.6, five, 24576, 300\n',
    ]) {
      expect(parseNvidiaSmi(bad).kind, bad).toBe('unreadable');
    }
  });

  it('reads CRLF output (Windows) and ignores blank lines', () => {
    const p = parseNvidiaSmi('0, NVIDIA GeForce RTX 4090, 8.9, 566.36, 24564, 1205\r\n\r\n');
    expect(p).toMatchObject({ kind: 'gpus', gpus: [{ computeCapability: '8.9', driver: '566.36' }] });
  });

  it('recognises other NVML failures', () => {
    expect(parseNvidiaSmi('Failed to initialize NVML: Unknown Error\n')).toMatchObject({ kind: 'driver-error', problem: 'nvml-error' });
    expect(parseNvidiaSmi('NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.\n')).toMatchObject({ problem: 'no-communication' });
    expect(parseNvidiaSmi('Unable to determine the device handle for GPU0000:01:00.0: GPU is lost.  Reboot the system to recover this GPU\n')).toMatchObject({
      kind: 'driver-error',
      problem: 'fallen-off-bus',
    });
  });

  it('empty output is no GPU; nonsense is unreadable', () => {
    expect(parseNvidiaSmi('')).toEqual({ kind: 'gpus', gpus: [], other: [] });
    expect(parseNvidiaSmi('Segmentation fault\n')).toMatchObject({ kind: 'unreadable' });
  });

  it('builds the documented query', () => {
    expect(nvidiaSmiArgs(NVIDIA_SMI_FIELDS)).toEqual([
      '--query-gpu=index,name,compute_cap,driver_version,memory.total,memory.used',
      '--format=csv,noheader,nounits',
    ]);
  });
});

describe('execRunner', () => {
  it('rejects with ENOENT for a missing program', async () => {
    await expect(execRunner('distill-studio-no-such-program', [], { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('resolves with stdout and the exit status, even when it is not 0', async () => {
    const r = await execRunner(process.execPath, ['-e', 'process.stdout.write("Failed to initialize NVML: Driver/library version mismatch\\n"); process.exit(18)'], {
      timeoutMs: 10_000,
    });
    expect(r).toMatchObject({ exitCode: 18, timedOut: false });
    expect(parseNvidiaSmi(r.stdout).kind).toBe('driver-error');
  });

  it('kills a program that hangs and says it timed out', async () => {
    const r = await execRunner(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import {
  ORT_CUDA12_LINUX_X64,
  ORT_CUDA13_LINUX_X64,
  ORT_CUDA_UNKNOWN_LINUX_X64,
  capabilityStatus,
  compareDriverVersions,
  describeCoverage,
  ortCudaSupport,
  type CudaBuildSupport,
} from '../../../src/engine/hardware/cuda-support';
import { architectureName, lookupComputeCapability, parseComputeCapability } from '../../../src/engine/hardware/gpu-table';

describe('lookupComputeCapability', () => {
  // Names as nvidia-smi (new and old drivers) and lspci print them.
  const cases: [string, string | null][] = [
    // Blackwell
    ['NVIDIA GeForce RTX 5060 Ti', '12.0'],
    ['NVIDIA GeForce RTX 5090', '12.0'],
    ['GB206 [GeForce RTX 5060 Ti]', '12.0'],
    ['NVIDIA RTX PRO 6000 Blackwell Workstation Edition', '12.0'],
    ['NVIDIA B200', '10.0'],
    ['NVIDIA GB200', '10.0'],
    ['NVIDIA B300', '10.3'],
    ['NVIDIA GB10', '12.1'],
    // Hopper
    ['NVIDIA H100 80GB HBM3', '9.0'],
    ['NVIDIA H100 PCIe', '9.0'],
    ['NVIDIA H200', '9.0'],
    ['NVIDIA GH200 480GB', '9.0'],
    ['GH100 [H100 SXM5 80GB]', '9.0'],
    // Ada
    ['NVIDIA GeForce RTX 4090', '8.9'],
    ['NVIDIA GeForce RTX 4060 Laptop GPU', '8.9'],
    ['NVIDIA RTX 6000 Ada Generation', '8.9'],
    ['NVIDIA RTX 4000 SFF Ada Generation', '8.9'],
    ['NVIDIA L4', '8.9'],
    ['NVIDIA L40S', '8.9'],
    // Ampere
    ['NVIDIA A100-SXM4-80GB', '8.0'],
    ['NVIDIA A100 80GB PCIe', '8.0'],
    ['NVIDIA A30', '8.0'],
    ['NVIDIA A10G', '8.6'],
    ['NVIDIA A10', '8.6'],
    ['NVIDIA A40', '8.6'],
    ['NVIDIA RTX A6000', '8.6'],
    ['NVIDIA RTX A2000 12GB', '8.6'],
    ['NVIDIA GeForce RTX 3090 Ti', '8.6'],
    ['NVIDIA GeForce RTX 3060', '8.6'],
    ['GA102 [GeForce RTX 3090]', '8.6'],
    // Turing
    ['Tesla T4', '7.5'],
    ['NVIDIA T1000', '7.5'],
    ['Quadro RTX 6000', '7.5'],
    ['NVIDIA TITAN RTX', '7.5'],
    ['NVIDIA GeForce RTX 2080 SUPER', '7.5'],
    ['NVIDIA GeForce GTX 1650', '7.5'],
    // Volta
    ['Tesla V100-SXM2-16GB', '7.0'],
    ['NVIDIA TITAN V', '7.0'],
    // Pascal
    ['Tesla P100-PCIE-16GB', '6.0'],
    ['Tesla P40', '6.1'],
    ['NVIDIA GeForce GTX 1080 Ti', '6.1'],
    ['GeForce GTX 1080 Ti', '6.1'],
    ['TITAN X (Pascal)', '6.1'],
    ['NVIDIA TITAN Xp', '6.1'],
    ['NVIDIA GeForce MX150', '6.1'],
    // Maxwell
    ['GeForce GTX TITAN X', '5.2'],
    ['GeForce GTX 970', '5.2'],
    ['Tesla M60', '5.2'],
    ['GeForce GTX 750 Ti', '5.0'],
    // Kepler
    ['Tesla K80', '3.7'],
    ['Tesla K40m', '3.5'],
    ['Tesla K20Xm', '3.5'],
    ['GeForce GTX 780', '3.5'],
    ['GeForce GTX 680', '3.0'],
    // Unknown: no guess
    ['NVIDIA Graphics Device', null],
    ['NVIDIA Device 2d04', null],
    ['', null],
  ];
  it.each(cases)('%s -> %s', (name, cc) => {
    expect(lookupComputeCapability(name)).toBe(cc);
  });
});

describe('architectureName', () => {
  it('names each generation', () => {
    expect(['3.7', '5.2', '6.1', '7.0', '7.5', '8.0', '8.6', '8.9', '9.0', '10.0', '12.0'].map(architectureName)).toEqual([
      'Kepler',
      'Maxwell',
      'Pascal',
      'Volta',
      'Turing',
      'Ampere',
      'Ampere',
      'Ada Lovelace',
      'Hopper',
      'Blackwell',
      'Blackwell',
    ]);
    expect(architectureName('sm_86')).toBeNull();
    expect(parseComputeCapability('12.0')).toEqual({ major: 12, minor: 0 });
  });
});

describe('CUDA build support', () => {
  it('the CUDA 12 build: 6.0 to 9.0 and 12.0 have machine code; Kepler is too old; Maxwell and 10.x have none', () => {
    const b = ORT_CUDA12_LINUX_X64;
    expect(describeCoverage(b)).toBe('6.0 to 9.0 and 12.0');
    expect(capabilityStatus('12.0', b)).toBe('native'); // RTX 5060 Ti: sm_120a
    expect(capabilityStatus('9.0', b)).toBe('native'); // H100/H200: sm_90a
    expect(capabilityStatus('8.9', b)).toBe('native');
    expect(capabilityStatus('8.7', b)).toBe('native'); // Orin runs sm_80 code
    expect(capabilityStatus('6.1', b)).toBe('native'); // GTX 1080 runs sm_60 code
    expect(capabilityStatus('3.5', b)).toBe('too-old');
    expect(capabilityStatus('5.2', b)).toBe('no-kernels');
    expect(capabilityStatus('10.0', b)).toBe('no-kernels'); // sm_90a/sm_120a code runs on those GPUs only
    expect(capabilityStatus('12.1', b)).toBe('no-kernels');
  });

  it('the CUDA 13 build drops everything before Turing', () => {
    const b = ORT_CUDA13_LINUX_X64;
    expect(describeCoverage(b)).toBe('7.5 to 9.0 and 12.0');
    expect(capabilityStatus('6.1', b)).toBe('too-old');
    expect(capabilityStatus('7.0', b)).toBe('too-old');
    expect(capabilityStatus('7.5', b)).toBe('native');
    expect(capabilityStatus('12.0', b)).toBe('native');
    expect(b.minDriverLinux).toBe('580.65.06');
  });

  it('before the download, either build may come: a GPU counts as covered if one of them covers it', () => {
    expect(ortCudaSupport(null)).toBe(ORT_CUDA_UNKNOWN_LINUX_X64);
    expect(ortCudaSupport(12)).toBe(ORT_CUDA12_LINUX_X64);
    expect(ortCudaSupport(13)).toBe(ORT_CUDA13_LINUX_X64);
    expect(capabilityStatus('6.1', ORT_CUDA_UNKNOWN_LINUX_X64)).toBe('native');
    expect(capabilityStatus('3.7', ORT_CUDA_UNKNOWN_LINUX_X64)).toBe('too-old');
  });

  it('PTX targets: plain ones serve every newer GPU, architecture-specific ones ("90a") only their own', () => {
    const withPtx: CudaBuildSupport = { ...ORT_CUDA12_LINUX_X64, sass: ['7.5', '8.0'], ptx: ['9.0'] };
    expect(capabilityStatus('12.0', withPtx)).toBe('jit');
    expect(capabilityStatus('9.0', withPtx)).toBe('jit');
    expect(capabilityStatus('8.6', withPtx)).toBe('native');
    const ptx90a: CudaBuildSupport = { ...withPtx, ptx: ['9.0a'] };
    expect(capabilityStatus('12.0', ptx90a)).toBe('no-kernels'); // ORT 1.23.0 on Blackwell
    expect(capabilityStatus('9.0', ptx90a)).toBe('jit');
    expect(() => capabilityStatus('sm_90', withPtx)).toThrow(RangeError);
  });

  it('compares driver versions numerically', () => {
    expect(compareDriverVersions('576.88', '525.60.13')! > 0).toBe(true);
    expect(compareDriverVersions('470.182.03', '525.60.13')! < 0).toBe(true);
    expect(compareDriverVersions('580.65.06', '580.65.06')).toBe(0);
    expect(compareDriverVersions('575.64.03', '580.65.06')! < 0).toBe(true);
    expect(compareDriverVersions('unknown', '580.65.06')).toBeNull();
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cudaMajorFromNeeded, cudnnMajorFromNeeded, parseElfDynamic, readElfDynamic } from '../../../src/engine/gpu-pack/elf';
import { CUDA13_NEEDS, fakeElf } from './nupkg';

const reader = (b: Buffer) => async (offset: number, length: number) => b.subarray(offset, offset + length);

describe('ELF dynamic section', () => {
  it('reads DT_NEEDED and DT_SONAME, translating the string table address', async () => {
    const elf = fakeElf({ needed: CUDA13_NEEDS, soname: 'libonnxruntime_providers_cuda.so', padding: 1000, loadAddress: 0x400000 });
    expect(await parseElfDynamic(reader(elf))).toEqual({ needed: CUDA13_NEEDS, soname: 'libonnxruntime_providers_cuda.so' });
  });

  it('reads a file on disk', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'distill-elf-'));
    try {
      const file = path.join(dir, 'lib.so');
      writeFileSync(file, fakeElf({ needed: ['libcudart.so.12', 'libcudnn.so.9'], padding: 200_000 }));
      const info = await readElfDynamic(file);
      expect(info?.needed).toEqual(['libcudart.so.12', 'libcudnn.so.9']);
      expect(info?.soname).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the real onnxruntime binding of this machine (when it is a Linux x64 ELF)', async () => {
    if (process.platform !== 'linux' || process.arch !== 'x64') return;
    const { defaultOrtBinDir } = await import('../../../src/engine/runtime/providers');
    const info = await readElfDynamic(path.join(defaultOrtBinDir(), 'onnxruntime_binding.node'));
    expect(info?.needed).toContain('libonnxruntime.so.1');
  });

  it('anything that is not ELF64 little-endian gives null', async () => {
    expect(await parseElfDynamic(reader(Buffer.from('MZ\x90\x00 this is a Windows DLL')))).toBeNull();
    expect(await parseElfDynamic(reader(Buffer.alloc(10)))).toBeNull();
    const elf32 = fakeElf({ needed: ['libc.so.6'] });
    elf32[4] = 1; // ELFCLASS32
    expect(await parseElfDynamic(reader(elf32))).toBeNull();
  });

  it('the CUDA and cuDNN majors come from the library names', () => {
    expect(cudaMajorFromNeeded(CUDA13_NEEDS)).toBe(13);
    expect(cudaMajorFromNeeded(['libcublasLt.so.12', 'libcublas.so.12', 'libcufft.so.11'])).toBe(12);
    expect(cudaMajorFromNeeded(['libc.so.6'])).toBeNull();
    expect(cudnnMajorFromNeeded(CUDA13_NEEDS)).toBe(9);
  });
});

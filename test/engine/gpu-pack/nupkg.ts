// Builds a stand-in for Microsoft.ML.OnnxRuntime.Gpu.Linux.<ver>.nupkg: a zip with NuGet's
// layout and small fake provider libraries that are real (tiny) ELF files with DT_NEEDED entries.
import { createHash } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipEntrySpec {
  name: string;
  data: Uint8Array;
  /** Deflate (default) or store. */
  store?: boolean;
}

/** A plain zip archive (local headers, central directory, end record). */
export function buildZip(entries: ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const data = Buffer.from(e.data);
    const body = e.store ? data : deflateRawSync(data);
    const crc = crc32(data) >>> 0;
    const method = e.store ? 0 : 8;
    const local = Buffer.alloc(30 + name.length);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    name.copy(local, 30);
    const central = Buffer.alloc(46 + name.length);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    name.copy(central, 46);
    locals.push(local, body);
    centrals.push(central);
    offset += local.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Deterministic, incompressible bytes. */
export function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export interface FakeElfOptions {
  needed: string[];
  soname?: string;
  /** Bytes of filler after the tables (a stand-in for code). */
  padding?: number;
  seed?: number;
  /** Virtual address the file is loaded at (DT_STRTAB is an address, not an offset). */
  loadAddress?: number;
}

/** A minimal ELF64 little-endian shared object: header, PT_LOAD + PT_DYNAMIC, a string table. */
export function fakeElf(o: FakeElfOptions): Buffer {
  const base = o.loadAddress ?? 0x1000;
  const strings: string[] = ['', ...o.needed, ...(o.soname ? [o.soname] : [])];
  const strOffsets: number[] = [];
  let strtab = Buffer.alloc(0);
  for (const s of strings) {
    strOffsets.push(strtab.length);
    strtab = Buffer.concat([strtab, Buffer.from(s, 'utf8'), Buffer.from([0])]);
  }
  const phoff = 64;
  const phnum = 2;
  const strOff = phoff + 56 * phnum;
  const dynOff = Math.ceil((strOff + strtab.length) / 8) * 8;
  const dynEntries: [number, number][] = [
    ...o.needed.map((_, i) => [1, strOffsets[i + 1]] as [number, number]), // DT_NEEDED
    ...(o.soname ? [[14, strOffsets[strings.length - 1]] as [number, number]] : []), // DT_SONAME
    [5, base + strOff], // DT_STRTAB (an address)
    [10, strtab.length], // DT_STRSZ
    [0, 0], // DT_NULL
  ];
  const dyn = Buffer.alloc(dynEntries.length * 16);
  dynEntries.forEach(([tag, val], i) => {
    dyn.writeBigInt64LE(BigInt(tag), i * 16);
    dyn.writeBigUInt64LE(BigInt(val), i * 16 + 8);
  });
  const padding = noise(o.padding ?? 0, o.seed ?? 7);
  const size = dynOff + dyn.length + padding.length;

  const head = Buffer.alloc(64);
  head.writeUInt32BE(0x7f454c46, 0);
  head[4] = 2; // ELFCLASS64
  head[5] = 1; // little-endian
  head[6] = 1; // EV_CURRENT
  head.writeUInt16LE(3, 16); // ET_DYN
  head.writeUInt16LE(62, 18); // EM_X86_64
  head.writeUInt32LE(1, 20);
  head.writeBigUInt64LE(BigInt(phoff), 32);
  head.writeUInt16LE(64, 52);
  head.writeUInt16LE(56, 54);
  head.writeUInt16LE(phnum, 56);
  head.writeUInt16LE(64, 58);

  const ph = Buffer.alloc(56 * phnum);
  const segment = (i: number, type: number, offset: number, filesz: number) => {
    ph.writeUInt32LE(type, i * 56);
    ph.writeUInt32LE(4, i * 56 + 4); // PF_R
    ph.writeBigUInt64LE(BigInt(offset), i * 56 + 8);
    ph.writeBigUInt64LE(BigInt(base + offset), i * 56 + 16);
    ph.writeBigUInt64LE(BigInt(base + offset), i * 56 + 24);
    ph.writeBigUInt64LE(BigInt(filesz), i * 56 + 32);
    ph.writeBigUInt64LE(BigInt(filesz), i * 56 + 40);
  };
  segment(0, 1, 0, size); // PT_LOAD: the whole file
  segment(1, 2, dynOff, dyn.length); // PT_DYNAMIC

  const out = Buffer.alloc(size);
  head.copy(out, 0);
  ph.copy(out, phoff);
  strtab.copy(out, strOff);
  dyn.copy(out, dynOff);
  padding.copy(out, dynOff + dyn.length);
  return out;
}

export const CUDA13_NEEDS = [
  'libonnxruntime_providers_shared.so',
  'libcublasLt.so.13',
  'libcublas.so.13',
  'libcurand.so.10',
  'libcufft.so.12',
  'libcudart.so.13',
  'libcudnn.so.9',
  'libstdc++.so.6',
  'libc.so.6',
];

export interface FakePackage {
  bytes: Buffer;
  cudaLib: Buffer;
  sharedLib: Buffer;
  sha256: string;
  /** Base64, as NuGet's catalog publishes it. */
  sha512: string;
}

/** A .nupkg with NuGet's files and the native libraries under runtimes/linux-x64/native. */
export function buildNupkg(opts: { version?: string; cudaPadding?: number; needs?: string[]; omit?: string[] } = {}): FakePackage {
  const version = opts.version ?? '1.30.0';
  const cudaLib = fakeElf({ needed: opts.needs ?? CUDA13_NEEDS, soname: 'libonnxruntime_providers_cuda.so', padding: opts.cudaPadding ?? 400_000, seed: 11 });
  const sharedLib = fakeElf({ needed: ['libc.so.6'], soname: 'libonnxruntime_providers_shared.so', padding: 5_000, seed: 12 });
  const trtLib = fakeElf({ needed: ['libnvinfer.so.10'], padding: 20_000, seed: 13 });
  const nuspec = `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>Microsoft.ML.OnnxRuntime.Gpu.Linux</id>
    <version>${version}</version>
    <authors>Microsoft</authors>
    <description>This package contains Linux native shared library artifacts for ONNX Runtime with CUDA.</description>
  </metadata>
</package>
`;
  const entries: ZipEntrySpec[] = [
    { name: '_rels/.rels', data: Buffer.from('<?xml version="1.0" encoding="utf-8"?><Relationships/>') },
    { name: 'Microsoft.ML.OnnxRuntime.Gpu.Linux.nuspec', data: Buffer.from(nuspec) },
    { name: 'runtimes/linux-x64/native/libonnxruntime_providers_cuda.so', data: cudaLib },
    { name: 'runtimes/linux-x64/native/libonnxruntime_providers_shared.so', data: sharedLib, store: true },
    { name: 'runtimes/linux-x64/native/libonnxruntime_providers_tensorrt.so', data: trtLib },
    { name: 'buildTransitive/net8.0/Microsoft.ML.OnnxRuntime.Gpu.Linux.targets', data: Buffer.from('<Project/>') },
    { name: '[Content_Types].xml', data: Buffer.from('<?xml version="1.0" encoding="utf-8"?><Types/>') },
    { name: 'package/services/metadata/core-properties/0.psmdcp', data: Buffer.from('<coreProperties/>') },
    { name: '.signature.p7s', data: noise(9000, 5), store: true },
  ].filter((e) => !(opts.omit ?? []).includes(e.name));
  const bytes = buildZip(entries);
  return {
    bytes,
    cudaLib,
    sharedLib,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    sha512: createHash('sha512').update(bytes).digest('base64'),
  };
}

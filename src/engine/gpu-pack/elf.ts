// The shared libraries a Linux library asks for (DT_NEEDED), read from its ELF dynamic section.
//
// The GPU pack uses this to learn which CUDA the downloaded provider was built against
// (libcudart.so.12 or libcudart.so.13) and which cuDNN (libcudnn.so.9): the NuGet package
// does not say so anywhere else, and the answer decides which GPUs and drivers can work.
// Only 64-bit little-endian ELF (Linux x64) is read; anything else gives null.

import { open } from 'node:fs/promises';

export interface ElfDynamicInfo {
  /** DT_NEEDED entries, in order: "libcudart.so.13", "libcudnn.so.9", ... */
  needed: string[];
  /** DT_SONAME, when present. */
  soname: string | null;
}

/** Reads `length` bytes at `offset` (fewer at the end of the file). */
export type ByteReader = (offset: number, length: number) => Promise<Uint8Array>;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const MAX_DYNAMIC = 1 << 20;
const MAX_STRTAB = 64 << 20;

/** DT_NEEDED and DT_SONAME of an ELF64 little-endian file, or null when it is not one (or is malformed). */
export async function parseElfDynamic(read: ByteReader): Promise<ElfDynamicInfo | null> {
  const head = Buffer.from(await read(0, 64));
  if (head.length < 64 || head.readUInt32BE(0) !== 0x7f454c46) return null; // "\x7fELF"
  if (head[4] !== 2 || head[5] !== 1) return null; // ELFCLASS64, ELFDATA2LSB
  const phoff = Number(head.readBigUInt64LE(32));
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  if (phentsize < 56 || phnum === 0 || phnum > 4096) return null;

  const ph = Buffer.from(await read(phoff, phentsize * phnum));
  if (ph.length < phentsize * phnum) return null;
  const loads: { offset: number; vaddr: number; filesz: number }[] = [];
  let dynamic: { offset: number; filesz: number } | null = null;
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    const type = ph.readUInt32LE(at);
    const seg = { offset: Number(ph.readBigUInt64LE(at + 8)), vaddr: Number(ph.readBigUInt64LE(at + 16)), filesz: Number(ph.readBigUInt64LE(at + 32)) };
    if (type === PT_LOAD) loads.push(seg);
    else if (type === PT_DYNAMIC) dynamic = seg;
  }
  if (!dynamic) return { needed: [], soname: null }; // a static binary

  const dyn = Buffer.from(await read(dynamic.offset, Math.min(dynamic.filesz, MAX_DYNAMIC)));
  const neededOffsets: number[] = [];
  let soname: number | null = null;
  let strtab: number | null = null;
  let strsz: number | null = null;
  for (let at = 0; at + 16 <= dyn.length; at += 16) {
    const tag = Number(dyn.readBigInt64LE(at));
    const val = Number(dyn.readBigUInt64LE(at + 8));
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) neededOffsets.push(val);
    else if (tag === DT_SONAME) soname = val;
    else if (tag === DT_STRTAB) strtab = val;
    else if (tag === DT_STRSZ) strsz = val;
  }
  if (strtab === null || strsz === null || strsz > MAX_STRTAB) return null;
  // DT_STRTAB is an address in memory: find the file bytes loaded there.
  const load = loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.filesz);
  const strOffset = load ? load.offset + (strtab - load.vaddr) : strtab;
  const strings = Buffer.from(await read(strOffset, strsz));
  const at = (o: number): string | null => {
    if (o < 0 || o >= strings.length) return null;
    const end = strings.indexOf(0, o);
    return strings.toString('utf8', o, end < 0 ? strings.length : end);
  };
  const needed = neededOffsets.map(at).filter((s): s is string => s !== null && s.length > 0);
  return { needed, soname: soname === null ? null : at(soname) };
}

/** parseElfDynamic for a file on disk (reads only the headers and tables it needs). */
export async function readElfDynamic(file: string): Promise<ElfDynamicInfo | null> {
  const fh = await open(file, 'r');
  try {
    return await parseElfDynamic(async (offset, length) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    });
  } finally {
    await fh.close();
  }
}

/** The CUDA major version a library links against (libcudart.so.13 -> 13), or null. */
export function cudaMajorFromNeeded(needed: readonly string[]): number | null {
  for (const re of [/^libcudart\.so\.(\d+)/, /^libcublas(?:Lt)?\.so\.(\d+)/]) {
    for (const lib of needed) {
      const m = re.exec(lib);
      if (m) return Number(m[1]);
    }
  }
  return null;
}

/** The cuDNN major version a library links against (libcudnn.so.9 -> 9), or null. */
export function cudnnMajorFromNeeded(needed: readonly string[]): number | null {
  for (const lib of needed) {
    const m = /^libcudnn\.so\.(\d+)/.exec(lib);
    if (m) return Number(m[1]);
  }
  return null;
}

// Test helpers: a small pickle writer and a STORED/DEFLATE zip writer, enough to build
// pytorch_model.bin files the way torch.save lays them out (and malicious ones).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import type { CheckpointDtype } from '../../../src/engine/checkpoint/tensor';

// --- pickle ---------------------------------------------------------------------------

export class PickleWriter {
  private readonly parts: number[] = [];
  private readonly memo = new Map<string, number>();

  private u8(...v: number[]): this {
    this.parts.push(...v);
    return this;
  }
  private le(v: number, n: number): this {
    for (let i = 0; i < n; i++) this.parts.push(Math.floor(v / 2 ** (8 * i)) & 0xff);
    return this;
  }
  raw(bytes: Uint8Array | number[]): this {
    return this.u8(...bytes);
  }
  proto(v = 2): this {
    return this.u8(0x80, v);
  }
  mark(): this {
    return this.u8(0x28);
  }
  emptyDict(): this {
    return this.u8(0x7d);
  }
  emptyList(): this {
    return this.u8(0x5d);
  }
  emptyTuple(): this {
    return this.u8(0x29);
  }
  /** TUPLE (from MARK). */
  tuple(): this {
    return this.u8(0x74);
  }
  tupleN(n: 1 | 2 | 3): this {
    return this.u8(0x84 + n);
  }
  /** A tuple of small ints, encoded as torch does (TUPLE1/2/3 or MARK...TUPLE). */
  intTuple(values: readonly number[]): this {
    if (values.length === 0) return this.emptyTuple();
    if (values.length > 3) this.mark();
    for (const v of values) this.int(v);
    return values.length > 3 ? this.tuple() : this.tupleN(values.length as 1 | 2 | 3);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u8(0x58).le(b.length, 4).u8(...b);
  }
  shortStr(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u8(0x8c, b.length, ...b);
  }
  int(v: number | bigint): this {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 256) return this.u8(0x4b, v);
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 65536) return this.u8(0x4d).le(v, 2);
    if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return this.u8(0x4a).le(v >>> 0, 4);
    // LONG1: little-endian two's complement, minimal length
    let big = BigInt(v);
    const bytes: number[] = [];
    const negative = big < 0n;
    while (true) {
      bytes.push(Number(big & 0xffn));
      big >>= 8n;
      const sign = (bytes[bytes.length - 1] & 0x80) !== 0;
      if ((!negative && big === 0n && !sign) || (negative && big === -1n && sign)) break;
    }
    return this.u8(0x8a, bytes.length, ...bytes);
  }
  float(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    return this.u8(0x47, ...b);
  }
  bool(v: boolean): this {
    return this.u8(v ? 0x88 : 0x89);
  }
  none(): this {
    return this.u8(0x4e);
  }
  bytes(b: Uint8Array): this {
    return this.u8(0x43, b.length, ...b);
  }
  /** GLOBAL, memoised like pickle does: the first use writes it and BINPUTs, later ones BINGET. */
  global(module: string, name: string): this {
    const key = `${module}\n${name}`;
    const slot = this.memo.get(key);
    if (slot !== undefined) return this.binget(slot);
    this.u8(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
    const i = this.memo.size;
    this.memo.set(key, i);
    return this.binput(i);
  }
  /** GLOBAL without memo (exactly the bytes a hand-written exploit uses). */
  globalRaw(module: string, name: string): this {
    return this.u8(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  stackGlobal(module: string, name: string): this {
    return this.shortStr(module).shortStr(name).u8(0x93);
  }
  inst(module: string, name: string): this {
    return this.u8(0x69, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  binput(i: number): this {
    return i < 256 ? this.u8(0x71, i) : this.u8(0x72).le(i, 4);
  }
  binget(i: number): this {
    return i < 256 ? this.u8(0x68, i) : this.u8(0x6a).le(i, 4);
  }
  memoize(): this {
    return this.u8(0x94);
  }
  reduce(): this {
    return this.u8(0x52);
  }
  build(): this {
    return this.u8(0x62);
  }
  binpersid(): this {
    return this.u8(0x51);
  }
  setitem(): this {
    return this.u8(0x73);
  }
  setitems(): this {
    return this.u8(0x75);
  }
  append(): this {
    return this.u8(0x61);
  }
  appends(): this {
    return this.u8(0x65);
  }
  stop(): this {
    return this.u8(0x2e);
  }
  toBytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export const STORAGE_TYPE: Record<CheckpointDtype, string> = {
  float32: 'FloatStorage',
  float64: 'DoubleStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
  int64: 'LongStorage',
  int32: 'IntStorage',
  int16: 'ShortStorage',
  int8: 'CharStorage',
  uint8: 'ByteStorage',
  bool: 'BoolStorage',
};

export interface StorageSpec {
  key: string;
  dtype: CheckpointDtype;
  /** Little-endian element bytes. */
  bytes: Uint8Array;
  numel: number;
  /** Storage type name written in the pickle (default: the one for dtype). */
  typeName?: string;
}

export interface TensorSpec {
  name: string;
  storage: StorageSpec;
  offset: number;
  shape: number[];
  stride: number[];
  /** How torch wrapped it: plain tensor, nn.Parameter, or _rebuild_from_type_v2. */
  wrap?: 'tensor' | 'parameter' | 'from-type';
}

/** Writes one `_rebuild_tensor_v2(...)` call the way torch.save does. */
function writeTensor(w: PickleWriter, t: TensorSpec): void {
  w.global('torch._utils', '_rebuild_tensor_v2');
  w.mark();
  w.mark().str('storage').global('torch', t.storage.typeName ?? STORAGE_TYPE[t.storage.dtype]).str(t.storage.key).str('cpu').int(t.storage.numel).tuple().binpersid();
  w.int(t.offset).intTuple(t.shape).intTuple(t.stride).bool(false);
  w.global('collections', 'OrderedDict').emptyTuple().reduce();
  w.tuple().reduce();
}

export interface StateDictOptions {
  /** collections.OrderedDict with HF's `_metadata` state (BUILD), as state_dict() returns; else a plain dict. */
  orderedDict?: boolean;
  /** Extra key/value pairs, written by the callback, inside the same SETITEMS. */
  extraItems?: (w: PickleWriter) => void;
  protocol?: number;
}

/** data.pkl of torch.save(state_dict). */
export function stateDictPickle(tensors: TensorSpec[], options: StateDictOptions = {}): Uint8Array {
  const w = new PickleWriter().proto(options.protocol ?? 2);
  if (options.orderedDict) w.global('collections', 'OrderedDict').emptyTuple().reduce();
  else w.emptyDict();
  w.mark();
  for (const t of tensors) {
    w.str(t.name);
    const wrap = t.wrap ?? 'tensor';
    if (wrap === 'parameter') {
      w.global('torch._utils', '_rebuild_parameter').mark();
      writeTensor(w, t);
      w.bool(true).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
    } else if (wrap === 'from-type') {
      w.global('torch._tensor', '_rebuild_from_type_v2').mark();
      w.global('torch._utils', '_rebuild_tensor_v2').global('torch', 'Tensor');
      // args of _rebuild_tensor_v2 as a tuple
      w.mark();
      w.mark().str('storage').global('torch', t.storage.typeName ?? STORAGE_TYPE[t.storage.dtype]).str(t.storage.key).str('cpu').int(t.storage.numel).tuple().binpersid();
      w.int(t.offset).intTuple(t.shape).intTuple(t.stride).bool(false).global('collections', 'OrderedDict').emptyTuple().reduce();
      w.tuple();
      w.emptyDict().tuple().reduce();
    } else {
      writeTensor(w, t);
    }
  }
  options.extraItems?.(w);
  w.setitems();
  if (options.orderedDict) {
    // state: {'_metadata': OrderedDict([('', {'version': 1})])}
    w.emptyDict().str('_metadata').global('collections', 'OrderedDict').emptyTuple().reduce();
    w.str('').emptyDict().str('version').int(1).setitem().setitem();
    w.setitem().build();
  }
  return w.stop().toBytes();
}

// --- zip --------------------------------------------------------------------------------

export interface ZipFileSpec {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
}

/** A zip archive; STORED entries start at 64-byte boundaries (padding extra field), as torch writes them. */
export function zip(files: ZipFileSpec[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const name = new TextEncoder().encode(f.name);
    const body = f.deflate ? new Uint8Array(deflateRawSync(f.data)) : f.data;
    const crc = crc32(f.data) >>> 0;
    const headerLen = 30 + name.length;
    let extraLen = 0;
    if (!f.deflate) {
      const pad = (64 - ((offset + headerLen) % 64)) % 64;
      extraLen = pad === 0 ? 0 : pad < 4 ? pad + 64 : pad;
    }
    const local = new Uint8Array(headerLen + extraLen);
    const dv = new DataView(local.buffer);
    dv.setUint32(0, 0x04034b50, true);
    dv.setUint16(4, 20, true);
    dv.setUint16(6, 0x0800, true); // UTF-8 names
    dv.setUint16(8, f.deflate ? 8 : 0, true);
    dv.setUint32(14, crc, true);
    dv.setUint32(18, body.length, true);
    dv.setUint32(22, f.data.length, true);
    dv.setUint16(26, name.length, true);
    dv.setUint16(28, extraLen, true);
    local.set(name, 30);
    if (extraLen > 0) {
      dv.setUint16(30 + name.length, 0x4246, true); // 'FB', torch's padding record
      dv.setUint16(32 + name.length, extraLen - 4, true);
      local.fill(0x5a, 34 + name.length);
    }
    const cd = new Uint8Array(46 + name.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(8, 0x0800, true);
    cv.setUint16(10, f.deflate ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, f.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    cd.set(name, 46);
    chunks.push(local, body);
    central.push(cd);
    offset += local.length + body.length;
  }
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, files.length, true);
  ev.setUint16(10, files.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return concat([...chunks, ...central, end]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface TorchZipOptions {
  /** The archive folder name: "archive" (torch >= 1.6 default) or the file stem. */
  prefix?: string;
  deflate?: boolean;
  byteorder?: string;
  /** Leave these storages out of the archive. */
  omit?: string[];
}

/** A complete pytorch_model.bin: data.pkl plus each distinct storage's bytes. */
export function torchZip(pickle: Uint8Array, storages: StorageSpec[], options: TorchZipOptions = {}): Uint8Array {
  const prefix = options.prefix ?? 'archive';
  const files: ZipFileSpec[] = [{ name: `${prefix}/data.pkl`, data: pickle, deflate: options.deflate }];
  if (options.byteorder !== undefined) files.push({ name: `${prefix}/byteorder`, data: new TextEncoder().encode(options.byteorder) });
  const seen = new Set<string>();
  for (const s of storages) {
    if (seen.has(s.key) || options.omit?.includes(s.key)) continue;
    seen.add(s.key);
    files.push({ name: `${prefix}/data/${s.key}`, data: s.bytes, deflate: options.deflate });
  }
  files.push({ name: `${prefix}/version`, data: new TextEncoder().encode('3\n') });
  return zip(files);
}

/** Storage bytes from a typed array (little-endian host). */
export function storageOf(key: string, dtype: CheckpointDtype, values: ArrayBufferView & { length: number }): StorageSpec {
  return { key, dtype, bytes: new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice(), numel: values.length };
}

// --- files --------------------------------------------------------------------------------

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempFolder(prefix = 'distill-ckpt-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Element `index` of a strided view, for expected values. */
export function stridedGather<T>(get: (i: number) => T, offset: number, shape: number[], stride: number[]): T[] {
  const out: T[] = [];
  const n = shape.reduce((a, b) => a * b, 1);
  for (let flat = 0; flat < n; flat++) {
    let rest = flat;
    let at = offset;
    for (let d = shape.length - 1; d >= 0; d--) {
      at += (rest % shape[d]) * stride[d];
      rest = Math.floor(rest / shape[d]);
    }
    out.push(get(at));
  }
  return out;
}

// What a checkpoint holds once read: named tensors with a dtype, a shape and a flat,
// row-major (contiguous) typed array. Half-precision tensors (float16, bfloat16) are
// widened to Float32Array on reading; `dtype` keeps what the file stored, so that writing
// them back gives the same bytes.
import { endianness } from 'node:os';

export type CheckpointDtype =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

export type CheckpointTensorData =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

export interface CheckpointTensor {
  /** What the file stores. float16 and bfloat16 arrive as Float32Array. */
  dtype: CheckpointDtype;
  /** Row-major dimensions; [] for a scalar. */
  shape: number[];
  /** shape.reduce(*) elements, contiguous, row-major. */
  data: CheckpointTensorData;
}

export type TensorMap = Map<string, CheckpointTensor>;

interface DtypeInfo {
  /** Bytes per element in the file. */
  size: 1 | 2 | 4 | 8;
  /** The safetensors spelling. */
  safetensors: string;
  /** What a JS caller hands over (and gets back) for this dtype. */
  jsArray: string;
}

export const DTYPES: Readonly<Record<CheckpointDtype, DtypeInfo>> = {
  float64: { size: 8, safetensors: 'F64', jsArray: 'Float64Array' },
  float32: { size: 4, safetensors: 'F32', jsArray: 'Float32Array' },
  float16: { size: 2, safetensors: 'F16', jsArray: 'Float32Array' },
  bfloat16: { size: 2, safetensors: 'BF16', jsArray: 'Float32Array' },
  int64: { size: 8, safetensors: 'I64', jsArray: 'BigInt64Array' },
  int32: { size: 4, safetensors: 'I32', jsArray: 'Int32Array' },
  int16: { size: 2, safetensors: 'I16', jsArray: 'Int16Array' },
  int8: { size: 1, safetensors: 'I8', jsArray: 'Int8Array' },
  uint8: { size: 1, safetensors: 'U8', jsArray: 'Uint8Array' },
  bool: { size: 1, safetensors: 'BOOL', jsArray: 'Uint8Array' },
};

export function isCheckpointDtype(s: string): s is CheckpointDtype {
  return Object.prototype.hasOwnProperty.call(DTYPES, s);
}

/** Tensors are stored little-endian in both formats; the typed arrays below use the host order. */
export const HOST_IS_LITTLE_ENDIAN = endianness() === 'LE';

/** Number of elements of `shape`, or undefined when a dimension is not a non-negative safe integer. */
export function numelOf(shape: readonly unknown[]): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
    if (!Number.isSafeInteger(n)) return undefined;
  }
  return n;
}

// --- half precision ------------------------------------------------------------------

let halfTable: Uint32Array | undefined;

/** float16 bit pattern -> float32 bit pattern, for all 65,536 halves (exact). */
function halfToFloatTable(): Uint32Array {
  if (halfTable) return halfTable;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    let mant = h & 0x3ff;
    if (exp === 0) {
      if (mant === 0) {
        t[h] = sign >>> 0;
        continue;
      }
      // Subnormal half: normalise into a float32 normal.
      let e = 113; // 127 - 15 + 1
      while ((mant & 0x400) === 0) {
        mant <<= 1;
        e--;
      }
      t[h] = (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
    } else if (exp === 31) {
      t[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    } else {
      t[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    }
  }
  halfTable = t;
  return t;
}

export function float16BitsToFloat32(bits: Uint16Array): Float32Array {
  const table = halfToFloatTable();
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = table[bits[i]];
  return out;
}

export function bfloat16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i] << 16;
  return out;
}

/** float32 -> float16 bits, rounding to nearest even (as torch's .half() does). */
function floatBitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry rolls into the exponent correctly
  return sign | half;
}

export function float32ToFloat16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = floatBitsToHalf(bits[i]);
  return out;
}

/** float32 -> bfloat16 bits, rounding to nearest even; NaN stays NaN. */
export function float32ToBfloat16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = bits[i];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) out[i] = (x >>> 16) | 0x40;
    else out[i] = ((x + 0x7fff + ((x >>> 16) & 1)) / 65536) & 0xffff;
  }
  return out;
}

// --- raw bytes <-> typed arrays --------------------------------------------------------

/**
 * Turns `count` little-endian elements of `dtype`, stored at the start of `buffer` (which
 * the caller owns and hands over), into the tensor's data array. No copy except for the
 * half-precision widening.
 */
export function dataFromBuffer(dtype: CheckpointDtype, buffer: ArrayBuffer, count: number): CheckpointTensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, 0, count);
    case 'float64':
      return new Float64Array(buffer, 0, count);
    case 'float16':
      return float16BitsToFloat32(new Uint16Array(buffer, 0, count));
    case 'bfloat16':
      return bfloat16BitsToFloat32(new Uint16Array(buffer, 0, count));
    case 'int64':
      return new BigInt64Array(buffer, 0, count);
    case 'int32':
      return new Int32Array(buffer, 0, count);
    case 'int16':
      return new Int16Array(buffer, 0, count);
    case 'int8':
      return new Int8Array(buffer, 0, count);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer, 0, count);
  }
}

/** Copies bytes (any alignment) into a fresh ArrayBuffer, so that typed arrays can view it. */
export function copyToFreshBuffer(bytes: Uint8Array): ArrayBuffer {
  const buffer = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buffer).set(bytes);
  return buffer;
}

/** Whether `data` is the JS array type that `dtype` is written from and read into. */
export function dataMatchesDtype(dtype: CheckpointDtype, data: unknown): boolean {
  switch (dtype) {
    case 'float32':
    case 'float16':
    case 'bfloat16':
      return data instanceof Float32Array;
    case 'float64':
      return data instanceof Float64Array;
    case 'int64':
      return data instanceof BigInt64Array;
    case 'int32':
      return data instanceof Int32Array;
    case 'int16':
      return data instanceof Int16Array;
    case 'int8':
      return data instanceof Int8Array;
    case 'uint8':
    case 'bool':
      return data instanceof Uint8Array;
  }
}

/** The little-endian file bytes of a tensor's data (a view when no conversion is needed). */
export function bytesOfData(dtype: CheckpointDtype, data: CheckpointTensorData): Uint8Array {
  let view: ArrayBufferView;
  if (dtype === 'float16') view = float32ToFloat16Bits(data as Float32Array);
  else if (dtype === 'bfloat16') view = float32ToBfloat16Bits(data as Float32Array);
  else view = data;
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

// --- strided views ------------------------------------------------------------------

/** Reads and writes elements of one width without interpreting them (bit-exact, NaNs included). */
type ElementArray = { length: number; [i: number]: number | bigint };

function elementView(buffer: ArrayBuffer, size: 1 | 2 | 4 | 8, count: number): ElementArray {
  switch (size) {
    case 1:
      return new Uint8Array(buffer, 0, count);
    case 2:
      return new Uint16Array(buffer, 0, count);
    case 4:
      return new Uint32Array(buffer, 0, count);
    case 8:
      return new BigUint64Array(buffer, 0, count);
  }
}

export function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

/**
 * Materialises the view (offset, shape, stride), in elements, of a storage whose `storageCount`
 * elements of `size` bytes each sit at the start of `storage`, as a fresh contiguous buffer.
 * The caller has checked that every index the view touches lies inside the storage.
 */
export function materializeView(
  storage: ArrayBuffer,
  size: 1 | 2 | 4 | 8,
  storageCount: number,
  offset: number,
  shape: readonly number[],
  stride: readonly number[],
): ArrayBuffer {
  const n = numelOf(shape) ?? 0;
  if (isContiguous(shape, stride)) {
    return storage.slice(offset * size, (offset + n) * size);
  }
  const out = new ArrayBuffer(n * size);
  if (n === 0) return out;
  const src = elementView(storage, size, storageCount);
  const dst = elementView(out, size, n);
  const nd = shape.length;
  const last = nd - 1;
  const lastLen = shape[last];
  const lastStride = stride[last];
  const index = new Array<number>(nd).fill(0);
  let base = offset;
  let o = 0;
  while (true) {
    for (let j = 0, s = base; j < lastLen; j++, s += lastStride) dst[o++] = src[s];
    let d = last - 1;
    for (; d >= 0; d--) {
      index[d]++;
      base += stride[d];
      if (index[d] < shape[d]) break;
      base -= stride[d] * shape[d];
      index[d] = 0;
    }
    if (d < 0) break;
  }
  return out;
}

/** The largest element index a view touches (offset when it is empty or a scalar). */
export function maxViewIndex(offset: number, shape: readonly number[], stride: readonly number[]): number {
  let max = offset;
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 0) return offset;
    max += (shape[d] - 1) * stride[d];
  }
  return max;
}

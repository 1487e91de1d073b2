import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointError, type CheckpointErrorCode } from '../../../src/engine/checkpoint/errors';
import {
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  serializeSafetensors,
  writeSafetensors,
} from '../../../src/engine/checkpoint/safetensors';
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  type CheckpointTensor,
  type TensorMap,
} from '../../../src/engine/checkpoint/tensor';
import { concat, tempFolder } from './helpers';

const FIXTURE = fileURLToPath(new URL('../../../../shared/fixtures/bert-tiny-random/', import.meta.url));
const HAS_FIXTURE = existsSync(join(FIXTURE, 'model.safetensors'));

function sampleTensors(): TensorMap {
  return new Map<string, CheckpointTensor>([
    ['bert.embeddings.word_embeddings.weight', { dtype: 'float32', shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i * 0.25 - 1) }],
    ['classifier.bias', { dtype: 'float32', shape: [2], data: new Float32Array([0.5, -0.5]) }],
    ['f64', { dtype: 'float64', shape: [2], data: new Float64Array([Math.PI, -1e300]) }],
    ['f16', { dtype: 'float16', shape: [5], data: new Float32Array([1, -2, 65504, 2 ** -24, 0.333251953125]) }],
    ['bf16', { dtype: 'bfloat16', shape: [2, 2], data: new Float32Array([1, -3.140625, 2 ** 100, 2 ** -130]) }],
    ['position_ids', { dtype: 'int64', shape: [1, 3], data: new BigInt64Array([0n, 1n, -(2n ** 62n)]) }],
    ['i32', { dtype: 'int32', shape: [2], data: new Int32Array([-7, 2 ** 31 - 1]) }],
    ['i16', { dtype: 'int16', shape: [1], data: new Int16Array([-300]) }],
    ['i8', { dtype: 'int8', shape: [3], data: new Int8Array([-128, 0, 127]) }],
    ['u8', { dtype: 'uint8', shape: [2], data: new Uint8Array([0, 255]) }],
    ['mask', { dtype: 'bool', shape: [3], data: new Uint8Array([1, 0, 1]) }],
    ['scalar', { dtype: 'float32', shape: [], data: new Float32Array([42]) }],
    ['empty', { dtype: 'float32', shape: [0, 3], data: new Float32Array(0) }],
  ]);
}

function expectSameTensors(actual: TensorMap, expected: TensorMap): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [name, e] of expected) {
    const a = actual.get(name)!;
    expect(a.dtype, name).toBe(e.dtype);
    expect(a.shape, name).toEqual(e.shape);
    expect(a.data.constructor, name).toBe(e.data.constructor);
    expect(Array.from(a.data as ArrayLike<number | bigint>), name).toEqual(Array.from(e.data as ArrayLike<number | bigint>));
  }
}

/** A safetensors file with exactly this header text and data. */
function rawFile(header: string, data: Uint8Array = new Uint8Array(0), lengthField?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, lengthField ?? BigInt(json.length), true);
  return concat([head, json, data]);
}

function catchError(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

async function catchAsync(p: Promise<unknown>): Promise<CheckpointError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempFolder());
});
afterEach(() => cleanup());

describe('safetensors round trip', () => {
  it('writes and reads back every dtype, a scalar and an empty tensor, with metadata', async () => {
    const path = join(dir, 'model.safetensors');
    const tensors = sampleTensors();
    await writeSafetensors(path, tensors, { format: 'pt', note: 'ü' });
    expect(readdirSync(dir)).toEqual(['model.safetensors']); // no temporary file left behind
    expectSameTensors(await readSafetensors(path), tensors);
    const header = await readSafetensorsHeader(path);
    expect(header.metadata).toEqual({ format: 'pt', note: 'ü' });
    expect(header.entries.map((e) => e.name)).toContain('mask');
  });

  it('lays the file out as the spec says: header padded with spaces to 8 bytes, aligned tensors', () => {
    const bytes = serializeSafetensors(sampleTensors(), { format: 'pt' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.startsWith('{')).toBe(true);
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(text.slice(text.trimEnd().length)).toMatch(/^ {0,7}$/);
    const header = JSON.parse(text) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    expect(header.__metadata__).toEqual({ format: 'pt' });
    expect(header['f16'].dtype).toBe('F16');
    expect(header['bf16'].dtype).toBe('BF16');
    expect(header['mask'].dtype).toBe('BOOL');
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const size = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2 }[entry.dtype] ?? 1;
      expect((8 + n + entry.data_offsets[0]) % size, name).toBe(0);
    }
    expectSameTensors(parseSafetensors(bytes, 'memory.safetensors'), sampleTensors());
  });

  it('stores float16 and bfloat16 bit-exactly and widens them to Float32Array', () => {
    const bytes = serializeSafetensors(new Map([['h', { dtype: 'float16', shape: [2], data: new Float32Array([1.5, -0.0999755859375]) }]]));
    const data = bytes.subarray(bytes.length - 4);
    expect(Array.from(new Uint16Array(data.slice().buffer))).toEqual([0x3e00, 0xae66]);
    const back = parseSafetensors(bytes, 'h.safetensors').get('h')!;
    expect(back.data).toBeInstanceOf(Float32Array);
    expect(Array.from(back.data as Float32Array)).toEqual([1.5, -0.0999755859375]);
  });

  it('overwrites an existing file atomically', async () => {
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, 'old contents');
    await writeSafetensors(path, sampleTensors());
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    expectSameTensors(await readSafetensors(path), sampleTensors());
  });

  const title = 'reads the bert-tiny-random fixture and writes its tensor data back byte for byte';
  it.skipIf(!HAS_FIXTURE)(HAS_FIXTURE ? title : `${title} — SKIPPED: ${FIXTURE} is absent (../shared is not beside this checkout)`, async () => {
    const source = join(FIXTURE, 'model.safetensors');
    const tensors = await readSafetensors(source);
    expect(tensors.size).toBe(41);
    expect([...tensors.values()].reduce((n, t) => n + t.data.length, 0)).toBe(4386178);
    expect(tensors.get('bert.embeddings.word_embeddings.weight')!.shape).toEqual([30522, 128]);
    expect((await readSafetensorsHeader(source)).metadata).toEqual({ format: 'pt' });
    const out = join(dir, 'copy.safetensors');
    await writeSafetensors(out, tensors, { format: 'pt' });
    const original = readFileSync(source);
    const copy = readFileSync(out);
    const dataOf = (b: Buffer): Buffer => b.subarray(8 + Number(b.readBigUInt64LE(0)));
    expect(copy.length).toBe(original.length);
    expect(Buffer.compare(dataOf(copy), dataOf(original))).toBe(0);
  });
});

describe('half-precision conversion', () => {
  it('converts every float16 value exactly and back', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const wide = float16BitsToFloat32(all);
    const back = float32ToFloat16Bits(wide);
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN) expect(Number.isNaN(wide[h])).toBe(true);
      else if (back[h] !== h) throw new Error(`half 0x${h.toString(16)} -> ${wide[h]} -> 0x${back[h].toString(16)}`);
    }
    expect(Array.from(float16BitsToFloat32(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0xfc00])))).toEqual([1, -2, 65504, 2 ** -24, Infinity, -Infinity]);
  });

  it('rounds float32 to float16 to nearest even, overflowing to infinity', () => {
    const inputs = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 65519, 2 ** -25, 2 ** -25 * 1.5, -0, 1e-10]);
    expect(Array.from(float16BitsToFloat32(float32ToFloat16Bits(inputs)))).toEqual([1, 1 + 2 ** -9, Infinity, 65504, 0, 2 ** -24, -0, 0]);
  });

  it('rounds float32 to bfloat16 to nearest even and keeps NaN', () => {
    const inputs = new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, -3.14159, NaN, Infinity, 3.4e38]);
    const back = Array.from(bfloat16BitsToFloat32(float32ToBfloat16Bits(inputs)));
    expect(back.slice(0, 3)).toEqual([1, 1 + 2 ** -6, -3.140625]);
    expect(Number.isNaN(back[3])).toBe(true);
    expect(back[4]).toBe(Infinity);
    expect(back[5]).toBe(Infinity); // rounds past the largest bfloat16
  });
});

describe('damaged safetensors files', () => {
  const good = (): Uint8Array => serializeSafetensors(sampleTensors(), { format: 'pt' });
  const entry = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';

  /** Every case is checked both from disk and from memory, with the same code. */
  async function expectError(bytes: Uint8Array, code: CheckpointErrorCode, ...fragments: (string | RegExp)[]): Promise<CheckpointError> {
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, bytes);
    const fromDisk = await catchAsync(readSafetensors(path));
    const fromMemory = catchError(() => parseSafetensors(bytes, 'model.safetensors'));
    for (const e of [fromDisk, fromMemory]) {
      expect(e.code, e.message).toBe(code);
      expect(e.message).toMatch(/^model\.safetensors /);
      for (const f of fragments) expect(e.message).toMatch(f);
    }
    expect(fromDisk.message).toBe(fromMemory.message);
    return fromDisk;
  }

  it('a file cut short in its tensor data is truncated, with both sizes and what to do', async () => {
    const bytes = good();
    const e = await expectError(bytes.subarray(0, bytes.length - 10), 'truncated', /is truncated: its header says \d+ bytes of tensor data but the file holds \d+ bytes/, /download it again/i);
    expect(e.file).toBe('model.safetensors');
  });

  it('reports sizes in MB like a file browser', async () => {
    const big = new Float32Array(4_400_000);
    const bytes = serializeSafetensors(new Map([['w', { dtype: 'float32' as const, shape: [big.length], data: big }]]));
    await expectError(bytes.subarray(0, 3_100_000), 'truncated', 'header says 17.6 MB of tensor data but the file holds 3.1 MB');
  });

  it('a file cut inside the header is truncated', async () => {
    await expectError(good().subarray(0, 40), 'truncated', /JSON header is .* long but the file holds/);
  });

  it('a file shorter than the length field is truncated', async () => {
    await expectError(new Uint8Array([1, 2, 3]), 'truncated', /too short even for the 8-byte header length/);
    await expectError(new Uint8Array(0), 'truncated');
  });

  it('an absurd header length is malformed (another format, or damage)', async () => {
    const zipLike = new TextEncoder().encode('PK\u0003\u0004 this is a zip, not safetensors.........');
    await expectError(zipLike, 'malformed', /far more than any safetensors header/);
    await expectError(rawFile(`{"a":${entry}}`, new Uint8Array(8), 2n ** 63n), 'malformed');
  });

  it('a header that is not JSON is malformed', async () => {
    await expectError(rawFile('{"a": {"dtype": "F32", "shape": [2], '), 'malformed', /not valid JSON/);
    await expectError(rawFile('[1, 2, 3]'), 'malformed', /does not start with "\{"/);
    await expectError(rawFile('{'), 'malformed', /too short for a JSON header/);
    const badUtf8 = concat([new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0]), new Uint8Array([0x7b, 0xff, 0x7d])]);
    await expectError(badUtf8, 'malformed', /not valid UTF-8/);
  });

  it('header entries with missing or wrong fields are malformed', async () => {
    await expectError(rawFile('{"a": 3}'), 'malformed', /"a"/);
    await expectError(rawFile('{"a":{"shape":[2],"data_offsets":[0,8]}}', new Uint8Array(8)), 'malformed', /no "dtype"/);
    await expectError(rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}', new Uint8Array(8)), 'malformed', /data_offsets/);
    await expectError(rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', new Uint8Array(8)), 'malformed', /end before they begin/);
    await expectError(rawFile('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', new Uint8Array(8)), 'malformed', /not a list of non-negative integers/);
    await expectError(rawFile(`{"__metadata__":{"n":1},"a":${entry}}`, new Uint8Array(8)), 'malformed', /__metadata__/);
  });

  it('an unknown dtype is unsupported and says how to convert', async () => {
    await expectError(rawFile('{"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}', new Uint8Array(8)), 'unsupported', /F8_E4M3/, /float32/);
    await expectError(rawFile('{"a":{"dtype":"toString","shape":[8],"data_offsets":[0,8]}}', new Uint8Array(8)), 'unsupported');
  });

  it('a shape that disagrees with the byte range is malformed', async () => {
    await expectError(rawFile('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Uint8Array(8)), 'malformed', /shape \[3\] of F32, which takes 12 bytes, but its data_offsets \[0, 8\] span 8 bytes/);
  });

  it('offsets out of range, overlapping, leaving gaps or not covering the data are reported', async () => {
    // Beyond the end of the file: the data the header describes is not all there.
    await expectError(rawFile('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', new Uint8Array(8)), 'truncated', /header says 16 bytes of tensor data but the file holds 8 bytes/);
    // Overlap.
    await expectError(
      rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', new Uint8Array(12)),
      'malformed',
      /"a" and "b" overlap/,
    );
    // Gap at the start.
    await expectError(rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', new Uint8Array(12)), 'malformed', /bytes 0–4 of its data belong to no tensor/);
    // Bytes after the last tensor.
    await expectError(rawFile(`{"a":${entry}}`, new Uint8Array(12)), 'malformed', /4 bytes after the last tensor/);
  });

  it('reading a missing file says so', async () => {
    const e = await catchAsync(readSafetensors(join(dir, 'nope.safetensors')));
    expect(e.code).toBe('not-found');
  });
});

describe('writing safely', () => {
  const bad: [string, TensorMap][] = [
    ['shape and data disagree', new Map([['w', { dtype: 'float32', shape: [2, 3], data: new Float32Array(5) }]])],
    ['data of the wrong type', new Map([['w', { dtype: 'int64', shape: [2], data: new Float32Array(2) }]])],
    ['an unknown dtype', new Map([['w', { dtype: 'complex64' as 'float32', shape: [2], data: new Float32Array(2) }]])],
    ['a reserved name', new Map([['__metadata__', { dtype: 'float32', shape: [1], data: new Float32Array(1) }]])],
    ['a negative dimension', new Map([['w', { dtype: 'float32', shape: [-1], data: new Float32Array(0) }]])],
  ];
  for (const [what, tensors] of bad) {
    it(`refuses ${what} before touching the disk`, async () => {
      const path = join(dir, 'model.safetensors');
      const e = await catchAsync(writeSafetensors(path, tensors));
      expect(e.code).toBe('invalid-argument');
      expect(readdirSync(dir)).toEqual([]);
    });
  }

  it('leaves an existing file untouched when a write is refused', async () => {
    const path = join(dir, 'model.safetensors');
    await writeSafetensors(path, sampleTensors());
    const before = readFileSync(path);
    await catchAsync(writeSafetensors(path, bad[0][1]));
    expect(Buffer.compare(readFileSync(path), before)).toBe(0);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('removes its temporary file when the final rename fails, and leaves nothing at the target', async () => {
    const path = join(dir, 'model.safetensors');
    mkdirSync(join(path, 'inside'), { recursive: true }); // a non-empty folder where the file should go: rename fails
    await expect(writeSafetensors(path, sampleTensors())).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    expect(readdirSync(path)).toEqual(['inside']);
  });

  it('fails cleanly when the folder does not exist', async () => {
    const path = join(dir, 'missing', 'model.safetensors');
    await expect(writeSafetensors(path, sampleTensors())).rejects.toThrow();
    expect(readdirSync(dir)).toEqual([]);
  });
});

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointError, type CheckpointErrorCode } from '../../../src/engine/checkpoint/errors';
import { parsePytorchBin, readPytorchBin } from '../../../src/engine/checkpoint/pytorch-bin';
import { readSafetensors, writeSafetensors } from '../../../src/engine/checkpoint/safetensors';
import { float32ToBfloat16Bits, float32ToFloat16Bits, type CheckpointDtype, type TensorMap } from '../../../src/engine/checkpoint/tensor';
import {
  PickleWriter,
  stateDictPickle,
  storageOf,
  stridedGather,
  tempFolder,
  torchZip,
  zip,
  type StateDictOptions,
  type StorageSpec,
  type TensorSpec,
  type TorchZipOptions,
} from './helpers';

// --- a checkpoint with every dtype and every kind of view ---------------------------------

const base = Float32Array.from({ length: 24 }, (_, i) => i + 0.5);
const halfValues = new Float32Array([1, -2, 0.5, 65504, 2 ** -24, 3]);
const bhalfValues = new Float32Array([1, -3.140625, 2 ** 100, 0.5]);
const longValues = new BigInt64Array([1n, -2n, 2n ** 62n, 4n, 5n, 6n]);

const storages = {
  f32: storageOf('0', 'float32', base),
  f16: storageOf('1', 'float16', float32ToFloat16Bits(halfValues)),
  bf16: storageOf('2', 'bfloat16', float32ToBfloat16Bits(bhalfValues)),
  i64: storageOf('3', 'int64', longValues),
  bool: storageOf('4', 'bool', new Uint8Array([1, 0, 1, 1])),
  f64: storageOf('5', 'float64', new Float64Array([Math.PI, -Math.E])),
  i32: storageOf('6', 'int32', new Int32Array([-1, 2 ** 31 - 1, 3])),
  i16: storageOf('7', 'int16', new Int16Array([-300, 300])),
  i8: storageOf('8', 'int8', new Int8Array([-128, 127])),
  u8: storageOf('9', 'uint8', new Uint8Array([0, 200, 255])),
};

/** What each storage's elements read as (float16 / bfloat16 widened). */
const storageValues: Record<string, ArrayLike<number | bigint>> = {
  '0': base,
  '1': halfValues,
  '2': bhalfValues,
  '3': longValues,
  '4': new Uint8Array([1, 0, 1, 1]),
  '5': new Float64Array([Math.PI, -Math.E]),
  '6': new Int32Array([-1, 2 ** 31 - 1, 3]),
  '7': new Int16Array([-300, 300]),
  '8': new Int8Array([-128, 127]),
  '9': new Uint8Array([0, 200, 255]),
};

const t = (name: string, storage: StorageSpec, offset: number, shape: number[], stride: number[], wrap?: TensorSpec['wrap']): TensorSpec => ({
  name,
  storage,
  offset,
  shape,
  stride,
  wrap,
});

const tensors: TensorSpec[] = [
  t('bert.embeddings.word_embeddings.weight', storages.f32, 0, [4, 6], [6, 1], 'parameter'),
  t('transposed', storages.f32, 0, [6, 4], [1, 6]), // non-contiguous view of the same storage
  t('window', storages.f32, 7, [2, 3], [6, 1]), // offset + row gaps
  t('column', storages.f32, 5, [4], [6]),
  t('expanded', storages.f32, 2, [3, 2], [0, 1]), // stride 0 (expand)
  t('rows_2_3', storages.f32, 12, [2, 6], [6, 1]), // contiguous with an offset
  t('scalar', storages.f32, 23, [], []),
  t('empty', storages.f32, 0, [0, 6], [6, 1]),
  t('half', storages.f16, 1, [2, 2], [1, 2]), // non-contiguous float16
  t('bhalf', storages.bf16, 0, [4], [1], 'from-type'),
  t('position_ids', storages.i64, 0, [2, 3], [1, 2]), // non-contiguous int64
  t('mask', storages.bool, 0, [4], [1]),
  t('f64', storages.f64, 0, [2], [1]),
  t('i32', storages.i32, 1, [2], [1]),
  t('i16', storages.i16, 0, [2], [1]),
  t('i8', storages.i8, 0, [2], [1]),
  t('u8', storages.u8, 0, [3], [1]),
];

const DATA_TYPES: Record<CheckpointDtype, unknown> = {
  float32: Float32Array,
  float16: Float32Array,
  bfloat16: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

function expectMatchesSpecs(actual: TensorMap, specs: TensorSpec[]): void {
  expect([...actual.keys()]).toEqual(specs.map((s) => s.name)); // pickle order
  for (const s of specs) {
    const got = actual.get(s.name)!;
    const values = storageValues[s.storage.key];
    expect(got.dtype, s.name).toBe(s.storage.dtype);
    expect(got.shape, s.name).toEqual(s.shape);
    expect(got.data.constructor, s.name).toBe(DATA_TYPES[s.storage.dtype]);
    expect(Array.from(got.data as ArrayLike<number | bigint>), s.name).toEqual(stridedGather((i) => values[i], s.offset, s.shape, s.stride));
  }
}

function checkpoint(pickleOptions: StateDictOptions = {}, zipOptions: TorchZipOptions = {}, specs = tensors): Uint8Array {
  return torchZip(stateDictPickle(specs, pickleOptions), specs.map((s) => s.storage), zipOptions);
}

async function errorOf(p: Promise<unknown>): Promise<CheckpointError> {
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

function save(bytes: Uint8Array, name = 'pytorch_model.bin'): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe('readPytorchBin on torch.save archives generated here', () => {
  const variants: [string, StateDictOptions, TorchZipOptions][] = [
    ['plain dict, "archive/" prefix', {}, {}],
    ['OrderedDict with _metadata (state_dict()), file-stem prefix', { orderedDict: true }, { prefix: 'pytorch_model' }],
    ['any prefix, byteorder record, deflated entries', { orderedDict: true }, { prefix: 'my-model_v2', byteorder: 'little', deflate: true }],
    ['protocol 4 header', { protocol: 4 }, {}],
  ];
  for (const [what, pickleOptions, zipOptions] of variants) {
    it(`reads every dtype and strided view (${what})`, async () => {
      const bytes = checkpoint(pickleOptions, zipOptions);
      expectMatchesSpecs(await readPytorchBin(save(bytes)), tensors);
      expectMatchesSpecs(await parsePytorchBin(bytes, 'pytorch_model.bin'), tensors);
    });
  }

  it('gives tensors that share a storage their own contiguous copies', async () => {
    const got = await readPytorchBin(save(checkpoint()));
    const a = got.get('bert.embeddings.word_embeddings.weight')!.data as Float32Array;
    const b = got.get('transposed')!.data as Float32Array;
    expect(a.buffer).not.toBe(b.buffer);
    expect(Array.from(b.subarray(0, 4))).toEqual([0.5, 6.5, 12.5, 18.5]);
  });

  it('writes what it read to safetensors and reads it back the same', async () => {
    const got = await readPytorchBin(save(checkpoint()));
    const out = join(dir, 'model.safetensors');
    await writeSafetensors(out, got);
    expectMatchesSpecs(new Map([...(await readSafetensors(out))].sort(([a], [b]) => tensors.findIndex((s) => s.name === a) - tensors.findIndex((s) => s.name === b))), tensors);
  });
});

describe('malicious pickles', () => {
  const python = spawnSync('python3', ['--version']).status === 0 && process.platform !== 'win32';

  /** posix.system('touch <marker>'), the classic pickle exploit. */
  function exploit(marker: string): Uint8Array {
    return new PickleWriter().proto(2).globalRaw('posix', 'system').str(`touch ${marker}`).tupleN(1).reduce().stop().toBytes();
  }

  const liveTitle = "the exploit used below is live: Python's own pickle.loads runs it";
  it.skipIf(!python)(python ? liveTitle : `${liveTitle} — SKIPPED: no python3 on a POSIX system here`, () => {
    const marker = join(dir, 'python-ran-it');
    const path = save(exploit(marker), 'exploit.pkl');
    spawnSync('python3', ['-c', 'import pickle, sys; pickle.loads(open(sys.argv[1], "rb").read())', path]);
    expect(existsSync(marker)).toBe(true);
  });

  it('refuses a bare exploit pickle inside the zip as unsafe-pickle, naming posix.system; the marker is never created', async () => {
    const marker = join(dir, 'pwned');
    const bytes = zip([{ name: 'archive/data.pkl', data: exploit(marker) }, { name: 'archive/version', data: new TextEncoder().encode('3\n') }]);
    const e = await errorOf(readPytorchBin(save(bytes)));
    expect(e.code).toBe('unsafe-pickle');
    expect(e.message).toContain('posix.system');
    expect(e.message).toMatch(/^pytorch_model\.bin was refused/);
    expect((await errorOf(parsePytorchBin(bytes, 'x.bin'))).code).toBe('unsafe-pickle');
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses an otherwise valid checkpoint with one poisoned entry; the marker is never created', async () => {
    const marker = join(dir, 'pwned');
    const bytes = checkpoint({
      orderedDict: true,
      extraItems: (w) => w.str('evil').globalRaw('posix', 'system').str(`touch ${marker}`).tupleN(1).reduce(),
    });
    const e = await errorOf(readPytorchBin(save(bytes)));
    expect(e.code).toBe('unsafe-pickle');
    expect(e.message).toContain('posix.system');
    expect(existsSync(marker)).toBe(false);
  });

  it.each([
    ['os', 'system'],
    ['builtins', 'eval'],
    ['builtins', 'exec'],
    ['subprocess', 'Popen'],
    ['torch', 'load'],
    ['torch.serialization', 'load'],
  ])('refuses %s.%s after valid tensors, before reading any storage', async (module, name) => {
    // The archive holds no storages at all: had the reader gone on to read them, it would
    // have failed with 'malformed' (missing storage) instead.
    const pickle = stateDictPickle([t('w', storages.f32, 0, [4], [1])], {
      extraItems: (w) => w.str('x').globalRaw(module, name).str('1+1').tupleN(1).reduce(),
    });
    const e = await errorOf(readPytorchBin(save(torchZip(pickle, []))));
    expect(e.code).toBe('unsafe-pickle'); // not "missing storage": refused first
    expect(e.message).toContain(`${module}.${name}`);
  });

  it('refuses a global reached through STACK_GLOBAL (protocol 4)', async () => {
    const pickle = new PickleWriter().proto(4).emptyDict().str('k').stackGlobal('builtins', 'eval').str('1').tupleN(1).reduce().setitem().stop().toBytes();
    const e = await errorOf(readPytorchBin(save(zip([{ name: 'archive/data.pkl', data: pickle }]))));
    expect(e.code).toBe('unsafe-pickle');
    expect(e.message).toContain('builtins.eval');
  });

  it('refuses an exploit pickle saved directly as pytorch_model.bin (not a zip)', async () => {
    const marker = join(dir, 'pwned');
    const e = await errorOf(readPytorchBin(save(exploit(marker))));
    expect(e.code).toBe('unsafe-pickle');
    expect(e.message).toContain('posix.system');
    expect(existsSync(marker)).toBe(false);
  });
});

describe('damaged or unusual pytorch_model.bin files', () => {
  async function expectError(bytes: Uint8Array, code: CheckpointErrorCode, ...fragments: (string | RegExp)[]): Promise<void> {
    const e = await errorOf(readPytorchBin(save(bytes)));
    expect(e.code, e.message).toBe(code);
    expect(e.message).toMatch(/^pytorch_model\.bin /);
    for (const f of fragments) expect(e.message).toMatch(f);
    expect((await errorOf(parsePytorchBin(bytes, 'pytorch_model.bin'))).code).toBe(code);
    expect(readdirSync(dir)).toEqual(['pytorch_model.bin']);
  }

  it('the legacy (pre-1.6) torch.save format is unsupported, with what to do', async () => {
    // magic number 0x1950a86a20f9469cfc6c, protocol version 1001, then sys_info...
    const legacy = new PickleWriter().proto(2).int(0x1950a86a20f9469cfc6cn).stop().proto(2).int(1001).stop().proto(2).emptyDict().stop().toBytes();
    await expectError(legacy, 'unsupported', /legacy/, /safetensors/);
  });

  it('a file that is neither zip nor pickle is malformed; an empty one truncated', async () => {
    await expectError(new TextEncoder().encode('<html>404 Not Found</html>'), 'malformed', /neither a zip archive nor a pickle/);
    await expectError(new Uint8Array(0), 'truncated');
  });

  it('a zip cut short is truncated', async () => {
    const bytes = checkpoint();
    await expectError(bytes.subarray(0, Math.floor(bytes.length / 2)), 'truncated', /download it again/);
  });

  it('a zip without data.pkl is not a checkpoint', async () => {
    await expectError(zip([{ name: 'readme.txt', data: new Uint8Array([65]) }]), 'malformed', /no <name>\/data\.pkl/, /readme\.txt/);
  });

  it('a zip with two entries of the same name is malformed', async () => {
    const pickle = new PickleWriter().proto(2).emptyDict().stop().toBytes();
    await expectError(zip([{ name: 'archive/data.pkl', data: pickle }, { name: 'archive/data.pkl', data: pickle }]), 'malformed', /two entries named archive\/data\.pkl/);
  });

  it('a storage missing from the archive is reported with the tensor that needs it', async () => {
    await expectError(checkpoint({}, { omit: ['3'] }), 'malformed', /tensor "position_ids"/);
  });

  it('a storage smaller than its element count is reported', async () => {
    const short = { ...storages.f32, numel: 100 };
    await expectError(checkpoint({}, {}, [t('w', short, 0, [100], [1])]), 'malformed', /should take 400 bytes/);
  });

  it('a view reaching past its storage is malformed', async () => {
    await expectError(checkpoint({}, {}, [t('w', storages.f32, 0, [5, 6], [6, 1])]), 'malformed', /"w".*reaches past the end of its storage of 24 elements/);
    await expectError(checkpoint({}, {}, [t('w', storages.f32, 20, [2, 3], [1, 2])]), 'malformed', /reaches past/);
  });

  it('a pickle that is not a state_dict of tensors is refused with advice', async () => {
    await expectError(checkpoint({ extraItems: (w) => w.str('epoch').int(3).str('optimizer').emptyDict() }), 'unsupported', /"epoch", "optimizer"/, /state_dict\(\)/);
    await expectError(zip([{ name: 'archive/data.pkl', data: new PickleWriter().proto(2).emptyList().stop().toBytes() }]), 'malformed', /not hold a dict of tensors/);
  });

  it('big-endian archives and storage types it cannot convert are unsupported', async () => {
    await expectError(checkpoint({}, { byteorder: 'big' }), 'unsupported', /big-endian/);
    await expectError(checkpoint({}, {}, [t('c', { ...storages.f32, typeName: 'ComplexFloatStorage' }, 0, [12], [1])]), 'unsupported', /torch\.ComplexFloatStorage/);
  });

  it('a missing file is not-found', async () => {
    expect((await errorOf(readPytorchBin(join(dir, 'nope.bin')))).code).toBe('not-found');
  });
});

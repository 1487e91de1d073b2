import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  findCheckpointFile,
  loadCheckpoint,
  readPytorchBin,
  readSafetensors,
  serializeSafetensors,
  type TensorMap,
} from '../../../src/engine/checkpoint/index';
import { stateDictPickle, storageOf, tempFolder, torchZip } from './helpers';

// ../shared sits beside the repository: test/engine/checkpoint/ -> repo root -> ..
const FIXTURE = fileURLToPath(new URL('../../../../shared/fixtures/bert-tiny-random/', import.meta.url));
const HAS_FIXTURE = existsSync(join(FIXTURE, 'model.safetensors')) && existsSync(join(FIXTURE, 'pytorch_model.bin'));
const fixtureTitle = (title: string): string =>
  HAS_FIXTURE ? title : `${title} — SKIPPED: ${FIXTURE} is absent (../shared is not beside this checkout)`;

async function errorOf(p: Promise<unknown>): Promise<CheckpointError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

function byteView(data: ArrayBufferView): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function expectIdentical(a: TensorMap, b: TensorMap): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [name, x] of a) {
    const y = b.get(name)!;
    expect(y.dtype, name).toBe(x.dtype);
    expect(y.shape, name).toEqual(x.shape);
    expect(y.data.constructor, name).toBe(x.data.constructor);
    // Bit-for-bit (and fast on 4.4M parameters).
    if (Buffer.compare(byteView(x.data), byteView(y.data)) !== 0) throw new Error(`tensor ${name} differs between the two files`);
  }
}

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempFolder());
});
afterEach(() => cleanup());

const st = (): Uint8Array => serializeSafetensors(new Map([['w', { dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) }]]));
const bin = (): Uint8Array => {
  const s = storageOf('0', 'float32', new Float32Array([3, 4]));
  return torchZip(stateDictPickle([{ name: 'w', storage: s, offset: 0, shape: [2], stride: [1] }]), [s]);
};

describe('loadCheckpoint', () => {
  it('prefers model.safetensors when both files are there', async () => {
    writeFileSync(join(dir, 'model.safetensors'), st());
    writeFileSync(join(dir, 'pytorch_model.bin'), bin());
    const loaded = await loadCheckpoint(dir);
    expect(loaded.format).toBe('safetensors');
    expect(loaded.path).toBe(join(dir, 'model.safetensors'));
    expect(Array.from(loaded.tensors.get('w')!.data as Float32Array)).toEqual([1, 2]);
  });

  it('falls back to pytorch_model.bin', async () => {
    writeFileSync(join(dir, 'pytorch_model.bin'), bin());
    writeFileSync(join(dir, 'config.json'), '{}');
    const loaded = await loadCheckpoint(dir);
    expect(loaded.format).toBe('pytorch-bin');
    expect(Array.from(loaded.tensors.get('w')!.data as Float32Array)).toEqual([3, 4]);
  });

  it('reports a damaged model.safetensors instead of silently using pytorch_model.bin', async () => {
    writeFileSync(join(dir, 'model.safetensors'), st().subarray(0, 20));
    writeFileSync(join(dir, 'pytorch_model.bin'), bin());
    expect((await errorOf(loadCheckpoint(dir))).code).toBe('truncated');
  });

  it('says what the folder holds when neither file is there', async () => {
    writeFileSync(join(dir, 'config.json'), '{}');
    writeFileSync(join(dir, 'vocab.txt'), '[PAD]\n');
    const e = await errorOf(loadCheckpoint(dir));
    expect(e.code).toBe('not-found');
    expect(e.message).toContain(`No model weights in ${dir}`);
    expect(e.message).toContain('expected model.safetensors or pytorch_model.bin');
    expect(e.message).toContain('config.json, vocab.txt');
    expect(e.file).toBe(dir);
  });

  it('explains an empty folder, TensorFlow-only weights, ONNX exports and sharded checkpoints', async () => {
    expect((await errorOf(loadCheckpoint(dir))).message).toContain('holds nothing');
    writeFileSync(join(dir, 'tf_model.h5'), '');
    expect((await errorOf(loadCheckpoint(dir))).message).toMatch(/TensorFlow/);
    const onnx = join(dir, 'teacher');
    mkdirSync(join(onnx, 'onnx'), { recursive: true });
    expect((await errorOf(loadCheckpoint(onnx))).message).toMatch(/ONNX export/);
    writeFileSync(join(dir, 'model.safetensors.index.json'), '{}');
    const sharded = await errorOf(loadCheckpoint(dir));
    expect(sharded.code).toBe('unsupported');
    expect(sharded.message).toMatch(/sharded/);
  });

  it('says when the folder does not exist or is a file', async () => {
    const missing = await errorOf(loadCheckpoint(join(dir, 'nope')));
    expect(missing.code).toBe('not-found');
    expect(missing.message).toMatch(/does not exist/);
    writeFileSync(join(dir, 'model.safetensors'), st());
    expect((await errorOf(findCheckpointFile(join(dir, 'model.safetensors')))).message).toMatch(/is a file, not a model folder/);
  });
});

describe('the bert-tiny-random fixture in ../shared', () => {
  it.skipIf(!HAS_FIXTURE)(fixtureTitle('model.safetensors and pytorch_model.bin hold identical tensors'), async () => {
    const fromSafetensors = await readSafetensors(join(FIXTURE, 'model.safetensors'));
    const fromPytorch = await readPytorchBin(join(FIXTURE, 'pytorch_model.bin'));
    expectIdentical(fromSafetensors, fromPytorch);
    expect(fromPytorch.size).toBe(41);
    let params = 0;
    for (const t of fromPytorch.values()) {
      expect(t.dtype).toBe('float32');
      params += t.data.length;
    }
    expect(params).toBe(4386178);
    expect(fromPytorch.get('bert.embeddings.word_embeddings.weight')!.shape).toEqual([30522, 128]);
    expect(fromPytorch.get('bert.encoder.layer.0.attention.self.query.weight')!.shape).toEqual([128, 128]);
    expect(fromPytorch.get('classifier.weight')!.shape).toEqual([2, 128]);
    // The [PAD] row of the word embeddings is zero (HF init), the rest is not.
    const emb = fromPytorch.get('bert.embeddings.word_embeddings.weight')!.data as Float32Array;
    expect(emb.subarray(0, 128).every((v) => v === 0)).toBe(true);
    expect(emb.subarray(128, 256).some((v) => v !== 0)).toBe(true);
  });

  it.skipIf(!HAS_FIXTURE)(fixtureTitle('loadCheckpoint picks its model.safetensors'), async () => {
    const loaded = await loadCheckpoint(FIXTURE);
    expect(loaded.format).toBe('safetensors');
    expect(loaded.tensors.size).toBe(41);
  });
});

// The int8 export (src/engine/export/quantize.ts): graph structure, weight error bounds,
// ONNX Runtime loading with the fp32 model's I/O, agreement with the fp32 model on a tiny
// trained student and, when ../shared is present, on a genuinely trained SST-2 model.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportStudentOnnx, studentGraph, studentOnnxBytes } from '../../../src/engine/export/onnx-export';
import { exportStudentOnnxInt8, quantizeGraph, studentOnnxInt8 } from '../../../src/engine/export/quantize';
import { compareLogits } from '../../../src/engine/export/verify';
import { loadCheckpoint } from '../../../src/engine/checkpoint';
import { loadTokenizer } from '../../../src/engine/data/tokenizer';
import { loadModelConfig } from '../../../src/engine/models/config';
import { parameterSpecs } from '../../../src/engine/models/params';
import { onnx } from '../../../src/engine/onnx/proto';
import { sharedPath } from '../../support/shared';
import { tinyModel } from '../../support/tiny-models';
import { evalBatch, runLogits, trainedTiny } from './helpers';

const dir = mkdtempSync(path.join(tmpdir(), 'ds-int8-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function opCounts(bytes: Uint8Array): Record<string, number> {
  const m = onnx.ModelProto.decode(bytes);
  const ops: Record<string, number> = {};
  for (const n of m.graph!.node!) ops[n.opType!] = (ops[n.opType!] ?? 0) + 1;
  return ops;
}

describe.each(['bert', 'distilbert'] as const)('int8 %s student', (arch) => {
  it('replaces every Linear MatMul and embedding lookup, and leaves attention MatMuls in float', () => {
    const { cfg, weights } = tinyModel(arch);
    const fp32 = opCounts(studentOnnxBytes(cfg, weights));
    const g = studentGraph(cfg, weights);
    const report = quantizeGraph(g);
    const ops = opCounts(g.toBytes());
    const linears = parameterSpecs(cfg).filter((s) => s.role === 'weight').length; // 6 per layer + pooler/pre_classifier + classifier
    const embeddings = parameterSpecs(cfg).filter((s) => s.role === 'embedding').length;
    expect(report.matmuls).toBe(linears);
    expect(report.gathers).toBe(embeddings);
    expect(ops.MatMulInteger).toBe(linears);
    // Q, K and V read the same input: one DynamicQuantizeLinear for the three.
    expect(report.dynamicQuantizers).toBe(4 * cfg.layers + 2);
    expect(ops.DynamicQuantizeLinear).toBe(report.dynamicQuantizers);
    expect(ops.MatMul).toBe(2 * cfg.layers); // q @ k^T and probs @ v
    expect(fp32.MatMul).toBe(2 * cfg.layers + linears);
    expect(ops.Transpose).toBe(fp32.Transpose - linears); // the weight transposes are folded into the int8 weights
    // Every weight matrix is stored once, as int8; no float copy remains.
    const names = new Set(g.initializers.keys());
    for (const w of report.quantized) {
      expect(names.has(w)).toBe(false);
      expect(g.initializers.get(`${w}_quantized`)?.dtype).toBe('int8');
    }
    expect(report.quantized).toHaveLength(linears + embeddings);
    expect(report.initializerBytes.after).toBeLessThan(0.35 * report.initializerBytes.before);
  });

  it('stores each weight column within half a quantization step of the float weight', () => {
    const { cfg, weights } = tinyModel(arch, 4);
    for (const perChannel of [true, false]) {
      const g = studentGraph(cfg, weights);
      quantizeGraph(g, { perChannel });
      const name = arch === 'bert' ? 'bert.encoder.layer.1.intermediate.dense.weight' : 'distilbert.transformer.layer.1.ffn.lin1.weight';
      const W = weights.get(name)!; // torch layout [N, K]
      const q = g.initializers.get(`${name}_quantized`)!; // [K, N]
      const s = g.initializers.get(`${name}_scale`)!;
      const [K, N] = q.dims;
      expect(K * N).toBe(W.length);
      expect(s.dims).toEqual(perChannel ? [N] : []);
      let worst = 0;
      for (let n = 0; n < N; n++) {
        const scale = (s.data as Float32Array)[perChannel ? n : 0];
        let amax = 0;
        for (let k = 0; k < K; k++) {
          amax = Math.max(amax, Math.abs(W[n * K + k]));
          worst = Math.max(worst, Math.abs(W[n * K + k] - (q.data as Int8Array)[k * N + n] * scale) / scale);
        }
        if (perChannel) expect(scale).toBeCloseTo(amax / 127, 9);
      }
      expect(worst).toBeLessThanOrEqual(0.5 + 1e-4);
    }
  });

  it('loads in a fresh session with the fp32 model\'s I/O, is smaller, and agrees with it', async () => {
    const { cfg, weights } = await trainedTiny(arch);
    const fp32File = path.join(dir, `${arch}.onnx`);
    const int8File = path.join(dir, `${arch}_quantized.onnx`);
    await exportStudentOnnx(cfg, weights, fp32File);
    const report = await exportStudentOnnxInt8(cfg, weights, int8File);
    expect(report.matmuls).toBeGreaterThan(0);
    expect(statSync(int8File).size).toBeLessThan(0.7 * statSync(fp32File).size);

    const batch = evalBatch(cfg, 512, 16);
    const fp32 = await runLogits(fp32File, batch);
    const int8 = await runLogits(int8File, batch);
    expect(int8.inputs).toEqual(fp32.inputs);
    expect(int8.outputs).toEqual(['logits']);
    expect(int8.logits.length).toBe(512 * cfg.numLabels);
    const cmp = compareLogits(fp32.logits, int8.logits, cfg.numLabels);
    const scale = fp32.logits.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    console.log(`${arch} tiny int8: agreement ${(100 * cmp.agreement).toFixed(1)} % on ${cmp.rows} rows, max |logit diff| ${cmp.maxAbsDiff.toFixed(4)} (max |logit| ${scale.toFixed(2)}), ` +
      `${statSync(fp32File).size} -> ${statSync(int8File).size} bytes`);
    expect(scale).toBeGreaterThan(1); // the model is confident: the comparison means something
    expect(cmp.agreement).toBeGreaterThanOrEqual(0.95);
    expect(cmp.maxAbsDiff).toBeLessThan(0.08 * scale);

    // Without ONNX Runtime's fusions (DynamicQuantizeMatMul) the plain ONNX ops give the same numbers.
    const plain = await runLogits(int8File, batch, 'disabled');
    expect(compareLogits(int8.logits, plain.logits, cfg.numLabels).maxAbsDiff).toBeLessThan(1e-2 * scale);

    // Dynamic batch and sequence axes.
    const other = evalBatch(cfg, 3, 21, 77);
    expect((await runLogits(int8File, other)).logits.length).toBe(3 * cfg.numLabels);
  });
});

describe('options', () => {
  it('perChannel: false, embeddings: false and exclude change what is quantized', () => {
    const { cfg, weights } = tinyModel('bert');
    const g1 = studentGraph(cfg, weights);
    const r1 = quantizeGraph(g1, { embeddings: false, exclude: (n) => n === 'classifier.weight' });
    expect(r1.gathers).toBe(0);
    expect(g1.initializers.get('bert.embeddings.word_embeddings.weight')?.dtype).toBe('float32');
    expect(g1.initializers.get('classifier.weight')?.dtype).toBe('float32');
    expect(r1.quantized).not.toContain('classifier.weight');
    const g2 = studentGraph(cfg, weights);
    quantizeGraph(g2, { perChannel: false, reduceRange: true });
    const q = g2.initializers.get('bert.pooler.dense.weight_quantized')!.data as Int8Array;
    expect(Math.max(...Array.from(q, Math.abs))).toBe(64);
    expect(g2.initializers.get('bert.pooler.dense.weight_scale')!.dims).toEqual([]);
  });

  it('a zero weight matrix quantizes to zeros without dividing by zero', async () => {
    const { cfg, weights } = tinyModel('distilbert');
    weights.get('classifier.weight')!.fill(0);
    const { bytes } = studentOnnxInt8(cfg, weights);
    const out = await runLogits(bytes, evalBatch(cfg, 4, 8));
    for (let i = 0; i < 4; i++) expect(out.logits[2 * i]).toBe(out.logits[2 * i + 1]); // both are the (zero) bias
  });
});

it('a failed int8 export leaves no file behind', async () => {
  const { cfg, weights } = tinyModel('bert');
  weights.delete('classifier.bias');
  const file = path.join(dir, 'broken_quantized.onnx');
  await expect(exportStudentOnnxInt8(cfg, weights, file)).rejects.toThrow(/classifier\.bias/);
  expect(existsSync(file)).toBe(false);
  expect(readdirSync(dir).filter((f) => f.includes('broken'))).toEqual([]);
});

// A genuinely trained model: the SST-2 tiny teacher (BERT, 11 M parameters) on SST-2 sentences.
const teacherDir = sharedPath('tools', 'oracle', 'tiny-teacher-pt');
const sst2 = sharedPath('data', 'sst2', 'train.tsv');
describe.skipIf(!teacherDir || !sst2)('int8 on a trained SST-2 model (../shared)', () => {
  it('keeps predictions and accuracy, at a quarter of the size', async () => {
    const cfg = await loadModelConfig(path.join(teacherDir!, 'config.json'));
    const { tensors } = await loadCheckpoint(teacherDir!);
    const weights = new Map([...tensors].map(([k, t]) => [k, t.data as Float32Array]));
    const tok = await loadTokenizer(teacherDir!);
    const lines = readFileSync(sst2!, 'utf8').split('\n').slice(60001, 60513).filter(Boolean);
    const texts = lines.map((l) => l.slice(0, l.lastIndexOf('\t')));
    const labels = lines.map((l) => Number(l.slice(l.lastIndexOf('\t') + 1)));
    const batch = [];
    for (let i = 0; i < texts.length; i += 32) {
      const p = tok.pad(tok.encodeBatch(texts.slice(i, i + 32), { maxLength: 64 }));
      batch.push({ size: p.batchSize, seq: p.seqLen, inputIds: p.inputIds, attentionMask: p.attentionMask, tokenTypeIds: p.tokenTypeIds });
    }
    const fp32Bytes = studentOnnxBytes(cfg, weights);
    const int8Bytes = studentOnnxInt8(cfg, weights).bytes;
    const fp32 = await runLogits(fp32Bytes, batch);
    const int8 = await runLogits(int8Bytes, batch);
    const cmp = compareLogits(fp32.logits, int8.logits, 2);
    const acc = (l: Float32Array) => labels.filter((y, i) => (l[2 * i + 1] > l[2 * i] ? 1 : 0) === y).length / labels.length;
    console.log(`tiny-teacher-sst2 int8: ${fp32Bytes.length} -> ${int8Bytes.length} bytes, agreement ${(100 * cmp.agreement).toFixed(2)} % ` +
      `on ${cmp.rows} sentences, max |logit diff| ${cmp.maxAbsDiff.toFixed(3)}, accuracy ${acc(fp32.logits).toFixed(4)} -> ${acc(int8.logits).toFixed(4)}`);
    expect(int8Bytes.length).toBeLessThan(0.27 * fp32Bytes.length);
    expect(cmp.agreement).toBeGreaterThanOrEqual(0.99);
    expect(Math.abs(acc(fp32.logits) - acc(int8.logits))).toBeLessThanOrEqual(0.01);
  });
});

// Forward parity with the independent PyTorch oracle (../shared/tools/oracle/bert.py, HF
// semantics): our ONNX graphs, run by onnxruntime-node, against torch on the same weights.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph } from '../../../src/engine/onnx/graph';
import { buildClassifier, classifierInputs, paramInitializers, paramInputs } from '../../../src/engine/models/classifier';
import { loadModelConfig, parseModelConfig, type ModelConfig } from '../../../src/engine/models/config';
import { parameterSpecs } from '../../../src/engine/models/params';
import {
  asTensors, int64, maxAbsDiff, readSafetensorsF32, rows, runOracle, session, sharedFile, spreadWeights, torchUnavailable,
  writeSafetensorsF32, type Feed, type OracleJob,
} from './helpers';

const shared = {
  bertTiny: sharedFile('fixtures/bert-tiny-random'),
  teacherPt: sharedFile('tools/oracle/tiny-teacher-pt'),
  teacherIo: sharedFile('fixtures/tiny-teacher-sst2/reference_io.json'),
  teacherOnnx: sharedFile('fixtures/tiny-teacher-sst2/onnx/model.onnx'),
  oracle: sharedFile('tools/oracle/bert.py'),
};
const skipReason = !shared.bertTiny || !shared.teacherPt || !shared.teacherIo || !shared.teacherOnnx || !shared.oracle
  ? '../shared (fixtures and tools/oracle) is absent'
  : torchUnavailable();
if (skipReason) console.warn(`models/parity: skipped — ${skipReason}`);

/** Two batches per model, different T, with padding; BERT ones with token types. */
function batches(vocab: number, bertTypes: boolean): Omit<OracleJob, 'model_dir'>[] {
  const id = (k: number) => 1 + ((k * 7919) % (vocab - 1));
  const make = (lens: number[], T: number): Omit<OracleJob, 'model_dir'> => {
    const input_ids = lens.map((n, b) => Array.from({ length: T }, (_, t) => (t < n ? (t === 0 ? Math.min(101, vocab - 1) : id(b * 31 + t)) : 0)));
    const attention_mask = lens.map((n) => Array.from({ length: T }, (_, t) => (t < n ? 1 : 0)));
    const job: Omit<OracleJob, 'model_dir'> = { input_ids, attention_mask };
    if (bertTypes) job.token_type_ids = lens.map((n) => Array.from({ length: T }, (_, t) => (t >= Math.ceil(n / 2) && t < n ? 1 : 0)));
    return job;
  };
  return [make([9, 5, 2], 9), make([4, 4], 4)];
}

interface Case {
  label: string;
  cfg: ModelConfig;
  dir: string;
  weights: Map<string, Float32Array>;
  jobs: Omit<OracleJob, 'model_dir'>[];
}

/** Logits of our graph for each job: params as graph inputs (the training layout). */
async function ours(c: Case, dtype: 'float32' | 'float64', withTypes: boolean): Promise<number[][][]> {
  const g = new Graph(`${c.cfg.arch}_forward`);
  const specs = parameterSpecs(c.cfg);
  const params = paramInputs(g, specs, dtype);
  const inputs = classifierInputs(g, c.cfg, { tokenTypeIds: withTypes });
  const { logits } = buildClassifier(g, c.cfg, { ...inputs, params, dtype });
  g.output(logits, 'logits');
  const s = await session(g.toBytes(), dtype === 'float64' ? 'basic' : 'all');
  const feeds: Feed = {};
  for (const sp of specs) {
    const w = c.weights.get(sp.name)!;
    feeds[sp.name] = new ort.Tensor(dtype, dtype === 'float32' ? w : Float64Array.from(w), sp.shape);
  }
  const out: number[][][] = [];
  for (const j of c.jobs) {
    const f: Feed = { ...feeds, input_ids: int64(j.input_ids), attention_mask: int64(j.attention_mask) };
    if (inputs.tokenTypeIds) f.token_type_ids = int64(j.token_type_ids!);
    out.push(rows((await s.run(f)).logits as ort.Tensor));
  }
  await s.release();
  return out;
}

describe.skipIf(!!skipReason)(`forward parity with the PyTorch oracle${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let tmp: string;
  const cases: Record<string, Case> = {};
  let teacherRef: { input_ids: number[][]; attention_mask: number[][]; logits: number[][] };
  const oracle: Record<string, { f32: number[][][]; f64: number[][][] }> = {};

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'models-parity-'));
    // bert-tiny-random: real BERT-Tiny shape, weights from its model.safetensors.
    const bertCfg = await loadModelConfig(path.join(shared.bertTiny!, 'config.json'));
    cases.bert = {
      label: 'bert-tiny-random', cfg: bertCfg, dir: shared.bertTiny!, jobs: batches(bertCfg.vocabSize, true),
      weights: new Map([...readSafetensorsF32(path.join(shared.bertTiny!, 'model.safetensors'))].map(([k, v]) => [k, v.data])),
    };
    // Small random DistilBERTs (gelu and relu), weights from our initParams, saved for torch.
    for (const act of ['gelu', 'relu'] as const) {
      const json = {
        architectures: ['DistilBertForSequenceClassification'], model_type: 'distilbert', activation: act,
        vocab_size: 120, dim: 32, n_layers: 2, n_heads: 4, hidden_dim: 64, max_position_embeddings: 40,
        dropout: 0.1, attention_dropout: 0.1, seq_classif_dropout: 0.2, sinusoidal_pos_embds: false, pad_token_id: 0,
        id2label: { 0: 'A', 1: 'B', 2: 'C' }, label2id: { A: 0, B: 1, C: 2 },
      };
      const dir = path.join(tmp, `distil-${act}`);
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify(json));
      const cfg = parseModelConfig(json, 'distil config');
      const weights = spreadWeights(cfg, act === 'gelu' ? 7 : 8);
      writeSafetensorsF32(path.join(dir, 'model.safetensors'), asTensors(cfg, weights));
      cases[`distil_${act}`] = { label: `distilbert-small-${act}`, cfg, dir, weights, jobs: batches(cfg.vocabSize, false) };
    }
    // The trained tiny teacher (4 layers, hidden 256): torch weights converted by the oracle.
    teacherRef = JSON.parse(readFileSync(shared.teacherIo!, 'utf8'));
    const teacherCfg = await loadModelConfig(path.join(shared.teacherPt!, 'config.json'));
    const teacherSt = path.join(tmp, 'teacher.safetensors');
    const teacherJobs = [{ input_ids: teacherRef.input_ids, attention_mask: teacherRef.attention_mask }, ...batches(teacherCfg.vocabSize, false)];

    const jobs: OracleJob[] = [];
    const plan: [string, 'f32' | 'f64', number][] = [];
    for (const [key, c] of Object.entries(cases)) {
      for (const dt of ['f32', 'f64'] as const) {
        c.jobs.forEach((j, i) => {
          jobs.push({ ...j, model_dir: c.dir, dtype: dt === 'f32' ? 'float32' : 'float64' });
          plan.push([key, dt, i]);
        });
      }
    }
    teacherJobs.forEach((j, i) => {
      jobs.push({ ...j, model_dir: shared.teacherPt!, dtype: 'float32' });
      plan.push(['teacher', 'f32', i]);
    });
    const logits = runOracle({ convert: [{ model_dir: shared.teacherPt!, out: teacherSt }], jobs }, path.join(tmp, 'request.json'));
    plan.forEach(([key, dt, i], k) => ((oracle[key] ??= { f32: [], f64: [] })[dt][i] = logits[k]));
    cases.teacher = {
      label: 'tiny-teacher-sst2', cfg: teacherCfg, dir: shared.teacherPt!, jobs: teacherJobs,
      weights: new Map([...readSafetensorsF32(teacherSt)].map(([k, v]) => [k, v.data])),
    };
  }, 300_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const report = (label: string, d: number) => console.log(`models/parity: ${label}: max |logit diff| = ${d.toExponential(2)}`);

  for (const key of ['bert', 'distil_gelu', 'distil_relu']) {
    it(`${key}: float32 graph matches torch float32 (two batches, padded, dynamic B and T) to 1e-5`, async () => {
      const c = cases[key];
      const got = await ours(c, 'float32', true);
      const d = Math.max(...got.map((l, i) => maxAbsDiff(l, oracle[key].f32[i])));
      report(`${c.label} f32`, d);
      expect(d).toBeLessThanOrEqual(1e-5);
      // not trivially small logits: the comparison means something
      expect(Math.max(...oracle[key].f32.flat(2).map(Math.abs))).toBeGreaterThan(key === 'bert' ? 1e-3 : 0.1);
    });

    it(`${key}: float64 graph matches torch float64 to 1e-10`, async () => {
      const c = cases[key];
      const got = await ours(c, 'float64', true);
      const d = Math.max(...got.map((l, i) => maxAbsDiff(l, oracle[key].f64[i])));
      report(`${c.label} f64`, d);
      expect(d).toBeLessThanOrEqual(1e-10);
    });
  }

  it('tiny-teacher-sst2 (trained): float32 graph without token_type_ids matches torch and the reference ONNX outputs', async () => {
    const c = cases.teacher;
    const got = await ours(c, 'float32', false);
    const d = Math.max(...got.map((l, i) => maxAbsDiff(l, oracle.teacher.f32[i])));
    const dRef = maxAbsDiff(got[0], teacherRef.logits);
    report('tiny-teacher-sst2 f32 vs torch', d);
    report('tiny-teacher-sst2 f32 vs reference_io.json', dRef);
    expect(d).toBeLessThanOrEqual(1e-5);
    expect(dRef).toBeLessThanOrEqual(1e-5);
    // and the teacher's own ONNX export (torch.onnx), run here in the same runtime
    const exported = await session(new Uint8Array(readFileSync(shared.teacherOnnx!)));
    const dOnnx = Math.max(...await Promise.all(c.jobs.map(async (j, i) => {
      const r = await exported.run({ input_ids: int64(j.input_ids), attention_mask: int64(j.attention_mask) });
      return maxAbsDiff(got[i], rows(r.logits as ort.Tensor));
    })));
    await exported.release();
    report('tiny-teacher-sst2 f32 vs its onnx/model.onnx in onnxruntime-node', dOnnx);
    expect(dOnnx).toBeLessThanOrEqual(1e-5);
    // the trained teacher gets the reference sentences right (positive, negative)
    expect(got[0][0][1]).toBeGreaterThan(got[0][0][0]);
    expect(got[0][1][0]).toBeGreaterThan(got[0][1][1]);
  });

  it('weights baked in as initializers give the same logits as weights fed as inputs', async () => {
    const c = cases.bert;
    const g = new Graph('bert_export');
    const params = paramInitializers(g, parameterSpecs(c.cfg), c.weights);
    const inputs = classifierInputs(g, c.cfg);
    g.output(buildClassifier(g, c.cfg, { ...inputs, params }).logits, 'logits');
    const s = await session(g.toBytes());
    const j = c.jobs[0];
    const out = await s.run({ input_ids: int64(j.input_ids), attention_mask: int64(j.attention_mask), token_type_ids: int64(j.token_type_ids!) });
    await s.release();
    expect(maxAbsDiff(rows(out.logits as ort.Tensor), oracle.bert.f32[0])).toBeLessThanOrEqual(1e-5);
  });
});

// Forward parity: our ONNX graphs, run by onnxruntime-node, against
// (1) the trained tiny teacher's reference outputs and its own torch.onnx export (needs ../shared only);
// (2) the independent PyTorch oracle (../shared/tools/oracle/bert.py, HF semantics) on the same weights.
// Weights are read with the engine's checkpoint reader (src/engine/checkpoint).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph } from '../../../src/engine/onnx/graph';
import { buildClassifier, buildInferenceGraph, classifierInputs, paramInputs } from '../../../src/engine/models/classifier';
import { loadModelConfig, parseModelConfig, type ModelConfig } from '../../../src/engine/models/config';
import { parameterSpecs } from '../../../src/engine/models/params';
import {
  checkpointWeights, int64, maxAbsDiff, rows, runOracle, saveWeights, session, sharedFile, spreadWeights, torchUnavailable,
  type Feed, type OracleJob,
} from './helpers';

const shared = {
  bertTiny: sharedFile('fixtures/bert-tiny-random'),
  teacherPt: sharedFile('tools/oracle/tiny-teacher-pt'),
  teacherIo: sharedFile('fixtures/tiny-teacher-sst2/reference_io.json'),
  teacherOnnx: sharedFile('fixtures/tiny-teacher-sst2/onnx/model.onnx'),
  oracle: sharedFile('tools/oracle/bert.py'),
};
const noShared = Object.values(shared).some((p) => !p) ? '../shared (fixtures and tools/oracle) is absent' : null;
const noOracle = noShared ?? torchUnavailable();
if (noOracle) console.warn(`models/parity: oracle checks skipped — ${noOracle}`);

type Batch = Omit<OracleJob, 'model_dir'>;

/** Two batches with different T, with padding; BERT ones with token types. */
function batches(vocab: number, bertTypes: boolean): Batch[] {
  const id = (k: number) => 1 + ((k * 7919) % (vocab - 1));
  const make = (lens: number[], T: number): Batch => {
    const input_ids = lens.map((n, b) => Array.from({ length: T }, (_, t) => (t < n ? (t === 0 ? Math.min(101, vocab - 1) : id(b * 31 + t)) : 0)));
    const attention_mask = lens.map((n) => Array.from({ length: T }, (_, t) => (t < n ? 1 : 0)));
    const job: Batch = { input_ids, attention_mask };
    if (bertTypes) job.token_type_ids = lens.map((n) => Array.from({ length: T }, (_, t) => (t >= Math.ceil(n / 2) && t < n ? 1 : 0)));
    return job;
  };
  return [make([9, 5, 2], 9), make([4, 4], 4)];
}

/** Logits of our graph for each batch, parameters fed as graph inputs (the training layout). */
async function ours(cfg: ModelConfig, weights: Map<string, Float32Array>, jobs: Batch[], dtype: 'float32' | 'float64', withTypes: boolean) {
  const g = new Graph(`${cfg.arch}_forward`);
  const specs = parameterSpecs(cfg);
  const params = paramInputs(g, specs, dtype);
  const inputs = classifierInputs(g, cfg, { tokenTypeIds: withTypes });
  g.output(buildClassifier(g, cfg, { ...inputs, params, dtype }).logits, 'logits');
  const s = await session(g.toBytes(), dtype === 'float64' ? 'basic' : 'all');
  const feeds: Feed = {};
  for (const sp of specs) {
    const w = weights.get(sp.name)!;
    feeds[sp.name] = new ort.Tensor(dtype, dtype === 'float32' ? w : Float64Array.from(w), sp.shape);
  }
  const out: number[][][] = [];
  for (const j of jobs) {
    const f: Feed = { ...feeds, input_ids: int64(j.input_ids), attention_mask: int64(j.attention_mask) };
    if (inputs.tokenTypeIds) f.token_type_ids = int64(j.token_type_ids!);
    out.push(rows((await s.run(f)).logits as ort.Tensor));
  }
  await s.release();
  return out;
}

const report = (label: string, d: number) => console.log(`models/parity: ${label}: max |logit diff| = ${d.toExponential(2)}`);

describe.skipIf(!!noShared)(`tiny-teacher-sst2 (trained BERT, weights from pytorch_model.bin)${noShared ? ` (skipped: ${noShared})` : ''}`, () => {
  it('exported graph matches reference_io.json and the teacher\'s own ONNX export', async () => {
    const cfg = await loadModelConfig(path.join(shared.teacherPt!, 'config.json'));
    const weights = await checkpointWeights(shared.teacherPt!);
    const io = JSON.parse(readFileSync(shared.teacherIo!, 'utf8')) as { input_ids: number[][]; attention_mask: number[][]; logits: number[][] };
    // an Optimum-style model: input_ids, attention_mask -> logits, weights baked in
    const g = new Graph('teacher');
    buildInferenceGraph(g, cfg, weights, { tokenTypeIds: false });
    const ourSession = await session(g.toBytes());
    const theirSession = await session(new Uint8Array(readFileSync(shared.teacherOnnx!)));
    let dOnnx = 0, dRef = 0;
    for (const j of [io, ...batches(cfg.vocabSize, false)]) {
      const feeds = { input_ids: int64(j.input_ids), attention_mask: int64(j.attention_mask) };
      const got = rows((await ourSession.run(feeds)).logits as ort.Tensor);
      dOnnx = Math.max(dOnnx, maxAbsDiff(got, rows((await theirSession.run(feeds)).logits as ort.Tensor)));
      if (j === io) {
        dRef = maxAbsDiff(got, io.logits);
        expect(got[0][1]).toBeGreaterThan(got[0][0]); // "a gripping, funny and touching film." is positive
        expect(got[1][0]).toBeGreaterThan(got[1][1]); // "dull and lifeless." is negative
      }
    }
    await Promise.all([ourSession.release(), theirSession.release()]);
    report('tiny-teacher-sst2 f32 vs reference_io.json', dRef);
    report('tiny-teacher-sst2 f32 vs its onnx/model.onnx (same runtime)', dOnnx);
    expect(dRef).toBeLessThanOrEqual(1e-5);
    expect(dOnnx).toBeLessThanOrEqual(1e-5);
  });
});

describe.skipIf(!!noOracle)(`forward parity with the PyTorch oracle${noOracle ? ` (skipped: ${noOracle})` : ''}`, () => {
  let tmp: string;
  const cases: Record<string, { label: string; cfg: ModelConfig; dir: string; weights: Map<string, Float32Array>; jobs: Batch[] }> = {};
  const oracle: Record<string, { f32: number[][][]; f64: number[][][] }> = {};

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'models-parity-'));
    // bert-tiny-random: the real BERT-Tiny shape, weights from its model.safetensors
    const bertCfg = await loadModelConfig(path.join(shared.bertTiny!, 'config.json'));
    cases.bert = { label: 'bert-tiny-random', cfg: bertCfg, dir: shared.bertTiny!, weights: await checkpointWeights(shared.bertTiny!), jobs: batches(bertCfg.vocabSize, true) };
    // the trained teacher, weights from its pytorch_model.bin
    const teacherCfg = await loadModelConfig(path.join(shared.teacherPt!, 'config.json'));
    cases.teacher = { label: 'tiny-teacher-sst2', cfg: teacherCfg, dir: shared.teacherPt!, weights: await checkpointWeights(shared.teacherPt!), jobs: batches(teacherCfg.vocabSize, true) };
    // small DistilBERTs (gelu, relu) with weights from initParams, saved for torch to load
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
      const cfg = parseModelConfig(json, `distilbert-small-${act}/config.json`);
      const weights = spreadWeights(cfg, act === 'gelu' ? 7 : 8);
      await saveWeights(path.join(dir, 'model.safetensors'), cfg, weights);
      cases[`distil_${act}`] = { label: `distilbert-small-${act}`, cfg, dir, weights, jobs: batches(cfg.vocabSize, false) };
    }
    // one oracle process for every job
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
    const logits = runOracle(jobs, path.join(tmp, 'request.json'));
    plan.forEach(([key, dt, i], k) => ((oracle[key] ??= { f32: [], f64: [] })[dt][i] = logits[k]));
  }, 300_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  for (const key of ['bert', 'teacher', 'distil_gelu', 'distil_relu']) {
    it(`${key}: float32 graph matches torch float32 (two padded batches, different B and T) to 1e-5`, async () => {
      const c = cases[key];
      const got = await ours(c.cfg, c.weights, c.jobs, 'float32', true);
      const d = Math.max(...got.map((l, i) => maxAbsDiff(l, oracle[key].f32[i])));
      report(`${c.label} f32`, d);
      expect(d).toBeLessThanOrEqual(1e-5);
      // logits far from zero, so that the comparison means something
      expect(Math.max(...oracle[key].f32.flat(2).map(Math.abs))).toBeGreaterThan(key === 'bert' ? 1e-3 : 0.1);
    });

    it(`${key}: float64 graph matches torch float64 to 1e-12`, async () => {
      const c = cases[key];
      const got = await ours(c.cfg, c.weights, c.jobs, 'float64', true);
      const d = Math.max(...got.map((l, i) => maxAbsDiff(l, oracle[key].f64[i])));
      report(`${c.label} f64`, d);
      expect(d).toBeLessThanOrEqual(1e-12);
    });
  }
});

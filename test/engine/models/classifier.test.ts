// The classifier graphs without the oracle: structure and names, float64 vs float32, dropout,
// padding invariance, and exported (weights-baked-in) models with dynamic batch and length.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Graph, tensor } from '../../../src/engine/onnx/graph';
import {
  buildClassifier, buildInferenceGraph, classifierInputs, paramInputs, type ClassifierOutput,
} from '../../../src/engine/models/classifier';
import { parseModelConfig, type ModelConfig } from '../../../src/engine/models/config';
import { parameterSpecs } from '../../../src/engine/models/params';
import { int64, maxAbsDiff, rows, session, spreadWeights, type Feed } from './helpers';

const tinyBert = parseModelConfig({
  model_type: 'bert', architectures: ['BertForSequenceClassification'], vocab_size: 97, hidden_size: 32, num_hidden_layers: 2,
  num_attention_heads: 4, intermediate_size: 48, max_position_embeddings: 24, type_vocab_size: 2, id2label: { 0: 'NEG', 1: 'POS' },
}, 'tiny bert');
const tinyDistil = parseModelConfig({
  model_type: 'distilbert', architectures: ['DistilBertForSequenceClassification'], vocab_size: 97, dim: 32, n_layers: 2, n_heads: 4,
  hidden_dim: 48, max_position_embeddings: 24, id2label: { 0: 'a', 1: 'b', 2: 'c' },
}, 'tiny distilbert');
const CONFIGS: [string, ModelConfig][] = [['bert', tinyBert], ['distilbert', tinyDistil]];

/** input_ids, attention_mask, token_type_ids for rows of the given lengths, padded to T. */
function batch(lens: number[], T: number, seed = 0): { ids: number[][]; mask: number[][]; types: number[][] } {
  const ids = lens.map((n, b) => Array.from({ length: T }, (_, t) => (t < n ? 1 + ((seed * 13 + b * 31 + t * 7) % 96) : 0)));
  const mask = lens.map((n) => Array.from({ length: T }, (_, t) => (t < n ? 1 : 0)));
  const types = lens.map((n) => Array.from({ length: T }, (_, t) => (t >= n / 2 && t < n ? 1 : 0)));
  return { ids, mask, types };
}

interface Built {
  g: Graph;
  out: ClassifierOutput;
  feeds: (b: ReturnType<typeof batch>) => Feed;
}

/** A forward graph with parameters as inputs; optional dropout with a bool `training` input. */
function build(cfg: ModelConfig, dtype: 'float32' | 'float64', dropout?: { ratio?: number }): Built {
  const g = new Graph('fwd');
  const specs = parameterSpecs(cfg);
  const params = paramInputs(g, specs, dtype);
  const inputs = classifierInputs(g, cfg);
  const training = dropout ? g.input('training', 'bool', []) : null;
  const out = buildClassifier(g, cfg, { ...inputs, params, dtype, dropout: training ? { training, ...dropout } : null });
  g.output(out.logits, 'logits');
  const w = spreadWeights(cfg, 3);
  const feeds = (b: ReturnType<typeof batch>): Feed => {
    const f: Feed = { input_ids: int64(b.ids), attention_mask: int64(b.mask) };
    if (inputs.tokenTypeIds) f.token_type_ids = int64(b.types);
    for (const s of specs) f[s.name] = new ort.Tensor(dtype, dtype === 'float32' ? w.get(s.name)! : Float64Array.from(w.get(s.name)!), s.shape);
    return f;
  };
  return { g, out, feeds };
}

const ALLOWED_OPS = new Set(['Gather', 'MatMul', 'Add', 'Mul', 'Div', 'Sub', 'Reshape', 'Transpose', 'Softmax', 'LayerNormalization',
  'ReduceMean', 'Sqrt', 'Erf', 'Tanh', 'Relu', 'Where', 'Equal', 'Slice', 'Shape', 'Cast', 'Unsqueeze', 'Dropout', 'Identity',
  'Abs', 'Sign', 'Less', 'Exp', 'Neg']);

describe.each(CONFIGS)('%s classifier graph', (arch, cfg) => {
  it('has symbolic shapes, HF-style value names and standard ops only', () => {
    const { g, out } = build(cfg, 'float32');
    expect(out.logits.shape).toEqual(['batch', cfg.numLabels]);
    expect(out.dropouts).toEqual([]);
    for (const n of g.nodes) expect(ALLOWED_OPS.has(n.op), n.op).toBe(true);
    const names = [...g.values.keys()];
    const layer = arch === 'bert' ? 'bert/encoder/layer.1/attention/self' : 'distilbert/transformer/layer.1/attention';
    expect(names).toContain(`${layer}/probs`);
    expect(g.value(`${layer}/probs`).shape).toEqual(['batch', cfg.heads, 'seq', 'seq']);
    expect(names.some((n) => n.startsWith(`${arch}/embeddings/word_embeddings`))).toBe(true);
    // parameters keep their Hugging Face names
    for (const s of parameterSpecs(cfg)) expect(g.value(s.name).shape).toEqual(s.shape);
    // every (B, T, H) hidden state keeps its symbolic dims
    const ln = g.nodes.filter((n) => n.op === 'LayerNormalization').map((n) => g.value(n.outputs[0]).shape);
    expect(ln.length).toBe(1 + 2 * cfg.layers);
    for (const s of ln) expect(s).toEqual(['batch', 'seq', cfg.hidden]);
  });

  it('float64 graph agrees with float32 (both dynamic B, T)', async () => {
    const b = batch([7, 3, 1], 7);
    const f32 = build(cfg, 'float32'), f64 = build(cfg, 'float64');
    expect(f64.g.nodes.some((n) => n.op === 'LayerNormalization' || n.op === 'Erf')).toBe(false); // no float64 kernels in ORT
    const s32 = await session(f32.g.toBytes());
    const s64 = await session(f64.g.toBytes(), 'basic');
    const a = rows((await s32.run(f32.feeds(b))).logits as ort.Tensor);
    const c = rows((await s64.run(f64.feeds(b))).logits as ort.Tensor);
    await Promise.all([s32.release(), s64.release()]);
    const d = maxAbsDiff(a, c);
    console.log(`models/classifier: ${arch} float32 vs float64 max |logit diff| = ${d.toExponential(2)}`);
    expect(d).toBeLessThan(1e-5);
    expect(Math.max(...c.flat().map(Math.abs))).toBeGreaterThan(0.05);
  });

  it('padding does not change a row: the same sentences alone, padded, and beside others', async () => {
    const { g, feeds } = build(cfg, 'float32');
    const s = await session(g.toBytes());
    const alone = rows((await s.run(feeds(batch([5], 5)))).logits as ort.Tensor);
    const padded = rows((await s.run(feeds(batch([5, 2, 9], 9)))).logits as ort.Tensor);
    await s.release();
    expect(maxAbsDiff([padded[0]], alone)).toBeLessThan(1e-5);
  });

  it('dropout: training=false is the inference graph; training=true drops ~ratio of values with fresh masks', async () => {
    const plain = build(cfg, 'float32');
    const drop = build(cfg, 'float32', { ratio: 0.1 });
    const sites = drop.out.dropouts;
    // HF's places: embeddings, attention probs, (BERT: attention output), FFN output, classifier input
    expect(sites.length).toBe(arch === 'bert' ? 2 + 3 * cfg.layers : 2 + 2 * cfg.layers);
    for (const site of sites) {
      expect(site.mask.dtype).toBe('bool');
      expect(site.mask.shape).toEqual(site.output.shape);
      expect(site.ratio).toBe(0.1);
      drop.g.output(site.mask);
    }
    const b = batch([16, 12, 16, 9], 16);
    const sp = await session(plain.g.toBytes());
    const sd = await session(drop.g.toBytes());
    const ref = rows((await sp.run(plain.feeds(b))).logits as ort.Tensor);
    const off = await sd.run({ ...drop.feeds(b), training: new ort.Tensor('bool', [false], []) });
    expect(maxAbsDiff(rows(off.logits as ort.Tensor), ref)).toBe(0);
    for (const site of sites) expect((off[site.mask.name].data as Uint8Array).every((x) => x === 1)).toBe(true);

    const on = await sd.run({ ...drop.feeds(b), training: new ort.Tensor('bool', [true], []) });
    const on2 = await sd.run({ ...drop.feeds(b), training: new ort.Tensor('bool', [true], []) });
    await Promise.all([sp.release(), sd.release()]);
    expect(maxAbsDiff(rows(on.logits as ort.Tensor), ref)).toBeGreaterThan(1e-4);
    let dropped = 0, total = 0, differ = 0;
    for (const site of sites) {
      const m = on[site.mask.name].data as Uint8Array, m2 = on2[site.mask.name].data as Uint8Array;
      for (let i = 0; i < m.length; i++) {
        dropped += m[i] ? 0 : 1;
        differ += m[i] !== m2[i] ? 1 : 0;
      }
      total += m.length;
    }
    const frac = dropped / total;
    console.log(`models/classifier: ${arch} dropout 0.1: ${(100 * frac).toFixed(2)}% of ${total} mask entries false`);
    expect(total).toBeGreaterThan(10_000);
    expect(frac).toBeGreaterThan(0.085); // ~6 sigma either side
    expect(frac).toBeLessThan(0.115);
    expect(differ).toBeGreaterThan(0); // a fresh mask each run
  });

  it('dropout without a ratio uses the config rate at each site', () => {
    const { out } = build(cfg, 'float32', {});
    const rates = out.dropouts.map((s) => s.ratio);
    expect(rates[rates.length - 1]).toBe(cfg.classifierDropout);
    expect(rates[0]).toBe(cfg.hiddenDropout);
    expect(rates).toContain(cfg.attentionDropout);
  });

  it('exported model (weights as initializers) runs in a fresh session for two (B, T)', async () => {
    const w = spreadWeights(cfg, 3);
    const variants = cfg.arch === 'bert' ? [true, false] : [false];
    for (const withTypes of variants) {
      const g = new Graph('export');
      const logits = buildInferenceGraph(g, cfg, w, { tokenTypeIds: withTypes });
      expect(logits.name).toBe('logits');
      expect(g.inputs.map((v) => v.name)).toEqual(['input_ids', 'attention_mask', ...(withTypes ? ['token_type_ids'] : [])]);
      for (const v of g.inputs) expect(v.shape).toEqual(['batch', 'seq']);
      expect(g.outputs.map((v) => [v.name, v.shape])).toEqual([['logits', ['batch', cfg.numLabels]]]);
      expect(g.initializers.has(parameterSpecs(cfg)[0].name)).toBe(true);

      const ref = build(cfg, 'float32');
      const sr = await session(ref.g.toBytes());
      const s = await session(g.toBytes());
      for (const [lens, T] of [[[6, 2], 6], [[3, 3, 1, 2, 3], 3]] as [number[], number][]) {
        const b = batch(lens, T, T);
        const feeds: Feed = { input_ids: int64(b.ids), attention_mask: int64(b.mask) };
        // without token_type_ids the graph uses type 0 everywhere: compare with zeros
        const zeroTypes = { ...b, types: b.types.map((r) => r.map(() => 0)) };
        if (withTypes) feeds.token_type_ids = int64(b.types);
        const got = (await s.run(feeds)).logits as ort.Tensor;
        expect(got.dims).toEqual([lens.length, cfg.numLabels]);
        const want = rows((await sr.run(ref.feeds(withTypes ? b : zeroTypes))).logits as ort.Tensor);
        expect(maxAbsDiff(rows(got), want)).toBeLessThan(1e-6);
      }
      await Promise.all([s.release(), sr.release()]);
    }
  });
});

describe('buildClassifier checks its inputs', () => {
  it('refuses token_type_ids for DistilBERT, missing or mistyped parameters', () => {
    const g = new Graph('x');
    const params = paramInputs(g, parameterSpecs(tinyDistil));
    const inputs = classifierInputs(g, tinyDistil);
    const tt = g.input('token_type_ids', 'int64', ['batch', 'seq']);
    expect(() => buildClassifier(g, tinyDistil, { ...inputs, tokenTypeIds: tt, params })).toThrow(/DistilBERT takes no token_type_ids/);
    const partial = new Map([...params].slice(1));
    expect(() => buildClassifier(g, tinyDistil, { ...inputs, params: partial })).toThrow(/parameters missing: distilbert\.embeddings\.word_embeddings\.weight/);
    expect(() => buildClassifier(g, tinyDistil, { ...inputs, params, dtype: 'float64' })).toThrow(/is float32 .*expected float64/);
    expect(() => buildClassifier(g, tinyDistil, { ...inputs, params, dtype: 'int64' })).toThrow(/float32 or float64/);
    const g2 = new Graph('y');
    const p2 = paramInputs(g2, parameterSpecs(tinyBert));
    const in2 = classifierInputs(g2, tinyBert);
    const training = g2.constant(tensor('float32', [], [1]));
    expect(() => buildClassifier(g2, tinyBert, { ...in2, params: p2, dropout: { training } })).toThrow(/bool scalar/);
  });
});

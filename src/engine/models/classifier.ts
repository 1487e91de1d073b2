// The forward graphs of Hugging Face's BertForSequenceClassification and
// DistilBertForSequenceClassification (eager attention path), written into a Graph.
// Value names follow the Hugging Face module names (bert/encoder/layer.0/attention/self/...);
// parameters keep their exact state_dict keys. Shapes in comments: B batch, T sequence,
// H hidden, nh heads, hd head size, I intermediate, C labels.
import { tensor, type Graph, type Value } from '../onnx/graph';
import type { DType } from '../onnx/proto';
import type { BertConfig, DistilBertConfig, ModelConfig } from './config';
import { activation, dropout, layerNorm, linear, type DropoutOptions, type DropoutSite, type FloatDType } from './layers';
import { parameterSpecs, type ParamSpec } from './params';

export type { DropoutOptions, DropoutSite, FloatDType };

export interface ClassifierInputs {
  /** (B, T) int64 */
  inputIds: Value;
  /** (B, T) int64, 1 for tokens and 0 for padding */
  attentionMask: Value;
  /** (B, T) int64, BERT only; omitted: all zeros (Hugging Face's default). DistilBERT has none. */
  tokenTypeIds?: Value | null;
}

export interface ClassifierOptions extends ClassifierInputs {
  /** One Value per parameter, keyed by its Hugging Face name (see paramInputs / paramInitializers). */
  params: Map<string, Value>;
  /** Element type of the computation, float32 or float64; default: that of the parameters. */
  dtype?: DType;
  /** Dropout at Hugging Face's places; null / absent: no Dropout nodes (inference). */
  dropout?: DropoutOptions | null;
}

export interface ClassifierOutput {
  /** (B, C) */
  logits: Value;
  params: Map<string, Value>;
  /** The Dropout nodes, in graph order (empty without dropout). */
  dropouts: DropoutSite[];
}

/** Adds the classifier's forward pass to `g`. */
export function buildClassifier(g: Graph, cfg: ModelConfig, opts: ClassifierOptions): ClassifierOutput {
  const specs = parameterSpecs(cfg);
  const missing = specs.filter((s) => !opts.params.has(s.name)).map((s) => s.name);
  if (missing.length) {
    throw new Error(`buildClassifier: ${missing.length} ${cfg.arch} parameters missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
  }
  const dtype = floatDType(opts.dtype ?? opts.params.get(specs[0].name)!.dtype, 'buildClassifier');
  checkParams(specs, opts.params, dtype);
  for (const [k, v] of [['input_ids', opts.inputIds], ['attention_mask', opts.attentionMask], ['token_type_ids', opts.tokenTypeIds]] as const) {
    if (v && (v.dtype !== 'int64' || v.shape.length !== 2)) throw new Error(`buildClassifier: ${k} must be (B, T) int64, got ${v.dtype} [${v.shape}]`);
  }
  const b: Body = {
    g,
    P: (name) => opts.params.get(name)!,
    dtype,
    sites: [],
    drop: () => (x) => x,
  };
  if (opts.dropout) {
    const { training, ratio } = opts.dropout;
    if (training.dtype !== 'bool' || training.shape.length !== 0) throw new Error('buildClassifier: dropout.training must be a bool scalar');
    if (ratio !== undefined && !(ratio >= 0 && ratio < 1)) throw new Error(`buildClassifier: dropout ratio must be in [0, 1), got ${ratio}`);
    b.drop = (rate) => (x) => dropout(g, x, ratio ?? rate, training, b.sites);
  }
  let logits: Value;
  if (cfg.arch === 'bert') {
    logits = bert(b, cfg, opts);
  } else {
    if (opts.tokenTypeIds) {
      throw new Error('buildClassifier: DistilBERT takes no token_type_ids (feed the graph only input_ids and attention_mask)');
    }
    logits = distilbert(b, cfg, opts);
  }
  return { logits, params: opts.params, dropouts: b.sites };
}

interface Body {
  g: Graph;
  /** A parameter by its Hugging Face name. */
  P: (name: string) => Value;
  dtype: FloatDType;
  sites: DropoutSite[];
  /** A dropout function for a site whose configured rate is `rate` (identity without dropout). */
  drop: (rate: number) => (x: Value) => Value;
}

const lin = (b: Body, x: Value, name: string) => b.g.scope(name.split('.').pop()!, () => linear(b.g, x, b.P(`${name}.weight`), b.P(`${name}.bias`)));
const norm = (b: Body, x: Value, name: string, eps: number) => b.g.scope(name.split('.').pop()!, () => layerNorm(b.g, x, b.P(`${name}.weight`), b.P(`${name}.bias`), eps));

/**
 * Position ids 0..T-1 for a (B, T) input: a slice of a constant range, so T may be dynamic.
 * T must not exceed max_position_embeddings (as in HF); callers truncate to cfg.maxPositions.
 */
function positionIds(g: Graph, inputIds: Value, maxPositions: number): Value {
  const range = g.constant(tensor('int64', [maxPositions], Array.from({ length: maxPositions }, (_, i) => i)), 'position_range'); // (P,)
  const shape = g.op1('Shape', [inputIds]); // (2,) = [B, T]
  const seqLen = g.op1('Slice', [shape, g.ints([1]), g.ints([2])]); // (1,) = [T]
  return g.op1('Slice', [range, g.ints([0]), seqLen, g.ints([0])], {}, g.fresh('position_ids')); // (T,)
}

/** (B, T, H) -> (B, nh, T, hd) */
function splitHeads(g: Graph, x: Value, heads: number, headDim: number): Value {
  const x4 = g.reshape(x, [0, 0, heads, headDim]); // (B, T, nh, hd)
  return g.transpose(x4, [0, 2, 1, 3]); // (B, nh, T, hd)
}

/** (B, nh, T, hd) -> (B, T, H) */
function mergeHeads(g: Graph, x: Value, hidden: number): Value {
  const t = g.transpose(x, [0, 2, 1, 3]); // (B, T, nh, hd)
  return g.reshape(t, [0, 0, hidden]); // (B, T, H)
}

/** softmax(scores) @ v with dropout on the probabilities: (B, nh, T, T), (B, nh, T, hd) -> (B, T, H) */
function attend(b: Body, scores: Value, v: Value, cfg: ModelConfig): Value {
  const g = b.g;
  const probs = g.op1('Softmax', [scores], { axis: -1 }, g.fresh('probs')); // (B, nh, T, T)
  const dropped = b.drop(cfg.attentionDropout)(probs); // (B, nh, T, T)
  const ctx = g.matmul(dropped, v); // (B, nh, T, hd)
  return mergeHeads(g, ctx, cfg.hidden); // (B, T, H)
}

/** The hidden state of the first ([CLS]) token: (B, T, H) -> (B, H) */
function firstToken(g: Graph, h: Value): Value {
  return g.op1('Gather', [h, g.constant(tensor('int64', [], [0]), 'cls_index')], { axis: 1 }, g.fresh('cls')); // (B, H)
}

// --- BERT ---------------------------------------------------------------------------

function bert(b: Body, cfg: BertConfig, inp: ClassifierInputs): Value {
  const { g, P } = b;
  const hiddenDrop = b.drop(cfg.hiddenDropout);
  const seq = g.scope('bert', () => {
    const x = g.scope('embeddings', () => {
      const words = g.op1('Gather', [P('bert.embeddings.word_embeddings.weight'), inp.inputIds], {}, g.fresh('word_embeddings')); // (B, T, H)
      const types = inp.tokenTypeIds
        ? g.op1('Gather', [P('bert.embeddings.token_type_embeddings.weight'), inp.tokenTypeIds], {}, g.fresh('token_type_embeddings')) // (B, T, H)
        : g.op1('Gather', [P('bert.embeddings.token_type_embeddings.weight'), g.constant(tensor('int64', [], [0]), 'type_0')], {},
          g.fresh('token_type_embeddings')); // (H,): type 0 everywhere
      const pos = g.op1('Gather', [P('bert.embeddings.position_embeddings.weight'), positionIds(g, inp.inputIds, cfg.maxPositions)], {},
        g.fresh('position_embeddings')); // (T, H)
      const sum = g.plus(g.plus(words, types), pos); // (B, T, H)
      return hiddenDrop(norm(b, sum, 'bert.embeddings.LayerNorm', cfg.layerNormEps)); // (B, T, H)
    });
    // Additive mask: (1 - mask) * finfo.min, broadcast over heads and query positions.
    const extMask = g.scope('extended_attention_mask', () => {
      const m = g.cast(g.unsqueeze(inp.attentionMask, [1, 2]), b.dtype); // (B, 1, 1, T)
      return g.times(g.minus(g.lit(1, m), m), g.lit(finfoMin(b.dtype), m)); // (B, 1, 1, T)
    });
    return g.scope('encoder', () => {
      let h = x; // (B, T, H)
      for (let i = 0; i < cfg.layers; i++) h = g.scope(`layer.${i}`, () => bertLayer(b, cfg, h, extMask, `bert.encoder.layer.${i}`));
      return h; // (B, T, H)
    });
  });
  const pooled = g.scope('bert', () => g.scope('pooler', () => {
    const cls = firstToken(g, seq); // (B, H)
    return g.op1('Tanh', [lin(b, cls, 'bert.pooler.dense')]); // (B, H)
  }));
  return g.scope('classifier', () => {
    const x = b.drop(cfg.classifierDropout)(pooled); // (B, H)
    return linear(g, x, P('classifier.weight'), P('classifier.bias')); // (B, C)
  });
}

function bertLayer(b: Body, cfg: BertConfig, x: Value, extMask: Value, prefix: string): Value {
  const g = b.g;
  const hiddenDrop = b.drop(cfg.hiddenDropout);
  const a = g.scope('attention', () => {
    const ctx = g.scope('self', () => {
      const q = splitHeads(g, lin(b, x, `${prefix}.attention.self.query`), cfg.heads, cfg.headDim); // (B, nh, T, hd)
      const kT = g.transpose(g.reshape(lin(b, x, `${prefix}.attention.self.key`), [0, 0, cfg.heads, cfg.headDim]), [0, 2, 3, 1]); // (B, nh, hd, T)
      const v = splitHeads(g, lin(b, x, `${prefix}.attention.self.value`), cfg.heads, cfg.headDim); // (B, nh, T, hd)
      const scores = g.over(g.matmul(q, kT), g.lit(Math.sqrt(cfg.headDim), q)); // (B, nh, T, T)
      const masked = g.plus(scores, extMask); // (B, nh, T, T)
      return attend(b, masked, v, cfg); // (B, T, H)
    });
    return g.scope('output', () => {
      const y = hiddenDrop(lin(b, ctx, `${prefix}.attention.output.dense`)); // (B, T, H)
      return norm(b, g.plus(y, x), `${prefix}.attention.output.LayerNorm`, cfg.layerNormEps); // (B, T, H)
    });
  });
  const inter = g.scope('intermediate', () => activation(g, lin(b, a, `${prefix}.intermediate.dense`), cfg.hiddenAct)); // (B, T, I)
  return g.scope('output', () => {
    const y = hiddenDrop(lin(b, inter, `${prefix}.output.dense`)); // (B, T, H)
    return norm(b, g.plus(y, a), `${prefix}.output.LayerNorm`, cfg.layerNormEps); // (B, T, H)
  });
}

// --- DistilBERT -----------------------------------------------------------------------

function distilbert(b: Body, cfg: DistilBertConfig, inp: ClassifierInputs): Value {
  const { g, P } = b;
  const seq = g.scope('distilbert', () => {
    const x = g.scope('embeddings', () => {
      const words = g.op1('Gather', [P('distilbert.embeddings.word_embeddings.weight'), inp.inputIds], {}, g.fresh('word_embeddings')); // (B, T, H)
      const pos = g.op1('Gather', [P('distilbert.embeddings.position_embeddings.weight'), positionIds(g, inp.inputIds, cfg.maxPositions)], {},
        g.fresh('position_embeddings')); // (T, H)
      const sum = g.plus(words, pos); // (B, T, H)
      return b.drop(cfg.hiddenDropout)(norm(b, sum, 'distilbert.embeddings.LayerNorm', cfg.layerNormEps)); // (B, T, H)
    });
    // masked_fill(mask == 0, finfo.min): true where a key position is padding.
    const padding = g.scope('mask', () =>
      g.unsqueeze(g.op1('Equal', [inp.attentionMask, g.scalar(0, 'int64')]), [1, 2])); // (B, 1, 1, T) bool
    return g.scope('transformer', () => {
      let h = x; // (B, T, H)
      for (let i = 0; i < cfg.layers; i++) {
        h = g.scope(`layer.${i}`, () => distilLayer(b, cfg, h, padding, `distilbert.transformer.layer.${i}`));
      }
      return h; // (B, T, H)
    });
  });
  const cls = g.scope('distilbert', () => firstToken(g, seq)); // (B, H)
  const pre = g.scope('pre_classifier', () => g.op1('Relu', [linear(g, cls, P('pre_classifier.weight'), P('pre_classifier.bias'))])); // (B, H)
  return g.scope('classifier', () => {
    const x = b.drop(cfg.classifierDropout)(pre); // (B, H)
    return linear(g, x, P('classifier.weight'), P('classifier.bias')); // (B, C)
  });
}

function distilLayer(b: Body, cfg: DistilBertConfig, x: Value, padding: Value, prefix: string): Value {
  const g = b.g;
  const attn = g.scope('attention', () => {
    // q is scaled by 1/sqrt(hd) before q @ k^T, as in Hugging Face's DistilBERT.
    const q = g.over(splitHeads(g, lin(b, x, `${prefix}.attention.q_lin`), cfg.heads, cfg.headDim), g.lit(Math.sqrt(cfg.headDim), x)); // (B, nh, T, hd)
    const kT = g.transpose(g.reshape(lin(b, x, `${prefix}.attention.k_lin`), [0, 0, cfg.heads, cfg.headDim]), [0, 2, 3, 1]); // (B, nh, hd, T)
    const v = splitHeads(g, lin(b, x, `${prefix}.attention.v_lin`), cfg.heads, cfg.headDim); // (B, nh, T, hd)
    const scores = g.matmul(q, kT); // (B, nh, T, T)
    const masked = g.op1('Where', [padding, g.lit(finfoMin(b.dtype), scores), scores]); // (B, nh, T, T)
    return lin(b, attend(b, masked, v, cfg), `${prefix}.attention.out_lin`); // (B, T, H)
  });
  const sa = norm(b, g.plus(attn, x), `${prefix}.sa_layer_norm`, cfg.layerNormEps); // (B, T, H)
  const ffn = g.scope('ffn', () => {
    const h = activation(g, lin(b, sa, `${prefix}.ffn.lin1`), cfg.hiddenAct); // (B, T, I)
    return b.drop(cfg.hiddenDropout)(lin(b, h, `${prefix}.ffn.lin2`)); // (B, T, H)
  });
  return norm(b, g.plus(ffn, sa), `${prefix}.output_layer_norm`, cfg.layerNormEps); // (B, T, H)
}

function floatDType(d: DType | undefined, who: string): FloatDType {
  if (d !== 'float32' && d !== 'float64') throw new Error(`${who}: dtype must be float32 or float64, got ${d}`);
  return d;
}

/** torch.finfo(dtype).min, the value Hugging Face fills masked scores with. */
export function finfoMin(dtype: FloatDType): number {
  return dtype === 'float32' ? -3.4028234663852886e38 : -Number.MAX_VALUE;
}

function checkParams(specs: ParamSpec[], params: Map<string, Value>, dtype: FloatDType) {
  for (const s of specs) {
    const v = params.get(s.name)!;
    if (v.dtype !== dtype || v.shape.length !== s.shape.length || v.shape.some((d, i) => d !== s.shape[i])) {
      throw new Error(`buildClassifier: parameter ${s.name} is ${v.dtype} [${v.shape}], expected ${dtype} [${s.shape}]`);
    }
  }
}

// --- parameters as graph inputs or initializers --------------------------------------

/** Declares every parameter as a graph input named by its Hugging Face key (training graphs). */
export function paramInputs(g: Graph, specs: ParamSpec[], dtype: DType = 'float32'): Map<string, Value> {
  floatDType(dtype, 'paramInputs');
  return new Map(specs.map((s) => [s.name, g.input(s.name, dtype, s.shape)]));
}

/** Stores every parameter in the model as an initializer named by its Hugging Face key (exported models). */
export function paramInitializers(
  g: Graph,
  specs: ParamSpec[],
  weights: Map<string, Float32Array | Float64Array>,
  dtype: DType = 'float32',
): Map<string, Value> {
  floatDType(dtype, 'paramInitializers');
  const out = new Map<string, Value>();
  for (const s of specs) {
    const w = weights.get(s.name);
    const n = s.shape.reduce((a, c) => a * c, 1);
    if (!w) throw new Error(`paramInitializers: no weights for ${s.name}`);
    if (w.length !== n) throw new Error(`paramInitializers: ${s.name} has ${w.length} values, expected [${s.shape}] = ${n}`);
    const data = dtype === 'float32' ? (w instanceof Float32Array ? w : Float32Array.from(w)) : w instanceof Float64Array ? w : Float64Array.from(w);
    out.set(s.name, g.initializer(s.name, { dtype, dims: [...s.shape], data }));
  }
  return out;
}

/** Declares the classifier's int64 (B, T) inputs: input_ids, attention_mask and, for BERT when asked, token_type_ids. */
export function classifierInputs(
  g: Graph,
  cfg: ModelConfig,
  opts: { tokenTypeIds?: boolean; batch?: string | number; seq?: string | number } = {},
): Required<ClassifierInputs> {
  const shape = [opts.batch ?? 'batch', opts.seq ?? 'seq'];
  return {
    inputIds: g.input('input_ids', 'int64', shape),
    attentionMask: g.input('attention_mask', 'int64', shape),
    tokenTypeIds: cfg.arch === 'bert' && (opts.tokenTypeIds ?? true) ? g.input('token_type_ids', 'int64', shape) : null,
  };
}

/**
 * A self-contained inference model (weights as initializers), like an Optimum export:
 * inputs input_ids, attention_mask (and token_type_ids for BERT unless `tokenTypeIds: false`),
 * all (batch, seq) int64; output `logits` (batch, C).
 */
export function buildInferenceGraph(
  g: Graph,
  cfg: ModelConfig,
  weights: Map<string, Float32Array | Float64Array>,
  opts: { tokenTypeIds?: boolean; dtype?: DType } = {},
): Value {
  const params = paramInitializers(g, parameterSpecs(cfg), weights, opts.dtype ?? 'float32');
  const inputs = classifierInputs(g, cfg, { tokenTypeIds: opts.tokenTypeIds });
  const { logits } = buildClassifier(g, cfg, { ...inputs, params });
  return g.output(logits, 'logits');
}

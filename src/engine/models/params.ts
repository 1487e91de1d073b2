// The parameters of a sequence classifier, named exactly as in Hugging Face state_dicts
// (so weights load from and save to model.safetensors / pytorch_model.bin unchanged), in
// the order the modules create them, plus Hugging Face's random initialisation.
import type { BertConfig, DistilBertConfig, ModelConfig } from './config';

/** How a parameter is used; decides its initialisation and weight decay. */
export type ParamRole = 'embedding' | 'weight' | 'bias' | 'norm_weight' | 'norm_bias';

export interface ParamSpec {
  /** The Hugging Face state_dict key, e.g. `bert.encoder.layer.0.attention.self.query.weight`. */
  name: string;
  /** As in torch: Linear weights are [out, in]. */
  shape: number[];
  /** Hugging Face Trainer grouping: no weight decay on biases and LayerNorm parameters. */
  decay: boolean;
  role: ParamRole;
}

function spec(name: string, shape: number[], role: ParamRole): ParamSpec {
  return { name, shape, role, decay: role === 'embedding' || role === 'weight' };
}
const linear = (name: string, out: number, inp: number): ParamSpec[] => [
  spec(`${name}.weight`, [out, inp], 'weight'),
  spec(`${name}.bias`, [out], 'bias'),
];
const norm = (name: string, n: number): ParamSpec[] => [
  spec(`${name}.weight`, [n], 'norm_weight'),
  spec(`${name}.bias`, [n], 'norm_bias'),
];

/** Every parameter of the classifier, in Hugging Face state_dict order. */
export function parameterSpecs(cfg: ModelConfig): ParamSpec[] {
  return cfg.arch === 'bert' ? bertSpecs(cfg) : distilbertSpecs(cfg);
}

function bertSpecs(c: BertConfig): ParamSpec[] {
  const H = c.hidden;
  const out: ParamSpec[] = [
    spec('bert.embeddings.word_embeddings.weight', [c.vocabSize, H], 'embedding'),
    spec('bert.embeddings.position_embeddings.weight', [c.maxPositions, H], 'embedding'),
    spec('bert.embeddings.token_type_embeddings.weight', [c.typeVocabSize, H], 'embedding'),
    ...norm('bert.embeddings.LayerNorm', H),
  ];
  for (let i = 0; i < c.layers; i++) {
    const l = `bert.encoder.layer.${i}`;
    out.push(
      ...linear(`${l}.attention.self.query`, H, H),
      ...linear(`${l}.attention.self.key`, H, H),
      ...linear(`${l}.attention.self.value`, H, H),
      ...linear(`${l}.attention.output.dense`, H, H),
      ...norm(`${l}.attention.output.LayerNorm`, H),
      ...linear(`${l}.intermediate.dense`, c.intermediate, H),
      ...linear(`${l}.output.dense`, H, c.intermediate),
      ...norm(`${l}.output.LayerNorm`, H),
    );
  }
  out.push(...linear('bert.pooler.dense', H, H), ...linear('classifier', c.numLabels, H));
  return out;
}

function distilbertSpecs(c: DistilBertConfig): ParamSpec[] {
  const H = c.hidden;
  const out: ParamSpec[] = [
    spec('distilbert.embeddings.word_embeddings.weight', [c.vocabSize, H], 'embedding'),
    spec('distilbert.embeddings.position_embeddings.weight', [c.maxPositions, H], 'embedding'),
    ...norm('distilbert.embeddings.LayerNorm', H),
  ];
  for (let i = 0; i < c.layers; i++) {
    const l = `distilbert.transformer.layer.${i}`;
    out.push(
      ...linear(`${l}.attention.q_lin`, H, H),
      ...linear(`${l}.attention.k_lin`, H, H),
      ...linear(`${l}.attention.v_lin`, H, H),
      ...linear(`${l}.attention.out_lin`, H, H),
      ...norm(`${l}.sa_layer_norm`, H),
      ...linear(`${l}.ffn.lin1`, c.intermediate, H),
      ...linear(`${l}.ffn.lin2`, H, c.intermediate),
      ...norm(`${l}.output_layer_norm`, H),
    );
  }
  out.push(...linear('pre_classifier', H, H), ...linear('classifier', c.numLabels, H));
  return out;
}

/** The number of scalars in all parameters. */
export function parameterCount(specs: ParamSpec[]): number {
  return specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Seeded random weights with Hugging Face's `_init_weights`: Linear and Embedding weights
 * ~ N(0, initializer_range), biases 0, LayerNorm weight 1 and bias 0, the padding row of
 * word_embeddings 0. Deterministic for a given (config, seed); not bitwise equal to torch's.
 */
export function initParams(cfg: ModelConfig, seed: number, opts: { std?: number } = {}): Map<string, Float32Array> {
  const std = opts.std ?? cfg.initializerRange;
  const rng = new NormalRng(seed);
  const out = new Map<string, Float32Array>();
  for (const s of parameterSpecs(cfg)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const w = new Float32Array(n);
    switch (s.role) {
      case 'embedding':
      case 'weight':
        for (let i = 0; i < n; i++) w[i] = std * rng.next();
        break;
      case 'norm_weight':
        w.fill(1);
        break;
      case 'bias':
      case 'norm_bias':
        break;
    }
    if (s.name.endsWith('.word_embeddings.weight') && cfg.padTokenId < s.shape[0]) {
      const H = s.shape[1];
      w.fill(0, cfg.padTokenId * H, (cfg.padTokenId + 1) * H);
    }
    out.set(s.name, w);
  }
  return out;
}

/** Standard normal numbers from a seeded xoshiro128** generator (Box–Muller). */
export class NormalRng {
  private s = new Uint32Array(4);
  private spare: number | null = null;

  constructor(seed: number) {
    // splitmix32 to spread the seed over the state
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r / 4294967296;
  }

  /** Standard normal. */
  next(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
